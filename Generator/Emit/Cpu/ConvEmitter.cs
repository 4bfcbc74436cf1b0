using Espnet.Compiled.Generator.Plan;

namespace Espnet.Compiled.Generator.Emit.Cpu;

/// <summary>Conv (+ bias) (+ BN) (+ PReLU).</summary>
internal static class ConvEmitter
{
    public static void Emit(LayerEmitContext c)
    {
        var l = c.Layer.Spec;
        var (conv, bn, act) = ParameterLayout.Prefixes(l, hasConv: true);
        int plane = c.Y.H * c.Y.W;
        c.W.Line($"global::Espnet.Compiled.Cpu.Conv.Conv2d(x, {c.X.C}, {c.X.H}, {c.X.W}, {c.P(conv + "weight")}, y, {c.Y.C}, {c.Y.H}, {c.Y.W}, kernel: {l.Kernel}, stride: {l.Stride}, dilation: {l.Dilation}, groups: {l.Groups});");
        if (l.Bias) c.W.Line($"global::Espnet.Compiled.Cpu.Conv.AddBias(y, {c.Y.C}, {plane}, {c.P(conv + "bias")});");
        if (l.BatchNorm) c.BatchNormPRelu("y", c.Y.C, plane, bn, l.PRelu ? act + "weight" : null, l.Eps);
        else if (l.PRelu) c.W.Line($"global::Espnet.Compiled.Cpu.Elementwise.PRelu(y, {c.Y.C}, {plane}, {c.P(act + "weight")});");
    }
}
