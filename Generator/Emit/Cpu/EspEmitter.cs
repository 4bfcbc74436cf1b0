using Espnet.Compiled.Generator.Plan;

namespace Espnet.Compiled.Generator.Emit.Cpu;

/// <summary>
/// ESP / strided ESP as one method: reduce into scratch, each dilated branch straight into its slice of
/// the output (that is the concat), hierarchical fusion in place, residual, then BN + PReLU.
/// </summary>
internal static class EspEmitter
{
    public static void Emit(LayerEmitContext c)
    {
        var l = c.Layer.Spec;
        var (n, n1) = ParameterLayout.EspWidths(l);
        var dilations = c.Layer.Shaped.Dilations;
        int plane = c.Y.H * c.Y.W;
        string p = l.Name + ".";
        bool strided = l.Stride == 2;
        int reduceKernel = strided ? 3 : 1;

        c.W.Line($"// reduce: {reduceKernel}x{reduceKernel} conv, stride {l.Stride}, {c.X.C} -> {n} channels");
        c.W.Line($"var reduced = scratch.Slice(0, {n * plane});");
        c.W.Line($"global::Espnet.Compiled.Cpu.Conv.Conv2d(x, {c.X.C}, {c.X.H}, {c.X.W}, {c.P(p + "c1.conv.weight")}, reduced, {n}, {c.Y.H}, {c.Y.W}, kernel: {reduceKernel}, stride: {l.Stride}, dilation: 1, groups: 1);");

        int channel = 0;
        for (int j = 0; j < l.K; j++)
        {
            int width = j == 0 ? n1 : n;
            int d = dilations[j];
            c.W.Line($"// branch {j}: 3x3 dilation {d} -> channels [{channel}, {channel + width})");
            c.W.Line($"global::Espnet.Compiled.Cpu.Conv.Conv2d(reduced, {n}, {c.Y.H}, {c.Y.W}, {c.P(p + "d" + d + ".conv.weight")}, y.Slice({channel * plane}, {width * plane}), {width}, {c.Y.H}, {c.Y.W}, kernel: 3, stride: 1, dilation: {d}, groups: 1);");
            // Hierarchical fusion over branches 1..K-1: each adds the fused sum before it; branch 0 stays raw.
            if (l.Fusion && j >= 2)
                c.W.Line($"global::Espnet.Compiled.Cpu.Elementwise.Add(y.Slice({channel * plane}, {width * plane}), y.Slice({(channel - n) * plane}, {n * plane}), y.Slice({channel * plane}, {width * plane}));");
            channel += width;
        }

        if (!strided && l.Residual)
        {
            c.W.Line("// identity residual, before normalisation");
            c.W.Line($"global::Espnet.Compiled.Cpu.Elementwise.Add(y.Slice(0, {l.Out * plane}), x.Slice(0, {l.Out * plane}), y.Slice(0, {l.Out * plane}));");
        }
        if (strided) c.BatchNormPRelu("y", l.Out, plane, p + "bn.", p + "act.weight", l.Eps);
        else c.BatchNormPRelu("y", l.Out, plane, p + "bn.bn.", p + "bn.act.weight", l.Eps);
    }
}
