using System.Globalization;
using System.Reflection;

namespace Espnet.Compiled.Zoo;

public enum ModelFamily
{
    /// <summary>ESPNet-C: encoder + 1x1 classifier, logits at 1/8 resolution.</summary>
    EspNetC,
    /// <summary>ESPNet: encoder + decoder, logits at full resolution.</summary>
    EspNet,
    /// <summary>ESPNetv2 image classifier (EESPNet): 1000 ImageNet logits.</summary>
    EspNetV2,
    /// <summary>ESPNetv2 segmentation: the EESPNet base with the EdgeNets or the older PSP head (<see cref="ModelRequest.Head"/>).</summary>
    EspNetV2Segmentation,
}

/// <summary>The dataset an ESPNetv2 EdgeNets segmentation name carries; it sets the default class count and size only.</summary>
public enum SegmentationDataset
{
    /// <summary>Cityscapes ('city'): 20 classes, 512x1024.</summary>
    City,
    /// <summary>PASCAL VOC ('pascal'): 21 classes, 384x384.</summary>
    Pascal,
}

/// <summary>A model as a user names it on the command line, with every size and option resolved.</summary>
/// <remarks>P, Q and Skip are ESPNet's (0 and Level1 for ESPNetv2); Scale, Head and Dataset are ESPNetv2's.</remarks>
public sealed record ModelRequest(ModelFamily Family, int P, int Q, int Classes, EspNetDecoderSkip Skip, int Height, int Width)
{
    /// <summary>ESPNetv2's width multiplier (0 for ESPNet).</summary>
    public double Scale { get; init; }

    /// <summary>The segmentation head of <see cref="ModelFamily.EspNetV2Segmentation"/>.</summary>
    public EspNetV2Head Head { get; init; }

    /// <summary>The dataset of an EdgeNets segmentation name (city or pascal).</summary>
    public SegmentationDataset Dataset { get; init; }

    /// <summary>Samples per call, fixed at compile time (training batches; 1 for inference).</summary>
    public int Batch { get; init; } = 1;

    /// <summary>The canonical model name (without --classes, which the name does not carry).</summary>
    public string Name => Family switch
    {
        ModelFamily.EspNetC => $"espnet-c-p{P}-q{Q}",
        ModelFamily.EspNet => IsCamVid ? $"espnet-p{P}-q{Q}-camvid" : $"espnet-p{P}-q{Q}",
        ModelFamily.EspNetV2 => $"espnetv2-s{ScaleText}",
        _ when Head == EspNetV2Head.Psp => $"espnetv2-seg-old-s{ScaleText}",
        _ => $"espnetv2-seg-s{ScaleText}-{(Dataset == SegmentationDataset.Pascal ? "pascal" : "city")}",
    };

    /// <summary>The width multiplier as the names spell it: 0.5, 1.0, 1.25, 1.5, 2.0.</summary>
    public string ScaleText => ModelCatalog.FormatScale(Scale);

    public string SizeText => $"{Height}x{Width}";

    /// <summary>Name, size, and the class count where --classes changed it: "espnet-p2-q3 (3 classes) at 64x128".</summary>
    public string Label => (Classes == DefaultClasses ? $"{Name} at {SizeText}" : $"{Name} ({Classes} classes) at {SizeText}") + (Batch == 1 ? "" : $", batch {Batch}");

    /// <summary>The class count the name implies: 12 for CamVid, 20 for Cityscapes, 21 for PASCAL VOC, 1000 for ImageNet.</summary>
    public int DefaultClasses => Family switch
    {
        ModelFamily.EspNetV2 => 1000,
        ModelFamily.EspNetV2Segmentation => Head == EspNetV2Head.EdgeNets && Dataset == SegmentationDataset.Pascal ? 21 : 20,
        _ => IsCamVid ? 12 : 20,
    };

    private bool IsCamVid => Family == ModelFamily.EspNet && Skip == EspNetDecoderSkip.Reinforced;

