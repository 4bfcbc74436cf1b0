using Espnet.Compiled.Generator.Plan;
using Espnet.Compiled.Generator.Shape;

namespace Espnet.Compiled.Generator.Emit.Cpu;

/// <summary>Bilinear resize with aligned corners.</summary>
internal static class ResizeEmitter
{
    public static void Emit(LayerEmitContext c) =>
        c.W.Line($"global::Espnet.Compiled.Cpu.Resampling.BilinearAlignCorners(x, {c.X.C}, {c.X.H}, {c.X.W}, y, {c.Y.H}, {c.Y.W});");
}

/// <summary>EfficientPyrPool as one method; every branch size is a constant worked out at compile time.</summary>
internal static class PyramidPoolEmitter
{
    private const string Cpu = "global::Espnet.Compiled.Cpu";

    public static void Emit(LayerEmitContext c)
    {
        var l = c.Layer.Spec;
        var x = c.X;
        int proj = l.Proj, plane = x.H * x.W, branches = PyramidPoolShape.Scales.Length;
        string n = l.Name + ".";
        var s = HeadPlans.PyramidPoolScratch(c.Layer.Shaped);
        c.W.Line($"var p = scratch.Slice({s.P}, {proj * plane});");
        c.W.Line($"var cat = scratch.Slice({s.Cat}, {branches * proj * plane});");
        c.W.Line($"var shuffled = scratch.Slice({s.Shuffled}, {branches * proj * plane});");
        c.W.Line($"var merged = scratch.Slice({s.Merged}, {proj * plane});");
        c.W.Line($"// projection: 1x1 {x.C} -> {proj}, BN, PReLU");
        c.W.Line($"{Cpu}.Conv.Conv2d(x, {x.C}, {x.H}, {x.W}, {c.P(n + "projection_layer.cbr.0.weight")}, p, {proj}, {x.H}, {x.W}, kernel: 1, stride: 1, dilation: 1, groups: 1);");
        c.BatchNormPRelu("p", proj, plane, n + "projection_layer.cbr.1.", n + "projection_layer.cbr.2.weight", l.Eps);

        for (int i = 0; i < branches; i++)
        {
            double scale = PyramidPoolShape.Scales[i];
            var (h, w) = HeadPlans.BranchSize(x, scale);
            string slot = $"cat.Slice({i * proj * plane}, {proj * plane})";
            string weight = c.P(n + "stages." + i + ".weight");
            string a = $"scratch.Slice({s.A}, {proj * h * w})", b = $"scratch.Slice({s.B}, {proj * h * w})";
            c.W.Line($"// branch {i}: scale {scale.ToString(System.Globalization.CultureInfo.InvariantCulture)} -> {h}x{w}");
            if (scale < 1)
            {
                c.W.Line($"{Cpu}.Resampling.AdaptiveAvgPool(p, {proj}, {x.H}, {x.W}, {a}, {h}, {w});");
                c.W.Line($"{Cpu}.Conv.Conv2d({a}, {proj}, {h}, {w}, {weight}, {b}, {proj}, {h}, {w}, kernel: 3, stride: 1, dilation: 1, groups: {proj});");
                c.W.Line($"{Cpu}.Resampling.BilinearAlignCorners({b}, {proj}, {h}, {w}, {slot}, {x.H}, {x.W});");
            }
            else if (scale > 1)
            {
                c.W.Line($"{Cpu}.Resampling.BilinearAlignCorners(p, {proj}, {x.H}, {x.W}, {a}, {h}, {w});");
                c.W.Line($"{Cpu}.Conv.Conv2d({a}, {proj}, {h}, {w}, {weight}, {b}, {proj}, {h}, {w}, kernel: 3, stride: 1, dilation: 1, groups: {proj});");
                c.W.Line($"{Cpu}.Resampling.AdaptiveAvgPool({b}, {proj}, {h}, {w}, {slot}, {x.H}, {x.W});");
            }
            else
            {
                c.W.Line($"{Cpu}.Conv.Conv2d(p, {proj}, {x.H}, {x.W}, {weight}, {slot}, {proj}, {x.H}, {x.W}, kernel: 3, stride: 1, dilation: 1, groups: {proj});");
            }
        }
        c.W.Line("// merge: BR, shuffle, grouped 3x3 CBR, 1x1");
        c.BatchNormPRelu("cat", branches * proj, plane, n + "merge_layer.0.br.0.", n + "merge_layer.0.br.1.weight", l.Eps);
        c.W.Line($"{Cpu}.Resampling.ChannelShuffle(cat, {branches * proj}, {plane}, {branches}, shuffled);");
        c.W.Line($"{Cpu}.Conv.Conv2d(shuffled, {branches * proj}, {x.H}, {x.W}, {c.P(n + "merge_layer.2.cbr.0.weight")}, merged, {proj}, {x.H}, {x.W}, kernel: 3, stride: 1, dilation: 1, groups: {proj});");
        c.BatchNormPRelu("merged", proj, plane, n + "merge_layer.2.cbr.1.", n + "merge_layer.2.cbr.2.weight", l.Eps);
        c.W.Line($"{Cpu}.Conv.Conv2d(merged, {proj}, {x.H}, {x.W}, {c.P(n + "merge_layer.3.weight")}, y, {l.Out}, {x.H}, {x.W}, kernel: 1, stride: 1, dilation: 1, groups: 1);");
        if (l.Bias) c.W.Line($"{Cpu}.Conv.AddBias(y, {l.Out}, {plane}, {c.P(n + "merge_layer.3.bias")});");
        if (l.BatchNorm) c.BatchNormPRelu("y", l.Out, plane, n + "br.br.0.", n + "br.br.1.weight", l.Eps);
    }
}

