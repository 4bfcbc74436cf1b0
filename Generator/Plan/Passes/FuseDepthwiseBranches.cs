using System.Collections.Generic;
using System.Linq;
using Espnet.Compiled.Generator.Model;
using Espnet.Compiled.Generator.Plan.Schedule;

namespace Espnet.Compiled.Generator.Plan.Passes;

/// <summary>
/// An EESP block's spatial part as <see cref="SharePadding"/> and <see cref="FuseSums"/> leave it — one padded
/// copy of the reduced map, K depth-wise 3x3 branches reading it into consecutive channel slices (branch k
/// adding branch k-1's output: HFF), usually a <see cref="ScaleShift"/> over the concatenation after them —
/// becomes one <see cref="DepthwiseBranches"/>: per channel and chunk of rows, the padding, every branch and the
/// normalisation while the rows are in cache, in one parallel call instead of K+2 (on ESPNetv2's small maps each
/// branch alone was too little work to share between threads). The padded copy goes, and with it its scratch.
/// Runs after <see cref="FuseConvInputs"/>; needs the branches' weights evenly spaced in one store (the
/// authors' registration order puts them one after another).
/// </summary>
internal static class FuseDepthwiseBranches
{
    public static LayerProgram Run(LayerProgram program)
    {
        var ops = program.Ops.ToList();
        var lets = ops.OfType<Let>().ToDictionary(l => l.Name, l => l.Of);
        View Resolve(View v) => lets.TryGetValue(v.Base, out var of) ? of.Slice(v.Offset, v.Length) : v;
        var result = new List<Op>();
        for (int i = 0; i < ops.Count; i++)
        {
            if (ops[i] is PadInput pad && Match(ops, i, pad, Resolve) is { } fused)
            {
                // The comments of the ops it absorbed become one line naming them (each up to its first colon).
                var names = ops.GetRange(i + 1, fused.End - i - 1).OfType<Note>().Select(n => n.Text.Split(':')[0]).ToList();
                if (names.Count > 0) result.Add(new Note("in the same kernel: " + string.Join(", ", names)));
                result.Add(fused.Op);
                i = fused.End - 1;
                continue;
            }
            result.Add(ops[i]);
        }
        return program with { Ops = result.ToEquatableArray() };
    }

    private sealed record Fused(DepthwiseBranches Op, int End);

    private static Fused? Match(List<Op> ops, int at, PadInput pad, System.Func<View, View> resolve)
    {
        var branches = new List<FusedConv>();
        int end = at + 1;
        for (int j = at + 1; j < ops.Count; j++)
        {
            if (ops[j] is Note) continue;
            if (ops[j] is not FusedConv f || !IsBranch(f, pad)) break;
            branches.Add(f);
            end = j + 1;
        }
        if (branches.Count < 2) return null;
        var first = branches[0].Conv;
        int c = pad.C, plane = first.Ho * first.Wo;
        bool hff = branches[1].Residual is not null;
        int weightStride = branches[1].Conv.Weight.Offset - first.Weight.Offset;
        if (weightStride < c * 9) return null;
        for (int k = 0; k < branches.Count; k++)
        {
            var f = branches[k];
            // Consecutive channel slices of one tensor, and the weights evenly spaced in one store.
            if (f.Conv.Y.Base != first.Y.Base || f.Conv.Y.Offset != first.Y.Offset + k * c * plane || f.Conv.Ho != first.Ho || f.Conv.Wo != first.Wo
                || f.Conv.Weight.Store != first.Weight.Store || f.Conv.Weight.Offset != first.Weight.Offset + k * weightStride || f.Conv.Counted != first.Counted)
                return null;
            var expected = k > 0 && hff ? branches[k - 1].Conv.Y : null;
            if (expected is null ? f.Residual is not null : f.Residual is null || !f.Residual.SameWindow(expected)) return null;
        }
        var y = new View(first.Y.Base, first.Y.Offset, branches.Count * c * plane, true);
        // Items read the input while others write the output: they must not share a float.
        if (resolve(pad.X).Overlaps(resolve(y))) return null;
        // The BatchNorm + PReLU over exactly the concatenation, when it comes next.
        ScaleShift? norm = null;
        int next = end;
        while (next < ops.Count && ops[next] is Note) next++;
        if (next < ops.Count && ops[next] is ScaleShift { Residual: null, From: null } s && s.C == branches.Count * c && s.Plane == plane
            && resolve(s.Y).SameWindow(resolve(y)))
        {
            norm = s;
            end = next + 1;
        }
        // The padded copy must be read by nothing after the fused ops (a later convolution padding its own input
        // into the same scratch writes it, and does not count).
        var padded = resolve(pad.Padded);
        if (ops.Skip(end).Where(op => op is not Let).SelectMany(ReadViews).Select(resolve).Any(v => v.Overlaps(padded))) return null;
        var weights = new Param(first.Weight.Store, first.Weight.Offset, (branches.Count - 1) * weightStride + c * 9, string.Join(" + ", branches.Select(b => b.Conv.Weight.Key)));
        var op = new DepthwiseBranches(pad.X, c, pad.H, pad.W, pad.Stride, weights, weightStride, branches.Select(b => b.Conv.Dilation).ToEquatableArray(), hff,
            norm?.Y ?? y, first.Ho, first.Wo, norm, first.Counted);
        return new Fused(op, end);
    }

    /// <summary>The views an op may read: all it names but the scratch a convolution or a padding writes its padded copy into.</summary>
    private static IEnumerable<View> ReadViews(Op op) => op switch
    {
        FusedConv { Padding: { } p } f => OpViews.Of(f).Where(v => !ReferenceEquals(v, p)),
        PadInput p => new[] { p.X },
        _ => OpViews.Of(op),
    };

    /// <summary>A depth-wise 3x3 over the whole padded copy, with no bias, activation or input transform of its own.</summary>
    private static bool IsBranch(FusedConv f, PadInput pad) =>
        f is { Bias: null, Slope: null, Input: null, Padding: null, BiasCounted: false } && f.InputHalo == pad.Halo && f.Conv.X.SameWindow(pad.Padded)
        && f.Conv.Kernel == 3 && f.Conv.Stride == pad.Stride && f.Conv.Groups == pad.C && f.Conv.Cin == pad.C && f.Conv.Cout == pad.C
        && f.Conv.H == pad.H && f.Conv.W == pad.W && f.Conv.Dilation <= pad.Halo;
}