    public string Description => Family switch
    {
        ModelFamily.EspNetC => $"ESPNet-C (encoder + 1x1 classifier, logits at 1/8 resolution), {Classes} classes",
        ModelFamily.EspNet when IsCamVid => $"ESPNet, CamVid variant (decoder skip from b1, train/Model.py), {Classes} classes",
        ModelFamily.EspNet => $"ESPNet, Cityscapes variant (decoder skip from level1, test/Model.py), {Classes} classes",
        ModelFamily.EspNetV2 => $"ESPNetv2 image classifier (EESPNet, scale {ScaleText}, ImageNet), {Classes} classes",
        _ when Head == EspNetV2Head.Psp =>
            $"ESPNetv2 segmentation, scale {ScaleText}, the ESPNetv2 repo's older EESPNet_Seg head (PSP module), Cityscapes, {Classes} classes",
        _ => $"ESPNetv2 segmentation, scale {ScaleText}, EdgeNets head (EfficientPyrPool decoder), " +
             $"{(Dataset == SegmentationDataset.Pascal ? "PASCAL VOC" : "Cityscapes")}, {Classes} classes",
    };
}

/// <summary>A model name that is not in the grammar; the message lists what is.</summary>
public sealed class ModelNameException(string message) : Exception(message);

/// <summary>
/// The model-name grammar of the `espnet` command (design.md §4), the attribute declaration each name
/// compiles from, and the precompiled zoo classes that serve a request without compiling anything.
/// </summary>
public static class ModelCatalog
{
    /// <summary>The released ESPNetv2 width multipliers, spelled as the names spell them.</summary>
    public static readonly IReadOnlyList<string> ClassifierScales = ["0.5", "1.0", "1.25", "1.5", "2.0"];
    /// <summary>Scales with EdgeNets segmentation weights (1.25 has a base but no released head).</summary>
    public static readonly IReadOnlyList<string> SegmentationScales = ["0.5", "1.0", "1.5", "2.0"];
    /// <summary>Scales of the ESPNetv2 repo's three espnetv2_segmentation_s_*.pth files.</summary>
    public static readonly IReadOnlyList<string> OldSegmentationScales = ["0.5", "1.0", "1.5"];

    private static readonly string ClassifierPattern = $"espnetv2-s{{{string.Join(",", ClassifierScales)}}}";
    private static readonly string SegmentationPattern = $"espnetv2-seg-s{{{string.Join(",", SegmentationScales)}}}-{{city,pascal}}";
    private static readonly string OldSegmentationPattern = $"espnetv2-seg-old-s{{{string.Join(",", OldSegmentationScales)}}}";

    public static readonly IReadOnlyList<string> Patterns =
        ["espnet-c-p{P}-q{Q}", "espnet-p{P}-q{Q}", "espnet-p{P}-q{Q}-camvid", ClassifierPattern, SegmentationPattern, OldSegmentationPattern];

    // Beyond this the generated source grows without purpose; the released models use P = 2, Q <= 8.
    private const int MaxRepeat = 1000;

    // The names are parsed by hand rather than with Regex: the regular-expression engine alone adds ~2 MB to the
    // resident memory of every command (measured), and `espnet bench` reports that memory.

    /// <summary>espnet-[c-]p{P}-q{Q}[-camvid], any case, P and Q of 1 to 9 ASCII digits; null when the name is not of that form.</summary>
    private static (bool C, string P, string Q, bool CamVid)? MatchEspNet(string name)
    {
        if (!name.StartsWith("espnet-", StringComparison.OrdinalIgnoreCase)) return null;
        var rest = name.AsSpan(7);
        bool c = rest.StartsWith("c-", StringComparison.OrdinalIgnoreCase);
        if (c) rest = rest[2..];
        bool camvid = rest.EndsWith("-camvid", StringComparison.OrdinalIgnoreCase);
        if (camvid) rest = rest[..^7];
        if (rest.Length < 1 || char.ToLowerInvariant(rest[0]) != 'p') return null;
        int dash = rest.IndexOf('-');
        if (dash < 0 || dash + 1 >= rest.Length || char.ToLowerInvariant(rest[dash + 1]) != 'q') return null;
        var p = rest[1..dash];
        var q = rest[(dash + 2)..];
        return Digits(p) && Digits(q) ? (c, p.ToString(), q.ToString(), camvid) : null;

        static bool Digits(ReadOnlySpan<char> s) => s.Length is >= 1 and <= 9 && !s.ContainsAnyExceptInRange('0', '9');
    }