/// <summary>EfficientPWConv: y = CBR3x3_g(x) * sigmoid(W * GAP(x)), g = gcd(in, out).</summary>
internal static class GatedConvEmitter
{
    public static void Emit(LayerEmitContext c)
    {
        var l = c.Layer.Spec;
        var x = c.X;
        int groups = ConvShape.Gcd(x.C, l.Out), plane = x.H * x.W;
        string n = l.Name + ".";
        int gateAt = Arena.Align(x.C);
        c.W.Line($"var pooled = scratch.Slice(0, {x.C});");
        c.W.Line($"var gate = scratch.Slice({gateAt}, {l.Out});");
        c.W.Line($"global::Espnet.Compiled.Cpu.Elementwise.GlobalAvgPool(x, {x.C}, {plane}, pooled);");
        c.W.Line($"global::Espnet.Compiled.Cpu.Conv.Conv2d(pooled, {x.C}, 1, 1, {c.P(n + "wt_layer.1.weight")}, gate, {l.Out}, 1, 1, kernel: 1, stride: 1, dilation: 1, groups: 1);");
        c.W.Line($"global::Espnet.Compiled.Cpu.Conv.Conv2d(x, {x.C}, {x.H}, {x.W}, {c.P(n + "expansion_layer.cbr.0.weight")}, y, {l.Out}, {x.H}, {x.W}, kernel: 3, stride: 1, dilation: 1, groups: {groups});");
        c.BatchNormPRelu("y", l.Out, plane, n + "expansion_layer.cbr.1.", n + "expansion_layer.cbr.2.weight", l.Eps);
        c.W.Line($"global::Espnet.Compiled.Cpu.Resampling.SigmoidGate(y, {l.Out}, {plane}, gate);");
    }
}

/// <summary>PSP module of the older ESPNetv2 head: [x, up(dw(pool(x))), up(dw(pool²(x))), ...] projected by a 1x1 CBR.</summary>
internal static class PspPoolEmitter
{
    private const string Cpu = "global::Espnet.Compiled.Cpu";

    public static void Emit(LayerEmitContext c)
    {
        var l = c.Layer.Spec;
        var x = c.X;
        int plane = x.H * x.W;
        string n = l.Name + ".";
        var s = HeadPlans.PspPoolScratch(c.Layer.Shaped);
        c.W.Line($"var cat = scratch.Slice({s.Cat}, {(l.Times + 1) * x.C * plane});");
        c.W.Line($"x.CopyTo(cat);");
        string source = "x";
        int h = x.H, w = x.W;
        for (int i = 0; i < l.Times; i++)
        {
            int ho = (h - 1) / 2 + 1, wo = (w - 1) / 2 + 1;
            string pooled = $"scratch.Slice({(i % 2 == 0 ? s.A : s.B)}, {x.C * ho * wo})";
            string conv = $"scratch.Slice({s.Conv}, {x.C * ho * wo})";
            c.W.Line($"// level {i + 1}: pooled to {ho}x{wo}");
            c.W.Line($"{Cpu}.Elementwise.AvgPool3x3S2({source}, {x.C}, {h}, {w}, {pooled}, {ho}, {wo});");
            c.W.Line($"{Cpu}.Conv.Conv2d({pooled}, {x.C}, {ho}, {wo}, {c.P(n + "stages." + i + ".conv.weight")}, {conv}, {x.C}, {ho}, {wo}, kernel: 3, stride: 1, dilation: 1, groups: {x.C});");
            c.W.Line($"{Cpu}.Resampling.BilinearAlignCorners({conv}, {x.C}, {ho}, {wo}, cat.Slice({(i + 1) * x.C * plane}, {x.C * plane}), {x.H}, {x.W});");
            source = pooled;
            h = ho; w = wo;
        }
        c.W.Line($"{Cpu}.Conv.Conv2d(cat, {(l.Times + 1) * x.C}, {x.H}, {x.W}, {c.P(n + "project.conv.weight")}, y, {l.Out}, {x.H}, {x.W}, kernel: 1, stride: 1, dilation: 1, groups: 1);");
        c.BatchNormPRelu("y", l.Out, plane, n + "project.bn.", n + "project.act.weight", l.Eps);
    }
}
