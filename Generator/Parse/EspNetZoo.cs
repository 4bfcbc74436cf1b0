using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Espnet.Compiled.Generator.Model;
using Microsoft.CodeAnalysis;

namespace Espnet.Compiled.Generator.Parse;

/// <summary>
/// Expands [EspNet] and [EspNetC] into the layer vocabulary, with the authors' module names as layer
/// names (so state_dict keys match) and diagnostics pointed at the whole-model attribute's arguments.
/// </summary>
internal static class EspNetZoo
{
    private const double Eps = 1e-3;

    public static NetworkSpec Parse(GeneratorAttributeSyntaxContext context, bool withDecoder, CancellationToken ct)
    {
        var type = (INamedTypeSymbol)context.TargetSymbol;
        var a = new AttributeReader(context.Attributes[0]);
        int classes = a.Int("Classes", 20), p = a.Int("P", 2), q = a.Int("Q", 8);
        int height = a.Int("Height", 512), width = a.Int("Width", 1024), batch = a.Int("Batch", 1);
        bool reinforcedSkip = a.Enum("Skip", 0) == 1;
        var args = a.ArgumentLocations();
        LocationInfo? At(string argument) => args.FirstOrDefault(x => x.Argument == argument)?.Location ?? a.Location;

        var diagnostics = new List<DiagnosticInfo>();
        NetworkParser.AddPartialCheck(context, type, diagnostics);
        if (classes < 1) diagnostics.Add(ZooDiagnostics.Info("ESPN0001", At("Classes"), classes));
        if (p < 0) diagnostics.Add(ZooDiagnostics.Info("ESPN0002", At("P"), "P", p));
        if (q < 0) diagnostics.Add(ZooDiagnostics.Info("ESPN0002", At("Q"), "Q", q));
        if (withDecoder)
        {
            ZooDiagnostics.CheckRestorable("Height", height, 8, At("Height"), diagnostics);
            ZooDiagnostics.CheckRestorable("Width", width, 8, At("Width"), diagnostics);
        }

        string kind = withDecoder ? "EspNet" : "EspNetC";
        string origin = $"[{kind}(Classes = {classes}, P = {p}, Q = {q}, Height = {height}, Width = {width}, Batch = {batch}"
                        + (withDecoder ? $", Skip = {(reinforcedSkip ? "Reinforced" : "Level1")})]" : ")]");
        bool valid = diagnostics.Count == 0;
        // Expanded layers report at the attribute (or, through their argument locations, at its Classes).
        var layers = valid
            ? Layers(withDecoder, classes, p, q, reinforcedSkip, At("Classes")).Select(l => l with { Location = a.Location }).ToList()
            : new List<LayerSpec>();
        return NetworkParser.Build(context, type, a, origin, batch, 3, height, width, output: null, layers, diagnostics);
    }

    private static List<LayerSpec> Layers(bool withDecoder, int classes, int p, int q, bool reinforcedSkip, LocationInfo? classesAt)
    {
        string e = withDecoder ? "encoder." : "";
        var layers = new List<LayerSpec>();
        void Add(LayerSpec layer) => layers.Add(layer);

        Add(Conv(e + "level1", "input", 16, kernel: 3, stride: 2));
        Add(new LayerSpec(LayerKind.AvgPool, e + "sample1", From("input"), Times: 1, Kernel: 3, Stride: 2));
        Add(new LayerSpec(LayerKind.AvgPool, e + "sample2", From("input"), Times: 2, Kernel: 3, Stride: 2));
        Add(Concat(e + "cat_b1", e + "level1", e + "sample1"));
        Add(Br(e + "b1", e + "cat_b1"));

        Add(Esp(e + "level2_0", e + "b1", 64, stride: 2, residual: false));
        string last = e + "level2_0";
        for (int i = 0; i < p; i++) { Add(Esp(e + "level2." + i, last, 64, 1, true)); last = e + "level2." + i; }
        Add(Concat(e + "cat_b2", last, e + "level2_0", e + "sample2"));
        Add(Br(e + "b2", e + "cat_b2"));

        Add(Esp(e + "level3_0", e + "b2", 128, stride: 2, residual: false));
        last = e + "level3_0";
        for (int i = 0; i < q; i++) { Add(Esp(e + "level3." + i, last, 128, 1, true)); last = e + "level3." + i; }
        Add(Concat(e + "cat_b3", e + "level3_0", last));
        Add(Br(e + "b3", e + "cat_b3"));
        Add(Conv(e + "classifier", e + "b3", classes, kernel: 1, stride: 1, norm: false) with { ArgumentLocations = OutAt(classesAt) });
        if (!withDecoder) return layers;

        int c = classes;
        var outAt = OutAt(classesAt);
        Add(new LayerSpec(LayerKind.BatchNorm, "br", From("encoder.classifier"), BatchNorm: true, PRelu: false, Eps: Eps, Keys: KeyStyle.Bare));
        Add(new LayerSpec(LayerKind.ConvTranspose, "up_l3.0", From("br"), Out: c, Kernel: 2, Stride: 2, ArgumentLocations: outAt));
        Add(Conv("level3_C", "encoder.b2", c, kernel: 1, stride: 1, norm: false) with { ArgumentLocations = outAt });
        Add(Concat("cat_l2_l3", "level3_C", "up_l3.0"));
        Add(Br("combine_l2_l3.0", "cat_l2_l3"));
        Add(Esp("combine_l2_l3.1", "combine_l2_l3.0", c, 1, residual: false) with { ArgumentLocations = outAt });
        Add(new LayerSpec(LayerKind.ConvTranspose, "up_l2.0", From("combine_l2_l3.1"), Out: c, Kernel: 2, Stride: 2, ArgumentLocations: outAt));
        Add(Br("up_l2.1", "up_l2.0"));
        Add(Concat("cat_skip", "up_l2.1", reinforcedSkip ? "encoder.b1" : "encoder.level1"));
        Add(Conv("conv", "cat_skip", c, kernel: 3, stride: 1) with { ArgumentLocations = outAt });
        Add(new LayerSpec(LayerKind.ConvTranspose, "classifier", From("conv"), Out: c, Kernel: 2, Stride: 2, ArgumentLocations: outAt));
        return layers;
    }

    private static EquatableArray<ArgumentLocation> OutAt(LocationInfo? classesAt) =>
        classesAt is null ? EquatableArray<ArgumentLocation>.Empty : new[] { new ArgumentLocation("Out", classesAt) }.ToEquatableArray();

    private static EquatableArray<string> From(params string[] names) => names.ToEquatableArray();

    private static LayerSpec Conv(string name, string from, int outChannels, int kernel, int stride, bool norm = true) =>
        new(LayerKind.Conv, name, From(from), Out: outChannels, Kernel: kernel, Stride: stride,
            BatchNorm: norm, PRelu: norm, Eps: Eps);

    private static LayerSpec Br(string name, string from) =>
        new(LayerKind.BatchNorm, name, From(from), BatchNorm: true, PRelu: true, Eps: Eps);

    private static LayerSpec Concat(string name, params string[] from) => new(LayerKind.Concat, name, From(from));

    private static LayerSpec Esp(string name, string from, int outChannels, int stride, bool residual) =>
        new(LayerKind.Esp, name, From(from), Out: outChannels, K: 5, Stride: stride, Kernel: 3, Residual: residual,
            BatchNorm: true, PRelu: true, Eps: Eps);
}