    /// <summary>
    /// espnetv2-[seg-[old-]]s{scale}[-{data}], any case; null when it is not of that form. Loose on purpose: a scale or
    /// dataset outside the released ones is refused by the caller with the valid ones listed. 'seg-' and 'old-' are
    /// taken when an 's' follows them, else the letters belong to the scale ("espnetv2-seg-x" has scale "eg").
    /// </summary>
    private static (bool Seg, bool Old, string Scale, string? Data)? MatchEspNetV2(string name)
    {
        if (!name.StartsWith("espnetv2-", StringComparison.OrdinalIgnoreCase) || name.Contains('\n')) return null;
        var rest = name.AsSpan(9);
        foreach (var (seg, old) in new[] { (true, true), (true, false), (false, false) })
        {
            int skip = (seg ? 4 : 0) + (old ? 4 : 0);
            if (seg && !rest.StartsWith("seg-", StringComparison.OrdinalIgnoreCase)) continue;
            if (old && !rest[4..].StartsWith("old-", StringComparison.OrdinalIgnoreCase)) continue;
            var tail = rest[skip..];
            if (tail.Length == 0 || char.ToLowerInvariant(tail[0]) != 's') continue;
            tail = tail[1..];
            int dash = tail.IndexOf('-');
            return dash < 0 ? (seg, old, tail.ToString(), null) : (seg, old, tail[..dash].ToString(), tail[(dash + 1)..].ToString());
        }
        return null;
    }

    private static string ValidNames =>
        "valid names: " + string.Join(", ", Patterns) + " (e.g. espnet-p2-q8 or espnetv2-s1.0; ESPNet's released weights are P = 2 with Q = 3, 5 or 8)";

    /// <summary>The scale as the names spell it: one decimal at least (1.0, 2.0), every digit otherwise (0.5, 1.25).</summary>
    public static string FormatScale(double scale) =>
        scale.ToString(Math.Floor(scale) == scale ? "0.0" : "R", CultureInfo.InvariantCulture);

    /// <summary>Parses a name; null options take the model's published defaults (classes and height x width).</summary>
    public static ModelRequest Parse(string name, int? classes = null, int? height = null, int? width = null)
    {
        string trimmed = name.Trim();
        if (MatchEspNetV2(trimmed) is { } v2)
            return ParseV2(trimmed, v2.Seg, v2.Old, v2.Scale, v2.Data?.ToLowerInvariant(), classes, height, width);
        if (trimmed.StartsWith("espnetv2", StringComparison.OrdinalIgnoreCase))
            throw new ModelNameException($"unknown model '{trimmed}'; {ValidNames}");
        if (MatchEspNet(trimmed) is not { } m || (m.C && m.CamVid))
            throw new ModelNameException($"unknown model '{trimmed}'; {ValidNames}");

        int p = int.Parse(m.P, CultureInfo.InvariantCulture);
        int q = int.Parse(m.Q, CultureInfo.InvariantCulture);
        if (p > MaxRepeat || q > MaxRepeat)
            throw new ModelNameException($"model '{trimmed}': P and Q above {MaxRepeat} are not supported");

        bool camvid = m.CamVid;
        var family = m.C ? ModelFamily.EspNetC : ModelFamily.EspNet;
        return new ModelRequest(family, p, q,
            Classes: classes ?? (camvid ? 12 : 20),
            Skip: camvid ? EspNetDecoderSkip.Reinforced : EspNetDecoderSkip.Level1,
            Height: height ?? (camvid ? 360 : 512),
            Width: width ?? (camvid ? 480 : 1024));
    }

