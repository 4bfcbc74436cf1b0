using System.Collections.Generic;
using Espnet.Compiled.Generator.Model;
using Espnet.Compiled.Generator.Plan.Schedule;

namespace Espnet.Compiled.Generator.Plan.Passes;

/// <summary>
/// A bias and a PReLU right after the convolution that wrote their tensor become that convolution's epilogue,
/// applied while the result is still in registers instead of in two more passes over memory.
/// </summary>
internal static class FuseEpilogues
{
    public static LayerProgram Run(LayerProgram program)
    {
        var ops = program.Ops;
        var result = new List<Op>();
        for (int i = 0; i < ops.Count; i++)
        {
            if (ops[i] is Conv conv && SelectKernels.Runs(conv) && i + 1 < ops.Count && (ops[i + 1] is AddBias || ops[i + 1] is PRelu))
            {
                int j = i + 1;
                var bias = ops[j] is AddBias b && b.Y == conv.Y && b.C == conv.Cout ? b : null;
                if (bias is not null) j++;
                var slope = j < ops.Count && ops[j] is PRelu p && p.Y == conv.Y && p.C == conv.Cout ? p : null;
                if (bias is not null || slope is not null)
                {
                    result.Add(new FusedConv(conv, bias?.Bias, slope?.Slope, BiasCounted: bias?.Counted ?? false));
                    i = slope is null ? j - 1 : j;
                    continue;
                }
            }
            result.Add(ops[i]);
        }
        return program with { Ops = result.ToEquatableArray() };
    }
}
