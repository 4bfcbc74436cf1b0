using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using Espnet.Compiled.Generator.Model;
using Microsoft.CodeAnalysis;

namespace Espnet.Compiled.Generator.Parse;

/// <summary>
/// Expands [EspNetV2Segmentation] into the layer vocabulary: the EESPNet base (levels 1-4) and either
/// EdgeNets' head (EfficientPyrPool decoder, gated skips; espnet-reference.md §5.1) or the older ESPNetv2
/// repo's PSP head (§5.2), with the authors' module names as layer names.
/// </summary>
internal static class EspNetV2SegZoo
{
    private const double Eps = 1e-5;

    /// <summary>Scales with released segmentation weights (s = 1.25 has none).</summary>
    private static readonly double[] EdgeNetsScales = { 0.5, 1.0, 1.5, 2.0 };
    private static readonly double[] PspScales = { 0.5, 1.0, 1.5 };

    public static NetworkSpec Parse(GeneratorAttributeSyntaxContext context, CancellationToken ct)
    {
        var type = (INamedTypeSymbol)context.TargetSymbol;
        var a = new AttributeReader(context.Attributes[0]);
        double scale = a.Double("Scale", 2.0);
        int classes = a.Int("Classes", 20);
        int height = a.Int("Height", 512), width = a.Int("Width", 1024), batch = a.Int("Batch", 1);
        bool psp = a.Enum("Head", 0) == 1;
        var args = a.ArgumentLocations();
        LocationInfo? At(string argument) => args.FirstOrDefault(x => x.Argument == argument)?.Location ?? a.Location;

        var diagnostics = new List<DiagnosticInfo>();
        NetworkParser.AddPartialCheck(context, type, diagnostics);
        double[] scales = psp ? PspScales : EdgeNetsScales;
        int[]? channels = scales.Contains(scale) ? EspNetV2Zoo.Channels(scale) : null;
        if (channels is null)
            diagnostics.Add(ZooDiagnostics.Info("ESPN0016", At("Scale"), scale.ToString("R", CultureInfo.InvariantCulture),
                string.Join(", ", scales.Select(s => s.ToString("0.0##", CultureInfo.InvariantCulture))) + (psp ? " for the PSP head" : " for the EdgeNets head")));
        if (classes < 1) diagnostics.Add(ZooDiagnostics.Info("ESPN0001", At("Classes"), classes));
        // EdgeNets' decoder halves four times and adds each level back: sizes must be multiples of 16.
        // The PSP head upsamples by 2 and concatenates at every level: the same rule.
        ZooDiagnostics.CheckRestorable("Height", height, 16, At("Height"), diagnostics);
        ZooDiagnostics.CheckRestorable("Width", width, 16, At("Width"), diagnostics);

        string origin = string.Format(CultureInfo.InvariantCulture,
            "[EspNetV2Segmentation(Scale = {0}, Classes = {1}, Height = {2}, Width = {3}, Batch = {4}, Head = {5})]",
            scale, classes, height, width, batch, psp ? "Psp" : "EdgeNets");
        var layers = diagnostics.Count == 0
            ? (psp ? PspHead(channels!, classes) : EdgeNetsHead(channels!, classes)).Select(l => l with { Location = a.Location }).ToList()
            : new List<LayerSpec>();
        return NetworkParser.Build(context, type, a, origin, batch, 3, height, width, output: null, layers, diagnostics);
    }

