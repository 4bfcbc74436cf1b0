using Espnet.Compiled.Generator.Plan;
using Espnet.Compiled.Generator.Shape;

namespace Espnet.Compiled.Generator.Emit.Cpu;

/// <summary>
/// Strided EESP (DownSampler): the pooled input and the strided EESP written straight into their channel
/// ranges of the output (that is the concat), then the input-reinforcement branch added, then PReLU.
/// </summary>
internal static class DownSamplerEmitter
{
    public static void Emit(LayerEmitContext c)
    {
        var l = c.Layer.Spec;
        string p = l.Name + ".";
        int plane = c.Y.H * c.Y.W, nin = c.X.C, width = c.Y.C - nin;

        c.W.Line($"// avg: 3x3 / stride 2 / pad 1 average of the input -> channels [0, {nin})");
        c.W.Line($"global::Espnet.Compiled.Cpu.Elementwise.AvgPool3x3S2(x, {nin}, {c.X.H}, {c.X.W}, y.Slice(0, {nin * plane}), {c.Y.H}, {c.Y.W});");
        c.W.Line($"// eesp: strided EESP {nin} -> {width} -> channels [{nin}, {c.Y.C}); it returns after conv_1x1_exp's BN (no residual, no module_act)");
        c.W.Line($"var eesp = y.Slice({nin * plane}, {width * plane});");
        EespEmitter.Unit(c, p + "eesp.", "x", c.X, "eesp", new Dims(width, c.Y.H, c.Y.W), 2, l.K, c.Layer.Shaped.Dilations, l.Eps);

        if (l.Reinforce)
        {
            var image = c.Layer.Shaped.InputDims[1];
            var (half, cbrAt, cbAt, _) = Costs.ReinforceScratch(image, c.Y);
            int pools = c.Layer.Shaped.ImagePools, ch = image.C, h = image.H, w = image.W;
            c.W.Line($"// inp_reinf: the image pooled {pools}x to the output's height, CBR(3 -> 3, 3x3), CB(3 -> {c.Y.C}, 1x1), added");
            string pooled = "image";
            for (int i = 0; i < pools; i++)
            {
                int ho = (h - 1) / 2 + 1, wo = (w - 1) / 2 + 1;
                string into = $"scratch.Slice({i % 2 * half}, {ch * ho * wo})";
                c.W.Line($"global::Espnet.Compiled.Cpu.Elementwise.AvgPool3x3S2({pooled}, {ch}, {h}, {w}, {into}, {ho}, {wo});");
                pooled = into;
                h = ho; w = wo;
            }
            c.W.Line($"var cbr = scratch.Slice({cbrAt}, {ch * plane});");
            c.W.Line($"global::Espnet.Compiled.Cpu.Conv.Conv2d({pooled}, {ch}, {h}, {w}, {c.P(p + "inp_reinf.0.conv.weight")}, cbr, {ch}, {c.Y.H}, {c.Y.W}, kernel: 3, stride: 1, dilation: 1, groups: 1);");
            c.BatchNormPRelu("cbr", ch, plane, p + "inp_reinf.0.bn.", p + "inp_reinf.0.act.weight", l.Eps);
            c.W.Line($"var cb = scratch.Slice({cbAt}, {c.Y.C * plane});");
            c.W.Line($"global::Espnet.Compiled.Cpu.Conv.Conv2d(cbr, {ch}, {c.Y.H}, {c.Y.W}, {c.P(p + "inp_reinf.1.conv.weight")}, cb, {c.Y.C}, {c.Y.H}, {c.Y.W}, kernel: 1, stride: 1, dilation: 1, groups: 1);");
            c.BatchNormPRelu("cb", c.Y.C, plane, p + "inp_reinf.1.bn.", null, l.Eps);
            c.W.Line("global::Espnet.Compiled.Cpu.Elementwise.Add(y, cb, y);");
        }
        c.W.Line($"global::Espnet.Compiled.Cpu.Elementwise.PRelu(y, {c.Y.C}, {plane}, {c.P(p + "act.weight")});");
    }
}
