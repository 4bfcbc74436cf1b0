using System.Collections.Generic;
using System.Linq;
using Espnet.Compiled.Generator.Model;
using Espnet.Compiled.Generator.Plan.Schedule;

namespace Espnet.Compiled.Generator.Plan.Passes;

/// <summary>
/// A bilinear upsampling, a depth-wise 3x3 over its result and an adaptive average pooling of that back to the
/// first map's size (EfficientPyrPool's branches at scales 2 and 1.5), whose two intermediate maps nothing else
/// reads, become one <see cref="UpsampledDepthwisePool"/>: the intermediates (at 256x512, 10 channels at scale 2:
/// 21 MB each) are made and consumed a band of rows at a time in cache, never written out (and
/// <see cref="TrimScratch"/> gives back their room). Runs on the lowered ops, before <see cref="SelectKernels"/>.
/// </summary>
internal static class FuseUpsampledDepthwise
{
    public static LayerProgram Run(LayerProgram program)
    {
        var ops = program.Ops.ToList();
        var lets = ops.OfType<Let>().ToDictionary(l => l.Name, l => l.Of);
        View Resolve(View v) => lets.TryGetValue(v.Base, out var of) ? of.Slice(v.Offset, v.Length) : v;

        for (int i = 0; i + 2 < ops.Count; i++)
        {
            if (ops[i] is not Bilinear up || ops[i + 1] is not Conv c || ops[i + 2] is not AdaptiveAvgPool pool)
                continue;
            bool depthwise3x3 = c.Kernel == 3 && c.Stride == 1 && c.Dilation == 1 && c.Groups == up.C && c.Cin == up.C && c.Cout == up.C;
            if (!depthwise3x3 || !c.X.SameWindow(up.Y) || !pool.X.SameWindow(c.Y) || c.H != up.Ho || c.W != up.Wo || pool.C != up.C
                || pool.H != up.Ho || pool.W != up.Wo || pool.Ho != up.H || pool.Wo != up.W || up.Ho < up.H || up.Wo < up.W)
                continue;
            // The resized and convolved maps must be temporaries: not the layer's output, not read later.
            var gone = new List<View> { Resolve(up.Y), Resolve(c.Y) };
            if (gone.Any(v => v.Base == "y") || Resolve(pool.Y).Overlaps(Resolve(up.X)) || gone.Any(g => g.Overlaps(Resolve(pool.Y)))
                || ReadLater(ops, i + 3, gone, Resolve))
                continue;
            ops.RemoveRange(i, 3);
            ops.Insert(i, new UpsampledDepthwisePool(up.X, up.C, up.H, up.W, c.Weight, up.Ho, up.Wo, pool.Y, c.Counted));
        }
        return program with { Ops = ops.ToEquatableArray() };
    }

    /// <summary>
    /// Whether an op from <paramref name="from"/> on reads any part of <paramref name="gone"/> before it is written
    /// again. Only the ops whose outputs are known here count as writing (the next branch's resize, convolution
    /// and pooling, and the merge's shuffle, reuse these buffers); any other op naming a gone window counts as reading it.
    /// </summary>
    private static bool ReadLater(List<Op> ops, int from, List<View> gone, System.Func<View, View> resolve)
    {
        for (int k = from; k < ops.Count && gone.Count > 0; k++)
        {
            var written = ops[k] switch
            {
                Bilinear b => new[] { b.Y },
                AdaptiveAvgPool a => new[] { a.Y },
                Conv c => new[] { c.Y },
                Shuffle s => new[] { s.Y },
                Copy c => new[] { c.Y },
                FusedConv { Residual: null, Padding: null } f => new[] { f.Conv.Y },
                UpsampledDepthwisePool u => new[] { u.Y },
                _ => System.Array.Empty<View>(),
            };
            var writes = written.Select(resolve).ToList();
            var reads = OpViews.Of(ops[k]).Select(resolve).Where(v => !writes.Any(w => w.SameWindow(v)));
            if (reads.Any(r => gone.Any(g => g.Overlaps(r)))) return true;
            foreach (var w in writes) gone = gone.SelectMany(g => Minus(g, w)).ToList();
        }
        return false;
    }

    /// <summary>The parts of <paramref name="g"/> outside <paramref name="w"/>.</summary>
    private static IEnumerable<View> Minus(View g, View w)
    {
        if (!g.Overlaps(w))
        {
            yield return g;
            yield break;
        }
        if (g.Offset < w.Offset) yield return g.Slice(0, w.Offset - g.Offset);
        int end = g.Offset + g.Length, wEnd = w.Offset + w.Length;
        if (wEnd < end) yield return g.Slice(wEnd - g.Offset, end - wEnd);
    }
}
