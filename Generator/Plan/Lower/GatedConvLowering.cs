using Espnet.Compiled.Generator.Plan.Schedule;
using Espnet.Compiled.Generator.Shape;

namespace Espnet.Compiled.Generator.Plan.Lower;

/// <summary>EdgeNets' EfficientPWConv: y = CBR3x3_g(x) * sigmoid(W * GAP(x)), g = gcd(in, out).</summary>
internal static class GatedConvLowering
{
    public static void Lower(LayerBuilder b)
    {
        var l = b.Spec;
        var x = b.X;
        int groups = ConvShape.Gcd(x.C, l.Out), plane = x.H * x.W;
        string n = l.Name + ".";
        var gateW = b.Param(n + "wt_layer.1.weight", SlotRole.Weight, l.Out, x.C, 1, 1);
        var convW = b.Param(n + "expansion_layer.cbr.0.weight", SlotRole.Weight, l.Out, x.C / groups, 3, 3);
        var bn = b.BatchNorm(n + "expansion_layer.cbr.1.", l.Out);
        var act = b.PRelu(n + "expansion_layer.cbr.2.weight", l.Out);
        b.Description = "EfficientPWConv: 3x3 CBR x sigmoid gate";

        b.ReserveScratch(Arena.Align(x.C) + Arena.Align(l.Out));
        var input = b.Input();
        var y = b.Output;
        var pooled = b.Let("pooled", b.Scratch(0, x.C));
        var gate = b.Let("gate", b.Scratch(Arena.Align(x.C), l.Out));
        b.Emit(new GlobalAvgPool(input, x.C, plane, pooled));
        b.Emit(new Conv(pooled, x.C, 1, 1, gateW, gate, l.Out, 1, 1, 1, 1, 1, 1));
        b.Emit(new Conv(input, x.C, x.H, x.W, convW, y, l.Out, x.H, x.W, 3, 1, 1, groups));
        b.BatchNormPRelu(y, l.Out, plane, bn, act, l.Eps);
        b.Emit(new SigmoidGate(y, l.Out, plane, gate));
    }
}
