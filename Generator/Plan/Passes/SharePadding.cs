using System.Collections.Generic;
using System.Linq;
using Espnet.Compiled.Cpu.Fast;
using Espnet.Compiled.Generator.Model;
using Espnet.Compiled.Generator.Plan.Schedule;

namespace Espnet.Compiled.Generator.Plan.Passes;

/// <summary>
/// The K dilated branches of an ESP or EESP block read the same map, and each would pad its own copy of it.
/// A run of consecutive spatial convolutions over one input (same shape and stride) instead reads one copy
/// padded by the largest halo among them, made once before the first: K-1 copies of the map saved.
/// </summary>
internal static class SharePadding
{
    public static LayerProgram Run(LayerProgram program)
    {
        var ops = program.Ops.ToList();
        var result = new List<Op>();
        int scratch = program.ScratchFloats;
        for (int i = 0; i < ops.Count; i++)
        {
            if (ops[i] is not FusedConv { Padding: not null, InputHalo: 0 } first)
            {
                result.Add(ops[i]);
                continue;
            }
            // The run: this convolution and the ones after it over the same input (comments between them allowed).
            int end = i + 1, last = i;
            while (end < ops.Count && (ops[end] is Note || ops[end] is FusedConv { Padding: not null, InputHalo: 0 } next && SameInput(next.Conv, first.Conv)))
            {
                if (ops[end] is FusedConv) last = end;
                end++;
            }
            end = last + 1;
            var group = ops.GetRange(i, end - i).OfType<FusedConv>().ToList();
            if (group.Count < 2)
            {
                result.Add(ops[i]);
                continue;
            }
            int halo = group.Max(f => (f.Conv.Kernel - 1) / 2 * f.Conv.Dilation);
            var c = first.Conv;
            var padded = View.Of("scratch", 0).Slice(first.Padding!.Offset, checked((int)ConvPlan.PaddedFloats(c.Cin, c.H, c.W, halo)));
            scratch = System.Math.Max(scratch, padded.Offset + padded.Length);
            result.Add(new PadInput(c.X, c.Cin, c.H, c.W, halo, c.Stride, padded));
            foreach (var op in ops.GetRange(i, end - i))
                result.Add(op is FusedConv f ? f with { Conv = f.Conv with { X = padded }, Padding = null, InputHalo = halo } : op);
            i = end - 1;
        }
        return program with { Ops = result.ToEquatableArray(), ScratchFloats = scratch };
    }

    private static bool SameInput(Conv a, Conv b) =>
        a.X.SameWindow(b.X) && a.Cin == b.Cin && a.H == b.H && a.W == b.W && a.Stride == b.Stride && !a.Y.Overlaps(b.X);
}
