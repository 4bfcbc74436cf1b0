using Espnet.Compiled.Generator.Plan.Schedule;

namespace Espnet.Compiled.Generator.Plan.Lower;

/// <summary>
/// ESP / strided ESP (ESPNet's DilatedParllelResidualBlockB / DownSamplerB): reduce into scratch, each dilated
/// branch straight into its slice of the output (that is the concat), hierarchical fusion in place, the
/// identity residual, then BN + PReLU.
/// </summary>
internal static class EspLowering
{
    /// <summary>Branch widths: n = Out / K, and the first branch takes the remainder.</summary>
    public static (int N, int N1) Widths(Model.LayerSpec l)
    {
        int n = l.Out / l.K;
        return (n, l.Out - (l.K - 1) * n);
    }

    public static void Lower(LayerBuilder b)
    {
        var l = b.Spec;
        var (n, n1) = Widths(l);
        var dilations = b.Layer.Dilations;
        bool strided = l.Stride == 2;
        int reduceKernel = strided ? 3 : 1, plane = b.Plane;
        string p = l.Name + ".";

        var reduceWeight = b.Param(p + "c1.conv.weight", SlotRole.Weight, n, b.X.C, reduceKernel, reduceKernel);
        var branchWeights = new Param[l.K];
        for (int j = 0; j < l.K; j++)
            branchWeights[j] = b.Param(p + "d" + dilations[j] + ".conv.weight", SlotRole.Weight, j == 0 ? n1 : n, n, 3, 3);
        // The ESP module wraps BN + PReLU in a BR ("bn.bn.*"); the strided one holds them directly.
        var norm = b.BatchNorm(strided ? p + "bn." : p + "bn.bn.", l.Out);
        var slope = b.PRelu(strided ? p + "act.weight" : p + "bn.act.weight", l.Out);
        b.Description = (strided ? "strided ESP" : "ESP") + $" K={l.K} d=[{string.Join(",", dilations)}]"
                        + (l.Fusion ? " HFF" : "") + (!strided && l.Residual ? " residual" : "");

        var x = b.Input();
        var y = b.Output;
        b.Note($"reduce: {reduceKernel}x{reduceKernel} conv, stride {l.Stride}, {b.X.C} -> {n} channels");
        var reduced = b.Let("reduced", b.Scratch(0, n * plane));
        b.Emit(new Conv(x, b.X.C, b.X.H, b.X.W, reduceWeight, reduced, n, b.Y.H, b.Y.W, reduceKernel, l.Stride, 1, 1));

        int channel = 0;
        for (int j = 0; j < l.K; j++)
        {
            int width = j == 0 ? n1 : n, d = dilations[j];
            b.Note($"branch {j}: 3x3 dilation {d} -> channels [{channel}, {channel + width})");
            var slice = y.Slice(channel * plane, width * plane);
            b.Emit(new Conv(reduced, n, b.Y.H, b.Y.W, branchWeights[j], slice, width, b.Y.H, b.Y.W, 3, 1, d, 1));
            // Hierarchical fusion over branches 1..K-1: each adds the fused sum before it; branch 0 stays raw.
            if (l.Fusion && j >= 2) b.Emit(new Add(slice, y.Slice((channel - n) * plane, n * plane), slice));
            channel += width;
        }

        if (!strided && l.Residual)
        {
            b.Note("identity residual, before normalisation");
            var all = y.Slice(0, l.Out * plane);
            b.Emit(new Add(all, x.Slice(0, l.Out * plane), all));
        }
        b.BatchNormPRelu(y, l.Out, plane, norm, slope, l.Eps);
    }
}
