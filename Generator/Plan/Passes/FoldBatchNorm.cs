using System.Collections.Generic;
using Espnet.Compiled.Generator.Model;
using Espnet.Compiled.Generator.Plan.Schedule;

namespace Espnet.Compiled.Generator.Plan.Passes;

/// <summary>
/// Inference only. A BatchNorm right after the convolution that wrote its whole tensor folds into that
/// convolution's weights and bias (computed once at load, in double); its PReLU becomes the convolution's
/// epilogue. A BatchNorm that cannot fold (after a copy, a sum, or over several producers) becomes one
/// scale-shift pass, with its PReLU.
/// </summary>
internal static class FoldBatchNorm
{
    public static LayerProgram Run(LayerProgram program, DerivedLayout derived)
    {
        var ops = program.Ops;
        var result = new List<Op>();
        var prepare = new List<Op>(program.Prepare);
        for (int i = 0; i < ops.Count; i++)
        {
            if (ops[i] is Conv conv && SelectKernels.Runs(conv))
            {
                int j = i + 1;
                var bias = j < ops.Count && ops[j] is AddBias { Counted: false } b && b.Y == conv.Y ? b : null;
                if (bias is not null) j++;
                if (j < ops.Count && ops[j] is BatchNorm bn && bn.Y == conv.Y && bn.C == conv.Cout && bn.Plane == conv.Ho * conv.Wo)
                {
                    var slope = j + 1 < ops.Count && ops[j + 1] is PRelu p && p.Y == conv.Y ? p : null;
                    var weight = derived.Add(conv.Weight.Length, "folded " + conv.Weight.Key);
                    var folded = derived.Add(conv.Cout, "folded bias of " + conv.Weight.Key);
                    prepare.Add(new FoldIntoConv(conv.Weight, bias?.Bias, bn.Bn, bn.Eps, conv.Cout, weight, folded));
                    result.Add(new FusedConv(conv with { Weight = weight }, folded, slope?.Slope));
                    i = slope is null ? j : j + 1;
                    continue;
                }
            }
            // copy x -> y; BN(y)  ==>  scale-shift reading x (a BatchNorm layer without its copy).
            if (ops[i] is Copy copy && i + 1 < ops.Count && ops[i + 1] is BatchNorm after && after.Y.SameWindow(copy.Y) && copy.X.Length == copy.Y.Length)
            {
                var slope = i + 2 < ops.Count && ops[i + 2] is PRelu p && p.Y.SameWindow(after.Y) && p.C == after.C ? p : null;
                var scale = derived.Add(after.C, "scale of " + after.Bn.Gamma.Key);
                prepare.Add(new BatchNormScale(after.Bn, after.Eps, after.C, scale));
                result.Add(new ScaleShift(after.Y, after.C, after.Plane, after.Bn, scale, slope?.Slope, From: copy.X));
                i += slope is null ? 1 : 2;
                continue;
            }
            if (ops[i] is BatchNorm alone)
            {
                var slope = i + 1 < ops.Count && ops[i + 1] is PRelu p && p.Y == alone.Y && p.C == alone.C ? p : null;
                var scale = derived.Add(alone.C, "scale of " + alone.Bn.Gamma.Key);
                prepare.Add(new BatchNormScale(alone.Bn, alone.Eps, alone.C, scale));
                result.Add(new ScaleShift(alone.Y, alone.C, alone.Plane, alone.Bn, scale, slope?.Slope));
                if (slope is not null) i++;
                continue;
            }
            result.Add(ops[i]);
        }
        return program with { Ops = result.ToEquatableArray(), Prepare = prepare.ToEquatableArray() };
    }
}