    private static ModelRequest ParseV2(string name, bool seg, bool old, string scaleText, string? data, int? classes, int? height, int? width)
    {
        var (pattern, scales) = !seg ? (ClassifierPattern, ClassifierScales)
            : old ? (OldSegmentationPattern, OldSegmentationScales)
            : (SegmentationPattern, SegmentationScales);

        // The dataset first: 'espnetv2-s1.0-city' is a classifier name with a stray suffix, whatever its scale.
        SegmentationDataset dataset = SegmentationDataset.City;
        if (seg && !old)
        {
            dataset = data switch
            {
                "city" => SegmentationDataset.City,
                "pascal" => SegmentationDataset.Pascal,
                null => throw new ModelNameException(
                    $"model '{name}' needs its dataset: espnetv2-seg-s{scaleText}-city (Cityscapes, 20 classes) or espnetv2-seg-s{scaleText}-pascal (PASCAL VOC, 21 classes)"),
                _ => throw new ModelNameException($"model '{name}': unknown dataset '{data}'; {pattern} takes city or pascal"),
            };
        }
        else if (data is not null)
        {
            string hint = !seg && data is "city" or "pascal" ? $" (the segmentation model is espnetv2-seg-s{scaleText}-{data})"
                : old ? " (the older head is Cityscapes only)" : "";
            throw new ModelNameException($"unknown model '{name}': {pattern} takes no '-{data}' suffix{hint}");
        }

        if (!scales.Contains(scaleText, StringComparer.Ordinal))
        {
            string why = seg && !old && scaleText == "1.25" ? " (1.25 has a classifier but no released segmentation head)"
                : old && SegmentationScales.Contains(scaleText) ? " (the ESPNetv2 repo released 0.5, 1.0 and 1.5 only; for 2.0 use the EdgeNets head, espnetv2-seg-s2.0-city)"
                : "";
            throw new ModelNameException($"model '{name}': scale '{scaleText}' is not one of {pattern}; valid scales: {string.Join(", ", scales)}{why}");
        }
        double scale = double.Parse(scaleText, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture);

        if (!seg)
            return new ModelRequest(ModelFamily.EspNetV2, 0, 0, classes ?? 1000, EspNetDecoderSkip.Level1, height ?? 224, width ?? 224) { Scale = scale };
        bool pascal = dataset == SegmentationDataset.Pascal;
        return new ModelRequest(ModelFamily.EspNetV2Segmentation, 0, 0,
            Classes: classes ?? (pascal ? 21 : 20),
            Skip: EspNetDecoderSkip.Level1,
            Height: height ?? (pascal ? 384 : 512),
            Width: width ?? (pascal ? 384 : 1024))
        {
            Scale = scale,
            Head = old ? EspNetV2Head.Psp : EspNetV2Head.EdgeNets,
            Dataset = dataset,
        };
    }

    /// <summary>The attribute that declares the request, fully qualified so it compiles in any namespace.</summary>
    public static string Declaration(ModelRequest r) => r.Batch == 1 ? Attribute(r) : Attribute(r)[..^2] + $", Batch = {r.Batch})]";

    private static string Attribute(ModelRequest r) => r.Family switch
    {
        ModelFamily.EspNetC =>
            $"[global::Espnet.Compiled.EspNetC(Classes = {r.Classes}, P = {r.P}, Q = {r.Q}, Height = {r.Height}, Width = {r.Width})]",
        ModelFamily.EspNet =>
            $"[global::Espnet.Compiled.EspNet(Classes = {r.Classes}, P = {r.P}, Q = {r.Q}, Height = {r.Height}, Width = {r.Width}, " +
            $"Skip = global::Espnet.Compiled.EspNetDecoderSkip.{r.Skip})]",
        ModelFamily.EspNetV2 =>
            $"[global::Espnet.Compiled.EspNetV2(Scale = {r.ScaleText}, Classes = {r.Classes}, Height = {r.Height}, Width = {r.Width})]",
        _ =>
            $"[global::Espnet.Compiled.EspNetV2Segmentation(Scale = {r.ScaleText}, Classes = {r.Classes}, Height = {r.Height}, Width = {r.Width}, " +
            $"Head = global::Espnet.Compiled.EspNetV2Head.{r.Head})]",
    };

