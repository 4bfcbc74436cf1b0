using Espnet.Compiled.Generator.Plan.Schedule;

namespace Espnet.Compiled.Generator.Plan.Lower;

/// <summary>BN (+ PReLU), the BR module: a copy, then normalised in place.</summary>
internal static class BatchNormLowering
{
    public static void Lower(LayerBuilder b)
    {
        var l = b.Spec;
        var (_, bn, act) = ParameterLayout.Prefixes(l, hasConv: false);
        var norm = b.BatchNorm(bn, b.X.C);
        var slope = l.PRelu ? b.PRelu(act + "weight", b.X.C) : null;
        b.Description = "BN" + (l.PRelu ? " + PReLU" : "");

        var y = b.Output;
        b.Emit(new Copy(b.Input(), y));
        b.BatchNormPRelu(y, b.Y.C, b.Plane, norm, slope, l.Eps);
    }
}
