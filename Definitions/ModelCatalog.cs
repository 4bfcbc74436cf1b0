using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;

namespace Espnet.Compiled.Zoo;

public enum ModelFamily
{
    /// <summary>ESPNet-C: encoder + 1x1 classifier, logits at 1/8 resolution.</summary>
    EspNetC,
    /// <summary>ESPNet: encoder + decoder, logits at full resolution.</summary>
    EspNet,
}

/// <summary>A model as a user names it on the command line, with every size and option resolved.</summary>
public sealed record ModelRequest(ModelFamily Family, int P, int Q, int Classes, EspNetDecoderSkip Skip, int Height, int Width)
{
    /// <summary>The canonical model name (without --classes, which the name does not carry).</summary>
    public string Name => Family switch
    {
        ModelFamily.EspNetC => $"espnet-c-p{P}-q{Q}",
        _ => IsCamVid ? $"espnet-p{P}-q{Q}-camvid" : $"espnet-p{P}-q{Q}",
    };

    public string SizeText => $"{Height}x{Width}";

    /// <summary>Name, size, and the class count where --classes changed it: "espnet-p2-q3 (3 classes) at 64x128".</summary>
    public string Label => Classes == DefaultClasses ? $"{Name} at {SizeText}" : $"{Name} ({Classes} classes) at {SizeText}";

    /// <summary>The class count the name implies: 12 for CamVid, 20 for Cityscapes.</summary>
    public int DefaultClasses => IsCamVid ? 12 : 20;

    private bool IsCamVid => Family == ModelFamily.EspNet && Skip == EspNetDecoderSkip.Reinforced;

    public string Description => Family switch
    {
        ModelFamily.EspNetC => $"ESPNet-C (encoder + 1x1 classifier, logits at 1/8 resolution), {Classes} classes",
        _ when IsCamVid => $"ESPNet, CamVid variant (decoder skip from b1, train/Model.py), {Classes} classes",
        _ => $"ESPNet, Cityscapes variant (decoder skip from level1, test/Model.py), {Classes} classes",
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
    public static readonly IReadOnlyList<string> Patterns = ["espnet-c-p{P}-q{Q}", "espnet-p{P}-q{Q}", "espnet-p{P}-q{Q}-camvid"];

    // Beyond this the generated source grows without purpose; the released models use P = 2, Q <= 8.
    private const int MaxRepeat = 1000;

    private static readonly Regex s_name = new(@"^espnet-(?<c>c-)?p(?<p>\d{1,9})-q(?<q>\d{1,9})(?<camvid>-camvid)?$",
        RegexOptions.CultureInvariant | RegexOptions.IgnoreCase);

    private static string ValidNames =>
        "valid names: " + string.Join(", ", Patterns) + " (e.g. espnet-p2-q8; the released weights are P = 2 with Q = 3, 5 or 8)";

    /// <summary>Parses a name; null options take the model's published defaults (20 or 12 classes, 512x1024 or 360x480).</summary>
    public static ModelRequest Parse(string name, int? classes = null, int? height = null, int? width = null)
    {
        string trimmed = name.Trim();
        if (trimmed.StartsWith("espnetv2", StringComparison.OrdinalIgnoreCase))
            throw new ModelNameException($"model '{trimmed}' is not available yet in this build (ESPNetv2 is planned); {ValidNames}");
        var m = s_name.Match(trimmed);
        if (!m.Success || (m.Groups["c"].Success && m.Groups["camvid"].Success))
            throw new ModelNameException($"unknown model '{trimmed}'; {ValidNames}");

        int p = int.Parse(m.Groups["p"].Value, CultureInfo.InvariantCulture);
        int q = int.Parse(m.Groups["q"].Value, CultureInfo.InvariantCulture);
        if (p > MaxRepeat || q > MaxRepeat)
            throw new ModelNameException($"model '{trimmed}': P and Q above {MaxRepeat} are not supported");

        bool camvid = m.Groups["camvid"].Success;
        var family = m.Groups["c"].Success ? ModelFamily.EspNetC : ModelFamily.EspNet;
        return new ModelRequest(family, p, q,
            Classes: classes ?? (camvid ? 12 : 20),
            Skip: camvid ? EspNetDecoderSkip.Reinforced : EspNetDecoderSkip.Level1,
            Height: height ?? (camvid ? 360 : 512),
            Width: width ?? (camvid ? 480 : 1024));
    }

    /// <summary>The attribute that declares the request, fully qualified so it compiles in any namespace.</summary>
    public static string Declaration(ModelRequest r) => r.Family switch
    {
        ModelFamily.EspNetC =>
            $"[global::Espnet.Compiled.EspNetC(Classes = {r.Classes}, P = {r.P}, Q = {r.Q}, Height = {r.Height}, Width = {r.Width})]",
        _ =>
            $"[global::Espnet.Compiled.EspNet(Classes = {r.Classes}, P = {r.P}, Q = {r.Q}, Height = {r.Height}, Width = {r.Width}, " +
            $"Skip = global::Espnet.Compiled.EspNetDecoderSkip.{r.Skip})]",
    };

    /// <summary>A readable class name for a compiled request (it also names the model in weight-loading errors).</summary>
    public static string ClassName(ModelRequest r)
    {
        string family = r.Family == ModelFamily.EspNetC ? "EspNetC" : "EspNet";
        string variant = r.Name.EndsWith("-camvid", StringComparison.Ordinal) ? "CamVid" : "";
        static string Size(int v) => v < 0 ? "Minus" + -(long)v : v.ToString(CultureInfo.InvariantCulture); // stays an identifier
        return $"{family}P{r.P}Q{r.Q}{variant}C{Size(r.Classes)}At{Size(r.Height)}x{Size(r.Width)}";
    }

    /// <summary>A new instance of the zoo class declared exactly as requested, or null when none is.</summary>
    public static ICompiledNetwork? CreatePrecompiled(ModelRequest request) =>
        s_precompiled.Value.TryGetValue(request, out var type) ? (ICompiledNetwork)Activator.CreateInstance(type)! : null;

    /// <summary>The zoo class that serves a request, or null.</summary>
    public static Type? PrecompiledType(ModelRequest request) => s_precompiled.Value.GetValueOrDefault(request);

    // Read from the zoo classes' own attributes, so adding a class to the zoo is all it takes.
    private static readonly Lazy<Dictionary<ModelRequest, Type>> s_precompiled = new(() =>
    {
        var zoo = new Dictionary<ModelRequest, Type>();
        foreach (var type in typeof(ModelCatalog).Assembly.GetTypes())
        {
            if (!typeof(ICompiledNetwork).IsAssignableFrom(type) || type.IsAbstract) continue;
            if (FromAttributes(type) is { } request) zoo.TryAdd(request, type);
        }
        return zoo;
    });

    private static ModelRequest? FromAttributes(Type type)
    {
        if (type.GetCustomAttribute<EspNetAttribute>() is { Batch: 1 } e)
            return new ModelRequest(ModelFamily.EspNet, e.P, e.Q, e.Classes, e.Skip, e.Height, e.Width);
        if (type.GetCustomAttribute<EspNetCAttribute>() is { Batch: 1 } c)
            return new ModelRequest(ModelFamily.EspNetC, c.P, c.Q, c.Classes, EspNetDecoderSkip.Level1, c.Height, c.Width);
        return null;
    }
}
