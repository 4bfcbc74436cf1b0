using System.Collections.Generic;
using System.Linq;
using Espnet.Compiled.Generator.Model;
using Espnet.Compiled.Generator.Plan.Schedule;

namespace Espnet.Compiled.Generator.Plan.Passes;

/// <summary>
/// A layer's scratch shrinks to what its ops still name: a lowering reserves room for every intermediate it
/// writes, and the fusing passes leave some unwritten (EfficientPyrPool's upsampled maps once
/// <see cref="FuseUpsampledDepthwise"/> has run, its shuffled copy once <see cref="FuseConvInputs"/> has). Names no
/// op reads go; the padding window <see cref="SelectKernels"/> placed after the lowering's scratch moves down to
/// the end of what is left; the scratch ends where the last window ends. The last fast pass: every op then names
/// the scratch it uses as a view.
/// </summary>
internal static class TrimScratch
{
    public static LayerProgram Run(LayerProgram program)
    {
        var named = program.Ops.Where(op => op is not Let).SelectMany(OpViews.Of).ToList();
        var used = new HashSet<string>(named.Select(v => v.Base));
        var ops = program.Ops.Where(op => op is not Let l || used.Contains(l.Name)).ToList();
        var lets = ops.OfType<Let>().ToDictionary(l => l.Name, l => l.Of);
        View Resolve(View v) => lets.TryGetValue(v.Base, out var of) ? of.Slice(v.Offset, v.Length) : v;

        // The padding window: where the padded copies live (the lowering's own views never reach it).
        var padding = ops.SelectMany(PaddingViews).ToList();
        int padAt = padding.Count == 0 ? int.MaxValue : padding.Min(v => v.Offset);
        int end = 0;
        foreach (var v in ops.Where(op => op is not Let).SelectMany(OpViews.Of).Concat(lets.Values).Select(Resolve))
            if (v.Base == "scratch" && v.Offset < padAt) end = System.Math.Max(end, v.Offset + v.Length);
        int delta = padding.Count == 0 ? 0 : padAt - Arena.Align(end);
        if (delta > 0)
        {
            View Move(View v) => v.Base == "scratch" && v.Offset >= padAt ? v with { Offset = v.Offset - delta } : v;
            ops = ops.Select(op => op switch
            {
                FusedConv f => f with { Conv = f.Conv with { X = Move(f.Conv.X) }, Padding = f.Padding is null ? null : Move(f.Padding) },
                PadInput p => p with { Padded = Move(p.Padded) },
                _ => op,
            }).ToList();
        }
        foreach (var v in ops.Where(op => op is not Let).SelectMany(OpViews.Of).Concat(lets.Values).Select(Resolve))
            if (v.Base == "scratch") end = System.Math.Max(end, v.Offset + v.Length);
        return program with { Ops = ops.ToEquatableArray(), ScratchFloats = System.Math.Min(program.ScratchFloats, end) };
    }

    private static IEnumerable<View> PaddingViews(Op op) => op switch
    {
        FusedConv { Padding: { } p } => new[] { p },
        PadInput p => new[] { p.Padded },
        _ => System.Array.Empty<View>(),
    };
}
