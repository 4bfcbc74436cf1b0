using Espnet.Compiled.Generator.Plan.Schedule;
using Espnet.Compiled.Generator.Shape;

namespace Espnet.Compiled.Generator.Plan.Lower;

/// <summary>Input reinforcement's repeated average pooling (3x3 / 2 / pad 1), ping-ponging through scratch.</summary>
internal static class AvgPoolLowering
{
    public static void Lower(LayerBuilder b)
    {
        var l = b.Spec;
        b.Description = $"avgpool 3x3/2 x{l.Times}";
        int h = b.X.H, w = b.X.W, ch = b.X.C;
        int half = 0;
        if (l.Times > 1)
        {
            half = Arena.Align(ch * ShapeContext.ConvOut(h, 3, 2, 1) * ShapeContext.ConvOut(w, 3, 2, 1));
            b.ReserveScratch(2 * half);
        }
        var source = b.Input();
        for (int i = 0; i < l.Times; i++)
        {
            int ho = (h - 1) / 2 + 1, wo = (w - 1) / 2 + 1;
            var target = i == l.Times - 1 ? b.Output : b.Scratch(i % 2 * half, ch * ho * wo);
            b.Emit(new AvgPool(source, ch, h, w, target, ho, wo));
            source = target;
            h = ho; w = wo;
        }
    }
}
