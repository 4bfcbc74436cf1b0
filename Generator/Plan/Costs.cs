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
            default:
                return 0;
        }
    }
}