    /// <summary>A readable class name for a compiled request (it also names the model in weight-loading errors).</summary>
    /// <remarks>It depends on the declaration only (never on city/pascal), so one network is compiled and cached once.</remarks>
    public static string ClassName(ModelRequest r)
    {
        static string Size(int v) => v < 0 ? "Minus" + -(long)v : v.ToString(CultureInfo.InvariantCulture); // stays an identifier
        string scale = r.ScaleText.Replace(".", "", StringComparison.Ordinal); // 1.25 -> S125, as the zoo spells it
        string model = r.Family switch
        {
            ModelFamily.EspNetC => $"EspNetCP{r.P}Q{r.Q}",
            ModelFamily.EspNet => $"EspNetP{r.P}Q{r.Q}" + (r.Skip == EspNetDecoderSkip.Reinforced ? "CamVid" : ""),
            ModelFamily.EspNetV2 => $"EspNetV2S{scale}",
            _ => $"EspNetV2Seg{(r.Head == EspNetV2Head.Psp ? "Old" : "")}S{scale}",
        };
        return $"{model}C{Size(r.Classes)}At{Size(r.Height)}x{Size(r.Width)}" + (r.Batch == 1 ? "" : $"B{Size(r.Batch)}");
    }

    /// <summary>A new instance of the zoo class declared exactly as requested, or null when none is.</summary>
    public static ICompiledNetwork? CreatePrecompiled(ModelRequest request) =>
        PrecompiledType(request) is { } type ? (ICompiledNetwork)Activator.CreateInstance(type)! : null;

    /// <summary>The zoo class that serves a request, or null.</summary>
    /// <remarks>Matched on the declaration, not the name: espnetv2-seg-s2.0-city with --classes 21 at 384x384 is the
    /// same network as espnetv2-seg-s2.0-pascal.</remarks>
    public static Type? PrecompiledType(ModelRequest request) => s_precompiled.Value.GetValueOrDefault(Declaration(request));

    // Read from the zoo classes' own attributes, so adding a class to the zoo is all it takes. A class the generator
    // did not implement (an attribute it does not support yet) is no ICompiledNetwork and is left out.
    private static readonly Lazy<Dictionary<string, Type>> s_precompiled = new(() =>
    {
        var zoo = new Dictionary<string, Type>(StringComparer.Ordinal);
        foreach (var type in typeof(ModelCatalog).Assembly.GetTypes())
        {
            if (!typeof(ICompiledNetwork).IsAssignableFrom(type) || type.IsAbstract) continue;
            if (FromAttributes(type) is { } request) zoo.TryAdd(Declaration(request), type);
        }
        return zoo;
    });

    private static ModelRequest? FromAttributes(Type type)
    {
        if (type.GetCustomAttribute<EspNetAttribute>() is { Batch: 1 } e)
            return new ModelRequest(ModelFamily.EspNet, e.P, e.Q, e.Classes, e.Skip, e.Height, e.Width);
        if (type.GetCustomAttribute<EspNetCAttribute>() is { Batch: 1 } c)
            return new ModelRequest(ModelFamily.EspNetC, c.P, c.Q, c.Classes, EspNetDecoderSkip.Level1, c.Height, c.Width);
        if (type.GetCustomAttribute<EspNetV2Attribute>() is { Batch: 1 } v2)
            return new ModelRequest(ModelFamily.EspNetV2, 0, 0, v2.Classes, EspNetDecoderSkip.Level1, v2.Height, v2.Width) { Scale = v2.Scale };
        if (type.GetCustomAttribute<EspNetV2SegmentationAttribute>() is { Batch: 1 } seg)
            return new ModelRequest(ModelFamily.EspNetV2Segmentation, 0, 0, seg.Classes, EspNetDecoderSkip.Level1, seg.Height, seg.Width)
            { Scale = seg.Scale, Head = seg.Head };
        return null;
    }
}