    /// <summary>EdgeNets ESPNetv2Segmentation: decoder widths [64, 48, 32, classes], projection min(classes / 2, 16).</summary>
    private static List<LayerSpec> EdgeNetsHead(int[] c, int classes)
    {
        var layers = EspNetV2Zoo.BaseLayers("base_net.", c);
        const int b = 16;
        int proj = System.Math.Min(classes / 2, b);
        string e1 = "base_net.level1", e2 = "base_net.level2_0", e3 = "base_net.level3.2", e4 = "base_net.level4.6";
        void Add(LayerSpec l) => layers.Add(l);

        Add(new LayerSpec(LayerKind.PyramidPool, "bu_dec_l1", From(e4), Out: 4 * b, Proj: proj, BatchNorm: true, PRelu: true, Eps: Eps));
        string d = "bu_dec_l1";
        (string Skip, string Level, int Width)[] steps = { (e3, "l2", 3 * b), (e2, "l3", 2 * b), (e1, "l4", classes) };
        int previous = 4 * b;
        foreach (var (skip, level, width) in steps)
        {
            bool last = level == "l4";
            Add(new LayerSpec(LayerKind.GatedConv, "merge_enc_dec_" + level, From(skip), Out: previous, Kernel: 3, Eps: Eps));
            Add(new LayerSpec(LayerKind.Resize, "up_" + level, From(d), Factor: 2.0));
            Add(new LayerSpec(LayerKind.Add, "sum_" + level, From("merge_enc_dec_" + level, "up_" + level)));
            Add(new LayerSpec(LayerKind.BatchNorm, "bu_br_" + level, From("sum_" + level), BatchNorm: true, PRelu: true, Eps: Eps, Keys: KeyStyle.Sequential));
            Add(new LayerSpec(LayerKind.PyramidPool, "bu_dec_" + level, From("bu_br_" + level), Out: width, Proj: proj,
                BatchNorm: !last, Bias: last, PRelu: true, Eps: Eps));
            d = "bu_dec_" + level;
            previous = width;
        }
        Add(new LayerSpec(LayerKind.Resize, "out", From(d, "input")));
        return layers;
    }

    /// <summary>The older ESPNetv2-repo EESPNet_Seg head (keys under module., which loading strips).</summary>
    private static List<LayerSpec> PspHead(int[] c, int classes)
    {
        var layers = EspNetV2Zoo.BaseLayers("net.", c);
        string l1 = "net.level1", l2 = "net.level2_0", l3 = "net.level3.2", l4 = "net.level4.6";
        void Add(LayerSpec l) => layers.Add(l);

        Add(new LayerSpec(LayerKind.Conv, "proj_L4_C", From(l4), Out: c[2], Kernel: 1, BatchNorm: true, PRelu: true, Eps: Eps));
        Add(new LayerSpec(LayerKind.Resize, "up_l4", From("proj_L4_C"), Factor: 2.0));
        Add(new LayerSpec(LayerKind.Concat, "cat_l3", From(l3, "up_l4")));
        // EESP(2*c2 -> c2): no residual (widths differ) but its final PReLU still applies.
        Add(EspNetV2Zoo.Eesp("pspMod.0", "cat_l3", c[2], rLim: 7));
        Add(new LayerSpec(LayerKind.PspPool, "pspMod.1", From("pspMod.0"), Out: c[2], Times: 4, Eps: Eps));
        // project_l3 = Dropout2d, C: the dropout is the identity at inference.
        Add(new LayerSpec(LayerKind.Conv, "project_l3.1", From("pspMod.1"), Out: classes, Kernel: 1, Eps: Eps));
        Add(new LayerSpec(LayerKind.BatchNorm, "act_l3", From("project_l3.1"), BatchNorm: true, PRelu: true, Eps: Eps));
        Add(new LayerSpec(LayerKind.Resize, "up_l3", From("act_l3"), Factor: 2.0));
        Add(new LayerSpec(LayerKind.Concat, "cat_l2", From(l2, "up_l3")));
        Add(new LayerSpec(LayerKind.Conv, "project_l2", From("cat_l2"), Out: classes, Kernel: 1, BatchNorm: true, PRelu: true, Eps: Eps));
        Add(new LayerSpec(LayerKind.Resize, "up_l2", From("project_l2"), Factor: 2.0));
        Add(new LayerSpec(LayerKind.Concat, "cat_l1", From(l1, "up_l2")));
        Add(new LayerSpec(LayerKind.Conv, "project_l1.1", From("cat_l1"), Out: classes, Kernel: 1, Eps: Eps));
        Add(new LayerSpec(LayerKind.Resize, "out", From("project_l1.1"), Factor: 2.0));
        return layers;
    }

    private static EquatableArray<string> From(params string[] names) => names.ToEquatableArray();
}
