using Espnet.Compiled.Generator.Plan;

namespace Espnet.Compiled.Generator.Emit.Cpu;

/// <summary>BN (+ PReLU): copy, then normalise in place.</summary>
internal static class BatchNormEmitter
{
    public static void Emit(LayerEmitContext c)
    {
        var l = c.Layer.Spec;
        var (_, bn, act) = ParameterLayout.Prefixes(l, hasConv: false);
        c.W.Line("x.CopyTo(y);");
        c.BatchNormPRelu("y", c.Y.C, c.Y.H * c.Y.W, bn, l.PRelu ? act + "weight" : null, l.Eps);
    }
}
