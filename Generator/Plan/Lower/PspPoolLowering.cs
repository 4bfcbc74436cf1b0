using Espnet.Compiled.Generator.Plan.Schedule;

namespace Espnet.Compiled.Generator.Plan.Lower;

/// <summary>PSP module of the older ESPNetv2 head: [x, up(dw(pool(x))), up(dw(pool²(x))), ...] projected by a 1x1 CBR.</summary>
internal static class PspPoolLowering
{
    /// <summary>Scratch: cat | pooled ping | pooled pong | branch output.</summary>
    public static (int Cat, int A, int B, int Conv, int Total) ScratchLayout(Shape.Dims x, int levels)
    {
        int cat = Arena.Align((levels + 1) * x.C * x.H * x.W);
        int half = Arena.Align(x.C * ((x.H - 1) / 2 + 1) * ((x.W - 1) / 2 + 1));
        return (0, cat, cat + half, cat + 2 * half, cat + 3 * half);
    }

    public static void Lower(LayerBuilder b)
    {
        var l = b.Spec;
        var x = b.X;
        int f = x.C, plane = x.H * x.W;
        string n = l.Name + ".";
        var stages = new Param[l.Times];
        for (int i = 0; i < l.Times; i++) stages[i] = b.Param(n + "stages." + i + ".conv.weight", SlotRole.Weight, f, 1, 3, 3);
        var project = b.Param(n + "project.conv.weight", SlotRole.Weight, l.Out, (l.Times + 1) * f, 1, 1);
        var bn = b.BatchNorm(n + "project.bn.", l.Out);
        var act = b.PRelu(n + "project.act.weight", l.Out);
        b.Description = $"PSP pool, {l.Times} levels";

        var s = ScratchLayout(x, l.Times);
        b.ReserveScratch(s.Total);
        var input = b.Input();
        var cat = b.Let("cat", b.Scratch(s.Cat, (l.Times + 1) * x.C * plane));
        b.Emit(new Copy(input, cat));
        var source = input;
        int h = x.H, w = x.W;
        for (int i = 0; i < l.Times; i++)
        {
            int ho = (h - 1) / 2 + 1, wo = (w - 1) / 2 + 1;
            var pooled = b.Scratch(i % 2 == 0 ? s.A : s.B, x.C * ho * wo);
            var conv = b.Scratch(s.Conv, x.C * ho * wo);
            b.Note($"level {i + 1}: pooled to {ho}x{wo}");
            b.Emit(new AvgPool(source, x.C, h, w, pooled, ho, wo));
            b.Emit(new Conv(pooled, x.C, ho, wo, stages[i], conv, x.C, ho, wo, 3, 1, 1, x.C));
            b.Emit(new Bilinear(conv, x.C, ho, wo, cat.Slice((i + 1) * x.C * plane, x.C * plane), x.H, x.W));
            source = pooled;
            h = ho; w = wo;
        }
        b.Emit(new Conv(cat, (l.Times + 1) * x.C, x.H, x.W, project, b.Output, l.Out, x.H, x.W, 1, 1, 1, 1));
        b.BatchNormPRelu(b.Output, l.Out, plane, bn, act, l.Eps);
    }
}
