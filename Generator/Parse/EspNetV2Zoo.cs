using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using Espnet.Compiled.Generator.Model;
using Microsoft.CodeAnalysis;

namespace Espnet.Compiled.Generator.Parse;

/// <summary>
/// Expands [EspNetV2] into the layer vocabulary: the EESPNet classifier (ESPNetv2 repo imagenet/Model.py,
/// EdgeNets espnetv2.py) with the authors' module names as layer names, so state_dict keys match.
/// </summary>
internal static class EspNetV2Zoo
{
    private const double Eps = 1e-5;
    private const int K = 4;

    /// <summary>Width multiplier -> channels c0..c5 (EdgeNets espnetv2_config.py; the ESPNetv2 repo's formula agrees).</summary>
    private static readonly (double Scale, int[] Channels)[] Table =
    {
        (0.5, new[] { 16, 32, 64, 128, 256, 1024 }),
        (1.0, new[] { 32, 64, 128, 256, 512, 1024 }),
        (1.25, new[] { 32, 80, 160, 320, 640, 1024 }),
        (1.5, new[] { 32, 96, 192, 384, 768, 1024 }),
        (2.0, new[] { 32, 128, 256, 512, 1024, 1280 }),
    };

    public static string ValidScales => string.Join(", ", Table.Select(t => t.Scale.ToString("0.0##", CultureInfo.InvariantCulture)));

    public static NetworkSpec Parse(GeneratorAttributeSyntaxContext context, CancellationToken ct)
    {
        var type = (INamedTypeSymbol)context.TargetSymbol;
        var a = new AttributeReader(context.Attributes[0]);
        double scale = a.Double("Scale", 1.0);
        int classes = a.Int("Classes", 1000);
        int height = a.Int("Height", 224), width = a.Int("Width", 224), batch = a.Int("Batch", 1);
        var args = a.ArgumentLocations();
        LocationInfo? At(string argument) => args.FirstOrDefault(x => x.Argument == argument)?.Location ?? a.Location;

        var diagnostics = new List<DiagnosticInfo>();
        NetworkParser.AddPartialCheck(context, type, diagnostics);
        int[]? channels = Table.Where(t => t.Scale == scale).Select(t => t.Channels).FirstOrDefault();
        if (channels is null)
            diagnostics.Add(ZooDiagnostics.Info("ESPN0016", At("Scale"), scale.ToString("R", CultureInfo.InvariantCulture), ValidScales));
        if (classes < 1) diagnostics.Add(ZooDiagnostics.Info("ESPN0001", At("Classes"), classes));

        string origin = string.Format(CultureInfo.InvariantCulture,
            "[EspNetV2(Scale = {0}, Classes = {1}, Height = {2}, Width = {3}, Batch = {4})]", scale, classes, height, width, batch);
        var layers = diagnostics.Count == 0 ? Layers(channels!, classes, a.Location, At("Classes"), At("Height")) : new List<LayerSpec>();
        return NetworkParser.Build(context, type, a, origin, batch, 3, height, width, output: null, layers, diagnostics);
    }

    private static List<LayerSpec> Layers(int[] c, int classes, LocationInfo? attribute, LocationInfo? classesAt, LocationInfo? heightAt)
    {
        // Diagnostics on expanded layers point at the whole-model attribute; a reinforcement that cannot meet
        // its DownSampler's output (a map too flat for the authors' height-only loop) at its Height.
        var reinforceAt = heightAt is null ? EquatableArray<ArgumentLocation>.Empty : new[] { new ArgumentLocation("Reinforce", heightAt) }.ToEquatableArray();
        var layers = new List<LayerSpec>();
        string last = "input";
        void Add(LayerSpec layer)
        {
            layer = layer with { Location = attribute };
            if (layer.Kind == LayerKind.DownSampler) layer = layer with { ArgumentLocations = reinforceAt };
            layers.Add(layer);
            last = layer.Name;
        }

        foreach (var layer in BaseLayers("", c)) Add(layer);
        // level5_0 is built with reinforcement but called without the image: its inp_reinf weights are dead.
        Add(DownSampler("level5_0", last, c[4], rLim: 7, reinforce: false));
        for (int i = 0; i < 3; i++) Add(Eesp("level5." + i, last, c[4], rLim: 5));
        Add(new LayerSpec(LayerKind.Conv, "level5.3", From(last), Out: c[4], Kernel: 3, Groups: c[4], BatchNorm: true, PRelu: true, Eps: Eps));
        Add(new LayerSpec(LayerKind.Conv, "level5.4", From(last), Out: c[5], Kernel: 1, Groups: K, BatchNorm: true, PRelu: true, Eps: Eps));
        // Global pool, dropout (identity at inference), flatten, fully connected with bias.
        Add(new LayerSpec(LayerKind.GlobalAvgPool, "global_pool", From(last)));
        var outAt = classesAt is null ? EquatableArray<ArgumentLocation>.Empty : new[] { new ArgumentLocation("Out", classesAt) }.ToEquatableArray();
        Add(new LayerSpec(LayerKind.Linear, "classifier", From(last), Out: classes, Bias: true, ArgumentLocations: outAt));
        return layers;
    }

    /// <summary>
    /// Levels 1-4 of EESPNet under a key prefix (the segmentation heads reuse them as "base_net." or "net.").
    /// r_lim per level: level2_0 13, level3_0 11, level3 and level4_0 9, level4 (and level5_0) 7.
    /// </summary>
    public static List<LayerSpec> BaseLayers(string prefix, int[] c)
    {
        var layers = new List<LayerSpec>();
        string last = "input";
        void Add(LayerSpec layer) { layers.Add(layer); last = layer.Name; }
        Add(new LayerSpec(LayerKind.Conv, prefix + "level1", From("input"), Out: c[0], Kernel: 3, Stride: 2, BatchNorm: true, PRelu: true, Eps: Eps));
        Add(DownSampler(prefix + "level2_0", last, c[1], rLim: 13, reinforce: true));
        Add(DownSampler(prefix + "level3_0", last, c[2], rLim: 11, reinforce: true));
        for (int i = 0; i < 3; i++) Add(Eesp(prefix + "level3." + i, last, c[2], rLim: 9));
        Add(DownSampler(prefix + "level4_0", last, c[3], rLim: 9, reinforce: true));
        for (int i = 0; i < 7; i++) Add(Eesp(prefix + "level4." + i, last, c[3], rLim: 7));
        return layers;
    }

    /// <summary>The channel table row of a width multiplier, or null.</summary>
    public static int[]? Channels(double scale) => Table.Where(t => t.Scale == scale).Select(t => t.Channels).FirstOrDefault();

    private static EquatableArray<string> From(params string[] names) => names.ToEquatableArray();

    public static LayerSpec Eesp(string name, string from, int channels, int rLim) =>
        new(LayerKind.Eesp, name, From(from), Out: channels, K: K, RLim: rLim, Stride: 1, Kernel: 3, BatchNorm: true, PRelu: true, Eps: Eps);

    private static LayerSpec DownSampler(string name, string from, int channels, int rLim, bool reinforce) =>
        new(LayerKind.DownSampler, name, reinforce ? From(from, "input") : From(from), Out: channels, K: K, RLim: rLim, Stride: 2, Kernel: 3,
            Reinforce: reinforce, ReinforcementWeights: true, BatchNorm: true, PRelu: true, Eps: Eps);
}
