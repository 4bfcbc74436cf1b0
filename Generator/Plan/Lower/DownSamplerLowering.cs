using Espnet.Compiled.Generator.Plan.Schedule;
using Espnet.Compiled.Generator.Shape;

namespace Espnet.Compiled.Generator.Plan.Lower;

/// <summary>
/// Strided EESP (ESPNetv2's DownSampler): the pooled input and the strided EESP written straight into their
/// channel ranges of the output (that is the concat), then the input-reinforcement branch added, then PReLU.
/// </summary>
internal static class DownSamplerLowering
{
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

    public static void Lower(LayerBuilder b)
    {
        var l = b.Spec;
        string p = l.Name + ".";
        int plane = b.Plane, nin = b.X.C, width = b.Y.C - nin;
        const int c = DownSamplerShape.ImageChannels;

        // Registration order of the authors' DownSampler: eesp, (avg), inp_reinf, act.
        var unit = EespLowering.Declare(b, p + "eesp.", nin, width, l.K);
        Param? w0 = null, a0 = null, w1 = null;
        BatchNormParams? bn0 = null, bn1 = null;
        if (l.ReinforcementWeights)
        {
            w0 = b.Param(p + "inp_reinf.0.conv.weight", SlotRole.Weight, c, c, 3, 3);
            bn0 = b.BatchNorm(p + "inp_reinf.0.bn.", c);
            a0 = b.PRelu(p + "inp_reinf.0.act.weight", c);
            w1 = b.Param(p + "inp_reinf.1.conv.weight", SlotRole.Weight, l.Out, c, 1, 1);
            bn1 = b.BatchNorm(p + "inp_reinf.1.bn.", l.Out);
        }
        var act = b.PRelu(p + "act.weight", l.Out);
        var s = b.Layer;
        b.Description = $"DownSampler: avgpool + strided EESP K={l.K} d=[{string.Join(",", s.Dilations)}]"
                        + (l.Reinforce ? $" + image/2^{s.ImagePools} reinforcement" : "")
                        + (l.ReinforcementWeights && !l.Reinforce ? " (inp_reinf weights unused)" : "");

        var x = b.Input();
        var y = b.Output;
        var image = l.Reinforce ? b.Input(1, "image") : null;
        b.Note($"avg: 3x3 / stride 2 / pad 1 average of the input -> channels [0, {nin})");
        b.Emit(new AvgPool(x, nin, b.X.H, b.X.W, y.Slice(0, nin * plane), b.Y.H, b.Y.W));
        b.Note($"eesp: strided EESP {nin} -> {width} -> channels [{nin}, {b.Y.C}); it returns after conv_1x1_exp's BN (no residual, no module_act)");
        var eesp = b.Let("eesp", y.Slice(nin * plane, width * plane));
        EespLowering.Ops(b, unit, x, b.X, eesp, new Dims(width, b.Y.H, b.Y.W), 2, l.K, s.Dilations, l.Eps);

        if (image is not null)
        {
            if (w0 is null || w1 is null || bn0 is null || bn1 is null || a0 is null)
                throw new System.InvalidOperationException($"layer {l.Name} reinforces without inp_reinf weights");
            var im = s.InputDims[1];
            var (half, cbrAt, cbAt, _) = ReinforceScratch(im, b.Y);
            int pools = s.ImagePools, h = im.H, w = im.W;
            b.Note($"inp_reinf: the image pooled {pools}x to the output's height, CBR(3 -> 3, 3x3), CB(3 -> {b.Y.C}, 1x1), added");
            var pooled = image;
            for (int i = 0; i < pools; i++)
            {
                int ho = (h - 1) / 2 + 1, wo = (w - 1) / 2 + 1;
                var into = b.Scratch(i % 2 * half, c * ho * wo);
                b.Emit(new AvgPool(pooled, c, h, w, into, ho, wo));
                pooled = into;
                h = ho; w = wo;
            }
            var cbr = b.Let("cbr", b.Scratch(cbrAt, c * plane));
            b.Emit(new Conv(pooled, c, h, w, w0, cbr, c, b.Y.H, b.Y.W, 3, 1, 1, 1));
            b.BatchNormPRelu(cbr, c, plane, bn0, a0, l.Eps);
            var cb = b.Let("cb", b.Scratch(cbAt, b.Y.C * plane));
            b.Emit(new Conv(cbr, c, b.Y.H, b.Y.W, w1, cb, b.Y.C, b.Y.H, b.Y.W, 1, 1, 1, 1));
            b.Emit(new BatchNorm(cb, b.Y.C, plane, bn1, l.Eps));
            b.Emit(new Add(y, cb, y));
        }
        b.ReserveScratch(EespLowering.Scratch(b.X, width, l.K, b.Y));
        b.Emit(new PRelu(y, b.Y.C, plane, act));
    }
}
