using System.Collections.Generic;
using System.Linq;
using Espnet.Compiled.Generator.Model;
using Espnet.Compiled.Generator.Plan.Schedule;

namespace Espnet.Compiled.Generator.Plan.Passes;

/// <summary>
/// The BatchNorm + PReLU over an ESP block's concatenation (a <see cref="ScaleShift"/>, with the block's identity
/// residual) goes into the branch convolutions that wrote it: each branch's channels are normalised by the
/// convolution that last touches them — the next branch when it adds them (HFF: <c>ResidualNorm</c>, in place,
/// final at that moment), else the branch itself as it writes (<c>Norm</c>). One pass over the block's output
/// (three streams: the concatenation, the residual, the result; ~9% of ESPNet-C's time) goes. Runs after
/// <see cref="FuseSums"/>; bit-identical to the scale-shift (the same operations per element).
/// </summary>
internal static class FuseBlockNorm
{
    public static LayerProgram Run(LayerProgram program)
    {
        var ops = program.Ops.ToList();
        var lets = ops.OfType<Let>().ToDictionary(l => l.Name, l => l.Of);
        View Resolve(View v) => lets.TryGetValue(v.Base, out var of) ? of.Slice(v.Offset, v.Length) : v;
        for (int i = 0; i < ops.Count; i++)
            if (ops[i] is ScaleShift { From: null } norm) Fuse(ops, i, norm, Resolve);
        return program with { Ops = ops.ToEquatableArray() };
    }

    /// <summary>Rewrites the branches before <paramref name="at"/> and removes the scale-shift, when the pattern holds.</summary>
    private static bool Fuse(List<Op> ops, int at, ScaleShift norm, System.Func<View, View> resolve)
    {
        var block = resolve(norm.Y);
        // The branches: the convolutions right before it (comments between them allowed) writing inside the block.
        var branches = new List<int>();
        for (int j = at - 1; j >= 0; j--)
        {
            if (ops[j] is Note) continue;
            if (ops[j] is not FusedConv f || !block.Contains(resolve(f.Conv.Y))) break;
            branches.Insert(0, j);
        }
        if (branches.Count < 2) return false;
        var convs = branches.Select(j => (FusedConv)ops[j]).ToList();
        // They tile the block exactly, have no epilogue of their own, and read nothing of it but one another as residuals.
        var windows = convs.Select(f => resolve(f.Conv.Y)).OrderBy(v => v.Offset).ToList();
        if (windows[0].Offset != block.Offset || windows.Zip(windows.Skip(1), (a, b) => a.Offset + a.Length == b.Offset).Any(ok => !ok)
            || windows[windows.Count - 1].Offset + windows[windows.Count - 1].Length != block.Offset + block.Length)
            return false;
        if (norm.Residual is { } r && resolve(r).Overlaps(block)) return false;
        foreach (var f in convs)
            if (f.Bias is not null || f.Slope is not null || f.Norm is not null || f.ResidualNorm is not null || resolve(f.Conv.X).Overlaps(block)
                || f.Padding is { } p && resolve(p).Overlaps(block) || f.Input is not null || f.Conv.Ho * f.Conv.Wo != norm.Plane)
                return false;
        // Who adds each branch: at most one later branch, whose residual is exactly that branch's output.
        var reader = new int?[convs.Count];
        for (int m = 0; m < convs.Count; m++)
        {
            if (convs[m].Residual is not { } res) continue;
            var rw = resolve(res);
            if (!rw.Overlaps(block)) continue;
            int j = convs.FindIndex(f => resolve(f.Conv.Y).SameWindow(rw));
            if (j < 0 || j >= m || reader[j] is not null) return false;
            reader[j] = m;
        }
        var updated = convs.ToArray();
        for (int j = 0; j < convs.Count; j++)
        {
            var y = resolve(convs[j].Conv.Y);
            int first = (y.Offset - block.Offset) / norm.Plane, count = convs[j].Conv.Cout;
            var share = new BranchNorm(Slice(norm.Bn.Mean, first, count), Slice(norm.Scale, first, count), Slice(norm.Bn.Beta, first, count),
                norm.Slope is null ? null : Slice(norm.Slope, first, count), norm.Residual?.Slice(first * norm.Plane, count * norm.Plane));
            if (reader[j] is int m) updated[m] = updated[m] with { ResidualNorm = share };
            else updated[j] = updated[j] with { Norm = share };
        }
        for (int k = 0; k < branches.Count; k++) ops[branches[k]] = updated[k];
        ops[at] = new Note("the BatchNorm + PReLU over the concatenation: applied by the branches as they write");
        return true;
    }

    private static Param Slice(Param p, int first, int count) => new(p.Store, p.Offset + first, count, $"{p.Key}[{first}..{first + count})");

    private static bool Contains(this View outer, View inner) =>
        outer.Base == inner.Base && inner.Offset >= outer.Offset && inner.Offset + inner.Length <= outer.Offset + outer.Length;
}
