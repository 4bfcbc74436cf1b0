using System;
using Espnet.Compiled.Generator.Model;

namespace Espnet.Compiled.Generator.Shape;

/// <summary>Bilinear resize with aligned corners: by a factor (floor(f * size)) or to the size of a second input.</summary>
internal static class ResizeShape
{
    public static Dims? Infer(ShapeContext ctx, Dims[] xs)
    {
        var l = ctx.Layer;
        if (xs.Length == 2) return new Dims(xs[0].C, xs[1].H, xs[1].W);
        if (!(l.Factor > 0)) { ctx.Invalid("Factor", l.Factor, "use a positive factor such as 2"); return null; }
        int h = (int)Math.Floor(xs[0].H * l.Factor), w = (int)Math.Floor(xs[0].W * l.Factor);
        if (h < 1 || w < 1) { ctx.Invalid("Factor", l.Factor, $"it shrinks the {xs[0].H}x{xs[0].W} map to nothing"); return null; }
        return new Dims(xs[0].C, h, w);
    }
}

/// <summary>
/// EfficientPyrPool (EdgeNets): project to Proj channels, five depthwise branches at scales 2.0 / 1.5 / 1.0 /
/// 0.5 / 0.1 of the map, merged by BR, channel shuffle, grouped 3x3 CBR and a 1x1 to Out.
/// </summary>
internal static class PyramidPoolShape
{
    public static readonly double[] Scales = { 2.0, 1.5, 1.0, 0.5, 0.1 };

    /// <summary>The authors' branch size: ceil(size * s) in double precision, clamped to at least 5.</summary>
    public static int Scaled(int size, double scale) => Math.Max((int)Math.Ceiling(size * scale), 5);

    public static Dims? Infer(ShapeContext ctx, Dims x)
    {
        var l = ctx.Layer;
        if (l.Proj < 1) ctx.Invalid("Proj", l.Proj, "the pyramid projects to at least one channel");
        if (l.Out < 1) ctx.Invalid("Out", l.Out, "a pyramid pool needs at least one output channel");
        return ctx.Failed ? null : new Dims(l.Out, x.H, x.W);
    }
}

/// <summary>EfficientPWConv: a 3x3 CBR with groups = gcd(in, out), gated per channel by sigmoid(1x1(GAP(x))).</summary>
internal static class GatedConvShape
{
    public static Dims? Infer(ShapeContext ctx, Dims x)
    {
        if (ctx.Layer.Out < 1) { ctx.Invalid("Out", ctx.Layer.Out, "a gated convolution needs at least one output channel"); return null; }
        return new Dims(ctx.Layer.Out, x.H, x.W);
    }
}

/// <summary>The older ESPNetv2 head's PSP module: the input plus Times cumulatively pooled depthwise branches, projected.</summary>
internal static class PspPoolShape
{
    public static Dims? Infer(ShapeContext ctx, Dims x)
    {
        var l = ctx.Layer;
        if (l.Out < 1) ctx.Invalid("Out", l.Out, "the PSP projection needs at least one output channel");
        if (l.Times < 1) ctx.Invalid("Times", l.Times, "pool at least once");
        return ctx.Failed ? null : new Dims(l.Out, x.H, x.W);
    }
}
