using System.Globalization;
using Espnet.Compiled.Generator.Plan.Schedule;
using Espnet.Compiled.Generator.Shape;

namespace Espnet.Compiled.Generator.Plan.Lower;

/// <summary>
/// EdgeNets' EfficientPyrPool: 1x1 projection (CBR), one depth-wise 3x3 per scale at that scale's size (pooled
/// or upsampled there and back), BR over the concatenation, channel shuffle, grouped 3x3 CBR, 1x1 (+ BR or bias).
/// Every branch size is a constant worked out here.
/// </summary>
internal static class PyramidPoolLowering
{
    /// <summary>The size a branch's depth-wise stage runs at.</summary>
    public static (int H, int W) BranchSize(Dims x, double scale) =>
        scale == 1.0 ? (x.H, x.W) : (PyramidPoolShape.Scaled(x.H, scale), PyramidPoolShape.Scaled(x.W, scale));

    /// <summary>
    /// Scratch layout (floats, aligned): p | cat | temporaries. A branch's resized map sits at the start of the
    /// temporaries and its depth-wise output right after it (so a small branch's pair stays small); the branches
    /// are done before the merge, so merged, then shuffled, reuse the same room.
    /// </summary>
    public static (int P, int Cat, int Merged, int Shuffled, int Temps, int Total) ScratchLayout(Dims x, int proj)
    {
        int plane = x.H * x.W, branches = PyramidPoolShape.Scales.Length, largest = plane;
        foreach (double s in PyramidPoolShape.Scales)
        {
            var (h, w) = BranchSize(x, s);
            largest = System.Math.Max(largest, h * w);
        }
        int p = Arena.Align(proj * plane), cat = Arena.Align(branches * proj * plane), tmp = Arena.Align(proj * largest);
        int temps = p + cat, size = System.Math.Max(2 * tmp, p + cat);
        return (0, p, temps, temps + p, temps, temps + size);
    }

    public static void Lower(LayerBuilder b)
    {
        var l = b.Spec;
        var x = b.X;
        int cin = x.C, proj = l.Proj, plane = x.H * x.W, branches = PyramidPoolShape.Scales.Length;
        string n = l.Name + ".";

        // The authors register the stages before the projection; the store follows their order.
        var stages = new Param[branches];
        for (int i = 0; i < branches; i++) stages[i] = b.Param(n + "stages." + i + ".weight", SlotRole.Weight, proj, 1, 3, 3);
        var projW = b.Param(n + "projection_layer.cbr.0.weight", SlotRole.Weight, proj, cin, 1, 1);
        var projBn = b.BatchNorm(n + "projection_layer.cbr.1.", proj);
        var projAct = b.PRelu(n + "projection_layer.cbr.2.weight", proj);
        var mergeBn = b.BatchNorm(n + "merge_layer.0.br.0.", branches * proj);
        var mergeAct = b.PRelu(n + "merge_layer.0.br.1.weight", branches * proj);
        var mergeW = b.Param(n + "merge_layer.2.cbr.0.weight", SlotRole.Weight, proj, branches, 3, 3);
        var mergeBn2 = b.BatchNorm(n + "merge_layer.2.cbr.1.", proj);
        var mergeAct2 = b.PRelu(n + "merge_layer.2.cbr.2.weight", proj);
        var lastW = b.Param(n + "merge_layer.3.weight", SlotRole.Weight, l.Out, proj, 1, 1);
        var lastBias = l.Bias ? b.Param(n + "merge_layer.3.bias", SlotRole.Bias, l.Out) : null;
        var lastBn = l.BatchNorm ? b.BatchNorm(n + "br.br.0.", l.Out) : null;
        var lastAct = l.BatchNorm ? b.PRelu(n + "br.br.1.weight", l.Out) : null;
        b.Description = $"EfficientPyrPool proj {l.Proj}, scales 2/1.5/1/0.5/0.1" + (l.BatchNorm ? " + BR" : " +bias");

        var s = ScratchLayout(x, proj);
        b.ReserveScratch(s.Total);
        var input = b.Input();
        var y = b.Output;
        var p = b.Let("p", b.Scratch(s.P, proj * plane));
        var cat = b.Let("cat", b.Scratch(s.Cat, branches * proj * plane));
        var shuffled = b.Let("shuffled", b.Scratch(s.Shuffled, branches * proj * plane));
        var merged = b.Let("merged", b.Scratch(s.Merged, proj * plane));
        b.Note($"projection: 1x1 {x.C} -> {proj}, BN, PReLU");
        b.Emit(new Conv(input, x.C, x.H, x.W, projW, p, proj, x.H, x.W, 1, 1, 1, 1));
        b.BatchNormPRelu(p, proj, plane, projBn, projAct, l.Eps);

        for (int i = 0; i < branches; i++)
        {
            double scale = PyramidPoolShape.Scales[i];
            var (h, w) = BranchSize(x, scale);
            var slot = cat.Slice(i * proj * plane, proj * plane);
            var a = b.Scratch(s.Temps, proj * h * w);
            var c = b.Scratch(s.Temps + Arena.Align(proj * h * w), proj * h * w);
            b.Note($"branch {i}: scale {scale.ToString(CultureInfo.InvariantCulture)} -> {h}x{w}");
            if (scale < 1)
            {
                b.Emit(new AdaptiveAvgPool(p, proj, x.H, x.W, a, h, w));
                b.Emit(new Conv(a, proj, h, w, stages[i], c, proj, h, w, 3, 1, 1, proj));
                b.Emit(new Bilinear(c, proj, h, w, slot, x.H, x.W));
            }
            else if (scale > 1)
            {
                b.Emit(new Bilinear(p, proj, x.H, x.W, a, h, w));
                b.Emit(new Conv(a, proj, h, w, stages[i], c, proj, h, w, 3, 1, 1, proj));
                b.Emit(new AdaptiveAvgPool(c, proj, h, w, slot, x.H, x.W));
            }
            else
                b.Emit(new Conv(p, proj, x.H, x.W, stages[i], slot, proj, x.H, x.W, 3, 1, 1, proj));
        }
        b.Note("merge: BR, shuffle, grouped 3x3 CBR, 1x1");
        b.BatchNormPRelu(cat, branches * proj, plane, mergeBn, mergeAct, l.Eps);
        b.Emit(new Shuffle(cat, branches * proj, plane, branches, shuffled));
        b.Emit(new Conv(shuffled, branches * proj, x.H, x.W, mergeW, merged, proj, x.H, x.W, 3, 1, 1, proj));
        b.BatchNormPRelu(merged, proj, plane, mergeBn2, mergeAct2, l.Eps);
        b.Emit(new Conv(merged, proj, x.H, x.W, lastW, y, l.Out, x.H, x.W, 1, 1, 1, 1));
        // EdgeNets' counter adds the final conv's bias per output element.
        if (lastBias is not null) b.Emit(new AddBias(y, l.Out, plane, lastBias, Counted: true));
        if (lastBn is not null) b.BatchNormPRelu(y, l.Out, plane, lastBn, lastAct, l.Eps);
    }
}
