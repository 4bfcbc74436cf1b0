namespace Espnet.Compiled.Generator.Emit.Cpu;

/// <summary>Repeated average pooling, ping-ponging through scratch.</summary>
internal static class AvgPoolEmitter
{
    public static void Emit(LayerEmitContext c)
    {
        var l = c.Layer.Spec;
        int h = c.X.H, w = c.X.W, ch = c.X.C;
        string source = "x";
        int half = c.Layer.ScratchFloats / 2;
        for (int i = 0; i < l.Times; i++)
        {
            int ho = (h - 1) / 2 + 1, wo = (w - 1) / 2 + 1;
            string target = i == l.Times - 1 ? "y" : $"scratch.Slice({(i % 2) * half}, {ch * ho * wo})";
            c.W.Line($"global::Espnet.Compiled.Cpu.Elementwise.AvgPool3x3S2({source}, {ch}, {h}, {w}, {target}, {ho}, {wo});");
            source = target;
            h = ho; w = wo;
        }
    }
}

/// <summary>Channel concatenation: each input copied into its channel range.</summary>
internal static class ConcatEmitter
{
    public static void Emit(LayerEmitContext c)
    {
        int offset = 0;
        var inputs = c.Layer.Shaped.InputDims;
        for (int i = 0; i < inputs.Count; i++)
        {
            int size = (int)inputs[i].Elements;
            c.W.Line($"x{i}.CopyTo(y.Slice({offset}, {size}));");
            offset += size;
        }
    }
}

/// <summary>Elementwise sum of two maps.</summary>
internal static class AddEmitter
{
    public static void Emit(LayerEmitContext c) =>
        c.W.Line("global::Espnet.Compiled.Cpu.Elementwise.Add(x0, x1, y);");
}

/// <summary>Transposed convolution, no bias.</summary>
internal static class ConvTransposeEmitter
{
    public static void Emit(LayerEmitContext c)
    {
        var l = c.Layer.Spec;
        c.W.Line($"global::Espnet.Compiled.Cpu.Conv.ConvTranspose2d(x, {c.X.C}, {c.X.H}, {c.X.W}, {c.P(l.Name + ".weight")}, y, {c.Y.C}, {c.Y.H}, {c.Y.W}, kernel: {l.Kernel}, stride: {l.Stride});");
    }
}

/// <summary>Global average pooling to C x 1 x 1.</summary>
internal static class GlobalAvgPoolEmitter
{
    public static void Emit(LayerEmitContext c) =>
        c.W.Line($"global::Espnet.Compiled.Cpu.Elementwise.GlobalAvgPool(x, {c.X.C}, {c.X.H * c.X.W}, y);");
}

/// <summary>Fully-connected layer: a 1x1 convolution over the flattened input seen as In x 1 x 1, plus bias.</summary>
internal static class LinearEmitter
{
    public static void Emit(LayerEmitContext c)
    {
        var l = c.Layer.Spec;
        long features = c.X.Elements;
        c.W.Line($"global::Espnet.Compiled.Cpu.Conv.Conv2d(x, {features}, 1, 1, {c.P(l.Name + ".weight")}, y, {l.Out}, 1, 1, kernel: 1, stride: 1, dilation: 1, groups: 1);");
        if (l.Bias) c.W.Line($"global::Espnet.Compiled.Cpu.Conv.AddBias(y, {l.Out}, 1, {c.P(l.Name + ".bias")});");
    }
}
