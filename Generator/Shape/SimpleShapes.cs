using System.Linq;
using Espnet.Compiled.Generator.Model;

namespace Espnet.Compiled.Generator.Shape;

/// <summary>BatchNorm keeps the shape.</summary>
internal static class BatchNormShape
{
    public static Dims? Infer(ShapeContext ctx, Dims x) => x;
}

/// <summary>Repeated 3x3 / stride 2 / pad 1 average pooling.</summary>
internal static class AvgPoolShape
{
    public static Dims? Infer(ShapeContext ctx, Dims x)
    {
        if (ctx.Layer.Times < 1) { ctx.Invalid("Times", ctx.Layer.Times, "pool at least once"); return null; }
        int h = x.H, w = x.W;
        for (int i = 0; i < ctx.Layer.Times; i++) { h = ShapeContext.ConvOut(h, 3, 2, 1); w = ShapeContext.ConvOut(w, 3, 2, 1); }
        return new Dims(x.C, h, w);
    }
}

/// <summary>Channel concatenation: all inputs share height and width.</summary>
internal static class ConcatShape
{
    public static Dims? Infer(ShapeContext ctx, Dims[] xs)
    {
        var l = ctx.Layer;
        if (xs.Length < 2) { ctx.Invalid("#0", l.Name, "concatenate at least two layers"); return null; }
        for (int i = 1; i < xs.Length; i++)
        {
            if (xs[i].H != xs[0].H || xs[i].W != xs[0].W)
            {
                ctx.Error("ESPN0005", "#" + (i + 1), l.Name, l.Inputs[0], xs[0], l.Inputs[i], xs[i]);
                return null;
            }
        }
        return new Dims(xs.Sum(x => x.C), xs[0].H, xs[0].W);
    }
}

/// <summary>Elementwise sum: both inputs have the same shape.</summary>
internal static class AddShape
{
    public static Dims? Infer(ShapeContext ctx, Dims[] xs)
    {
        var l = ctx.Layer;
        if (xs.Length != 2) { ctx.Invalid("#0", l.Name, "an Add sums exactly two layers"); return null; }
        if (xs[0] != xs[1])
        {
            ctx.Error("ESPN0006", "#2", l.Name, xs[1], xs[0], $"make '{l.Inputs[1]}' produce {xs[0]}");
            return null;
        }
        return xs[0];
    }
}

/// <summary>Transposed convolution without padding: out = (in - 1) * stride + kernel.</summary>
internal static class ConvTransposeShape
{
    public static Dims? Infer(ShapeContext ctx, Dims x)
    {
        var l = ctx.Layer;
        if (l.Out < 1) ctx.Invalid("Out", l.Out, "a transposed convolution needs at least one output channel");
        if (l.Kernel < 1) ctx.Invalid("Kernel", l.Kernel, "use 2 for ESPNet's upsampling");
        if (l.Stride < 1) ctx.Invalid("Stride", l.Stride, "use 2 for ESPNet's upsampling");
        if (ctx.Failed) return null;
        return new Dims(l.Out, (x.H - 1) * l.Stride + l.Kernel, (x.W - 1) * l.Stride + l.Kernel);
    }
}

/// <summary>Global average pooling: C x 1 x 1.</summary>
internal static class GlobalAvgPoolShape
{
    public static Dims? Infer(ShapeContext ctx, Dims x) => new Dims(x.C, 1, 1);
}

/// <summary>Fully-connected layer over the flattened input: Out x 1 x 1.</summary>
internal static class LinearShape
{
    public static Dims? Infer(ShapeContext ctx, Dims x)
    {
        if (ctx.Layer.Out < 1) { ctx.Invalid("Out", ctx.Layer.Out, "a fully-connected layer needs at least one output"); return null; }
        return new Dims(ctx.Layer.Out, 1, 1);
    }
}
