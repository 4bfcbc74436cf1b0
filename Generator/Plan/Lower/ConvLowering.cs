using Espnet.Compiled.Generator.Plan.Schedule;

namespace Espnet.Compiled.Generator.Plan.Lower;

/// <summary>Conv (+ bias) (+ BN) (+ PReLU): the CBR / CB / C modules, keys under the layer's key style.</summary>
internal static class ConvLowering
{
    public static void Lower(LayerBuilder b)
    {
        var l = b.Spec;
        var (conv, bn, act) = ParameterLayout.Prefixes(l, hasConv: true);
        var weight = b.Param(conv + "weight", SlotRole.Weight, l.Out, b.X.C / l.Groups, l.Kernel, l.Kernel);
        var bias = l.Bias ? b.Param(conv + "bias", SlotRole.Bias, l.Out) : null;
        var norm = l.BatchNorm ? b.BatchNorm(bn, l.Out) : null;
        var slope = l.PRelu ? b.PRelu(act + "weight", l.Out) : null;
        b.Description = $"conv {l.Kernel}x{l.Kernel}" + (l.Stride != 1 ? $" stride {l.Stride}" : "") + (l.Dilation != 1 ? $" dilation {l.Dilation}" : "")
                        + (l.Groups != 1 ? $" groups {l.Groups}" : "") + (l.Bias ? " +bias" : "") + (l.BatchNorm ? " + BN" : "") + (l.PRelu ? " + PReLU" : "");

        var x = b.Input();
        var y = b.Output;
        b.Emit(new Conv(x, b.X.C, b.X.H, b.X.W, weight, y, b.Y.C, b.Y.H, b.Y.W, l.Kernel, l.Stride, l.Dilation, l.Groups));
        if (bias is not null) b.Emit(new AddBias(y, b.Y.C, b.Plane, bias));
        if (norm is not null) b.BatchNormPRelu(y, b.Y.C, b.Plane, norm, slope, l.Eps);
        else if (slope is not null) b.Emit(new PRelu(y, b.Y.C, b.Plane, slope));
    }
}
