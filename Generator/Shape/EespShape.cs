using System.Linq;
using Espnet.Compiled.Generator.Model;

namespace Espnet.Compiled.Generator.Shape;

/// <summary>EESP unit (ESPNetv2): branch dilations from the r_lim rule, grouped widths, residual and output size.</summary>
internal static class EespShape
{
    /// <summary>
    /// The authors' rule: branch i has effective kernel 3 + 2i, replaced by 3 when it exceeds r_lim; the list
    /// is sorted and each size e becomes dilation (e - 1) / 2. r_lim 7 and K = 4 give 1, 1, 2, 3.
    /// </summary>
    public static int[] RLimDilations(int k, int rLim) =>
        Enumerable.Range(0, k).Select(i => 3 + 2 * i).Select(e => e > rLim ? 3 : e).OrderBy(e => e).Select(e => (e - 1) / 2).ToArray();

    public static (Dims Out, int[] Dilations)? Infer(ShapeContext ctx, Dims x)
    {
        var l = ctx.Layer;
        if (l.Out < 1) ctx.Invalid("Out", l.Out, "an EESP unit needs at least one output channel");
        if (l.Stride is not (1 or 2)) ctx.Invalid("Stride", l.Stride, "EESP units have stride 1 or 2");
        var dilations = Branches(ctx);
        if (ctx.Failed || dilations is null) return null;
        if (!CheckWidths(ctx, x.C, l.Out, $"Out = {l.Out}", 0)) return null;

        var output = new Dims(l.Out, ShapeContext.ConvOut(x.H, 3, l.Stride, 1), ShapeContext.ConvOut(x.W, 3, l.Stride, 1));
        // The dilated taps run over the input map (the stride only subsamples where they land).
        ctx.CheckReach(3, dilations, x, l.Dilations.Count == 0 ? "RLim" : "Dilations");
        return (output, dilations);
    }

    /// <summary>K and the branch dilations (explicit, or from RLim); null after reporting what is wrong.</summary>
    public static int[]? Branches(ShapeContext ctx)
    {
        var l = ctx.Layer;
        if (l.K < 1)
        {
            ctx.Invalid("K", l.K, "an EESP unit needs at least one branch (ESPNetv2 uses K = 4)");
            return null;
        }
        if (l.Dilations.Count == 0) return RLimDilations(l.K, l.RLim);
        int[] d = l.Dilations.ToArray();
        string text = "[" + string.Join(", ", d) + "]";
        if (d.Length != l.K) ctx.Invalid("Dilations", text, $"give one dilation per branch ({l.K}) or leave it out for the RLim rule");
        else if (d.Any(v => v < 1)) ctx.Invalid("Dilations", text, "dilations must be 1 or more");
        return ctx.Failed ? null : d;
    }

    /// <summary>
    /// The unit's width must split into K equal branches whose width is itself the output of a K-group 1x1
    /// (so a multiple of K x K), and its input must split into K groups. <paramref name="offset"/> is what the
    /// layer's Out adds to the unit's width (a DownSampler's input channels), for the suggested fix.
    /// </summary>
    public static bool CheckWidths(ShapeContext ctx, int inChannels, int width, string widthText, int offset)
    {
        var l = ctx.Layer;
        int k = l.K, kk = k * k;
        if (width % kk != 0)
        {
            int down = width / kk * kk, up = down + kk;
            string fix = down > 0 ? $"use Out = {offset + down} or {offset + up}" : $"use Out = {offset + up}";
            ctx.Error("ESPN0014", "Out", l.Name, widthText, kk, k, fix);
            return false;
        }
        if (inChannels % k != 0)
        {
            ctx.Error("ESPN0015", "#1", l.Name, inChannels, k, l.Inputs[0]);
            return false;
        }
        return true;
    }
}
