using Espnet.Compiled.Generator.Plan.Schedule;

namespace Espnet.Compiled.Generator.Plan.Passes;

/// <summary>Which passes run. The reference kernel set runs none: its schedule is exactly what lowering wrote.</summary>
/// <remarks><see cref="OutputInPlace"/>: the output layer writes the caller's output span, not the arena (no copy at the end, a smaller arena).</remarks>
public sealed record PassOptions(bool FoldBatchNorm, bool FuseEpilogues, bool FastKernels, bool OutputInPlace)
{
    public static PassOptions None { get; } = new(false, false, false, false);
    public static PassOptions Inference { get; } = new(true, true, true, true);
}

/// <summary>Runs the enabled passes over one layer's program, in order; each takes a program and returns one.</summary>
internal static class PassPipeline
{
    public static LayerProgram Run(LayerProgram program, DerivedLayout derived, PassOptions options)
    {
        if (options.FoldBatchNorm) program = Passes.FoldBatchNorm.Run(program, derived);
        if (options.FuseEpilogues) program = Passes.FuseEpilogues.Run(program);
        if (options.FastKernels)
        {
            program = FuseConvInputs.Run(SharePadding.Run(FuseSums.Run(SelectKernels.Run(FuseUpsampledDepthwise.Run(program)))));
            program = FuseBlockNorm.Run(FuseDepthwiseBranches.Run(program));
            program = TrimScratch.Run(program);
        }
        return program;
    }
}

/// <summary>The store of tensors computed from the loaded ones at load time (folded weights, BN scales).</summary>
internal sealed class DerivedLayout
{
    public int Offset { get; private set; }

    public Param Add(int length, string what)
    {
        var p = new Param(Store.Derived, Offset, length, what);
        Offset += (length + 15) / 16 * 16;
        return p;
    }
}
