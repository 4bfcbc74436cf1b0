using System.Linq;
using Espnet.Compiled.Generator.Model;

namespace Espnet.Compiled.Generator.Shape;

/// <summary>ESP and strided ESP: branch widths, dilations, residual and output size.</summary>
internal static class EspShape
{
    /// <summary>The default dilations 1, 2, 4, ..., 2^(K-1).</summary>
    public static int[] DefaultDilations(int k) => Enumerable.Range(0, k).Select(i => 1 << i).ToArray();

    public static (Dims Out, int[] Dilations)? Infer(ShapeContext ctx, Dims x)
    {
        var l = ctx.Layer;
        if (l.K < 2) ctx.Invalid("K", l.K, "an ESP module needs at least 2 branches");
        if (l.Out < 1) ctx.Invalid("Out", l.Out, "an ESP module needs at least one output channel");
        if (l.Stride is not (1 or 2)) ctx.Invalid("Stride", l.Stride, "ESP modules have stride 1 or 2");
        if (ctx.Failed) return null;

        int[] dilations = l.Dilations.Count == 0 ? DefaultDilations(l.K) : l.Dilations.ToArray();
        if (dilations.Length != l.K)
            ctx.Invalid("Dilations", "[" + string.Join(", ", dilations) + "]", $"give one dilation per branch ({l.K}) or leave it out for 1, 2, 4, ...");
        else if (dilations.Any(d => d < 1))
            ctx.Invalid("Dilations", "[" + string.Join(", ", dilations) + "]", "dilations must be 1 or more");
        else if (dilations.Distinct().Count() != dilations.Length)
            ctx.Invalid("Dilations", "[" + string.Join(", ", dilations) + "]", "branch weights are keyed d<dilation>, so each dilation may appear once");
        if (ctx.Failed) return null;

        if (l.Out / l.K == 0)
        {
            string fix = l.Name == "combine_l2_l3.1"
                ? "ESPNet's decoder fuses in an ESP with Out = Classes, so it needs Classes >= 5 (ESPNet issue #13); use ESPNet-C or at least 5 classes"
                : $"use Out >= {l.K} or fewer branches";
            ctx.Error("ESPN0003", "Out", l.Name, l.Out, l.K, fix);
            return null;
        }

        int h = l.Stride == 2 ? ShapeContext.ConvOut(x.H, 3, 2, 1) : x.H;
        int w = l.Stride == 2 ? ShapeContext.ConvOut(x.W, 3, 2, 1) : x.W;
        if (l.Stride == 1 && l.Residual && x.C != l.Out)
        {
            ctx.Error("ESPN0006", l.Wrote("Residual") ? "Residual" : "Out", l.Name, x, new Dims(l.Out, h, w), $"set Out = {x.C} or Residual = false");
            return null;
        }
        var output = new Dims(l.Out, h, w);
        ctx.CheckReach(3, dilations, output, l.Dilations.Count == 0 ? "K" : "Dilations");
        return (output, dilations);
    }
}
