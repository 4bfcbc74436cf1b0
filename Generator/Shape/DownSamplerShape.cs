using System.Collections.Generic;
using Espnet.Compiled.Generator.Model;

namespace Espnet.Compiled.Generator.Shape;

/// <summary>Strided EESP (ESPNetv2's DownSampler): widths, output size and the image pooling count.</summary>
internal static class DownSamplerShape
{
    /// <summary>The authors' input reinforcement is CBR(3 -> 3) then CB(3 -> Out): it takes an RGB image.</summary>
    public const int ImageChannels = 3;

    public static (Dims Out, int[] Dilations, int ImagePools)? Infer(ShapeContext ctx, Dims x, Dims? image)
    {
        var l = ctx.Layer;
        if (l.Reinforce && !l.ReinforcementWeights)
            ctx.Invalid("ReinforcementWeights", "false", "input reinforcement runs the inp_reinf weights; set ReinforcementWeights = true or Reinforce = false");
        if (l.Reinforce && image is { C: not ImageChannels } img)
            ctx.Invalid("Reinforce", "true", $"the authors' input reinforcement takes a {ImageChannels}-channel image, and this network's input has {img.C}");
        var dilations = EespShape.Branches(ctx);
        if (ctx.Failed || dilations is null) return null;
        if (l.Out <= x.C)
        {
            ctx.Error("ESPN0017", "Out", l.Name, l.Out, x.C, x.C + l.K * l.K);
            return null;
        }
        int width = l.Out - x.C;
        if (!EespShape.CheckWidths(ctx, x.C, width, $"Out - input channels = {l.Out} - {x.C} = {width}", x.C)) return null;

        var output = new Dims(l.Out, ShapeContext.ConvOut(x.H, 3, 2, 1), ShapeContext.ConvOut(x.W, 3, 2, 1));
        int pools = 0;
        if (l.Reinforce && image is { } i)
        {
            // The authors pool at least once, then until the height (only the height) equals the output's.
            var heights = new List<int>();
            int h = i.H, w = i.W;
            do
            {
                h = ShapeContext.ConvOut(h, 3, 2, 1);
                w = ShapeContext.ConvOut(w, 3, 2, 1);
                heights.Add(h);
                pools++;
            } while (h > output.H && h > 1);
            if (h != output.H)
            {
                ctx.Error("ESPN0018", "Reinforce", l.Name, i, output.H,
                    $"the heights go {string.Join(", ", heights)} and never reach {output.H}, so the authors' loop would never end");
                return null;
            }
            if (w != output.W)
            {
                ctx.Error("ESPN0018", "Reinforce", l.Name, i, output.H,
                    $"after {pools} pooling{(pools == 1 ? "" : "s")} the image is {ImageChannels}x{h}x{w}, but the output is {output}, so the sum cannot be formed");
                return null;
            }
        }
        // The dilated taps run over the input map (the stride only subsamples where they land).
        ctx.CheckReach(3, dilations, x, l.Dilations.Count == 0 ? "RLim" : "Dilations");
        return (output, dilations, pools);
    }
}
