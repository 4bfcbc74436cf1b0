using Espnet.Compiled.Generator.Model;
using Espnet.Compiled.Generator.Shape;

namespace Espnet.Compiled.Generator.Plan;

/// <summary>Multiply-accumulates the way the authors count them: ordinary convolutions only.</summary>
internal static class Costs
{
    public static long ConvMacs(int outChannels, Dims output, int inChannelsPerGroup, int kernel) =>
        (long)outChannels * output.H * output.W * inChannelsPerGroup * kernel * kernel;

    public static (long Macs, long TransposedMacs) Of(ShapedLayer layer)
    {
        var l = layer.Spec;
        var x = layer.InputDims.Count > 0 ? layer.InputDims[0] : default;
        switch (l.Kind)
        {
            case LayerKind.Conv:
                return (ConvMacs(l.Out, layer.Out, x.C / l.Groups, l.Kernel), 0);
            case LayerKind.Esp:
            {
                var (n, n1) = ParameterLayout.EspWidths(l);
                long macs = ConvMacs(n, layer.Out, x.C, l.Stride == 2 ? 3 : 1);
                macs += ConvMacs(n1, layer.Out, n, 3) + (l.K - 1) * ConvMacs(n, layer.Out, n, 3);
                return (macs, 0);
            }
            case LayerKind.ConvTranspose:
                return (0, (long)x.C * l.Out * l.Kernel * l.Kernel * x.H * x.W);
            case LayerKind.Eesp:
                return (EespMacs(x, l.Out, l.K, layer.Out), 0);
            case LayerKind.DownSampler:
            {
                long macs = EespMacs(x, l.Out - x.C, l.K, layer.Out);
                // The reinforcement branch counts only where it runs (level5_0's weights are never applied).
                if (l.Reinforce)
                {
                    const int c = DownSamplerShape.ImageChannels;
                    macs += ConvMacs(c, layer.Out, c, 3) + ConvMacs(l.Out, layer.Out, c, 1);
                }
                return (macs, 0);
            }
            case LayerKind.PyramidPool: return (HeadPlans.PyramidPoolMacs(layer), 0);
            case LayerKind.GatedConv: return (HeadPlans.GatedConvMacs(layer), 0);
            case LayerKind.PspPool: return (HeadPlans.PspPoolMacs(layer), 0);
            default:
                return (0, 0);
        }
    }

    /// <summary>Scratch floats a layer needs besides its output (ESP's reduced map, pooling ping-pong).</summary>
    public static int Scratch(ShapedLayer layer)
    {
        var l = layer.Spec;
        switch (l.Kind)
        {
            case LayerKind.Esp:
                return (int)((long)ParameterLayout.EspWidths(l).N * layer.Out.H * layer.Out.W);
            case LayerKind.AvgPool when l.Times > 1:
            {
                var x = layer.InputDims[0];
                int h = ShapeContext.ConvOut(x.H, 3, 2, 1), w = ShapeContext.ConvOut(x.W, 3, 2, 1);
                return 2 * Arena.Align(x.C * h * w);
            }
            case LayerKind.Eesp:
                return EespScratch(layer.InputDims[0], l.Out, l.K, layer.Out);
            case LayerKind.DownSampler:
            {
                var x = layer.InputDims[0];
                int eesp = EespScratch(x, l.Out - x.C, l.K, layer.Out);
                return l.Reinforce ? System.Math.Max(eesp, ReinforceScratch(layer.InputDims[1], layer.Out).Total) : eesp;
            }
            case LayerKind.PyramidPool: return HeadPlans.PyramidPoolScratch(layer).Total;
            case LayerKind.GatedConv: return HeadPlans.GatedConvScratch(layer);
            case LayerKind.PspPool: return HeadPlans.PspPoolScratch(layer).Total;
            default:
                return 0;
        }
    }

    /// <summary>
    /// EESP multiply-accumulates: the grouped 1x1 projection at the input's resolution, K depth-wise 3x3
    /// branches at the output's (the stride is theirs), and the grouped 1x1 expansion.
    /// </summary>
    public static long EespMacs(Dims x, int width, int k, Dims output)
    {
        int n = width / k;
        return ConvMacs(n, x, x.C / k, 1) + k * ConvMacs(n, output, 1, 3) + ConvMacs(width, output, width / k, 1);
    }

    /// <summary>EESP scratch: the projection (n x H x W) at offset 0, then the concatenated branches at <see cref="EespBranchOffset"/>.</summary>
    public static int EespScratch(Dims x, int width, int k, Dims output) =>
        EespBranchOffset(x, width, k) + width * output.H * output.W;

    public static int EespBranchOffset(Dims x, int width, int k) => Arena.Align(width / k * x.H * x.W);

    /// <summary>
    /// Input-reinforcement scratch, used after the EESP is done: two ping-pong buffers for the pooled image
    /// (the first pooling is the largest), the CBR output, then the CB output added to the layer's output.
    /// </summary>
    public static (int PoolHalf, int Cbr, int Cb, int Total) ReinforceScratch(Dims image, Dims output)
    {
        int poolHalf = Arena.Align(image.C * ShapeContext.ConvOut(image.H, 3, 2, 1) * ShapeContext.ConvOut(image.W, 3, 2, 1));
        int plane = output.H * output.W;
        int cbr = 2 * poolHalf, cb = cbr + Arena.Align(image.C * plane);
        return (poolHalf, cbr, cb, cb + output.C * plane);
    }
}
