using System.Collections.Generic;
using Espnet.Compiled.Cpu.Fast;
using Espnet.Compiled.Generator.Model;
using Espnet.Compiled.Generator.Plan.Schedule;

namespace Espnet.Compiled.Generator.Plan.Passes;

/// <summary>
/// Every convolution the fast kernels can run becomes a <see cref="FusedConv"/> (plain ones with no epilogue),
/// and each spatial one gets a window of scratch to pad its input into: one region after the layer's own
/// scratch, as large as the largest need (the layer's convolutions run one after another). Pooling, resizing,
/// copies, shuffles, gates and the 2x2 stride-2 transposed convolution get their fast forms (sums and PReLUs are
/// left to <see cref="FuseSums"/>). Anything else (a transposed convolution of another shape) stays on the plain kernels.
/// </summary>
internal static class SelectKernels
{
    public static LayerProgram Run(LayerProgram program)
    {
        int padAt = Arena.Align(program.ScratchFloats);
        long padFloats = 0;
        var result = new List<Op>();
        foreach (var op in program.Ops)
        {
            var fused = op switch
            {
                FusedConv f => f,
                Conv c => new FusedConv(c, null, null),
                _ => null,
            };
            if (fused is not null && Runs(fused.Conv))
            {
                var c = fused.Conv;
                long pad = ConvPlan.PaddedFloats(c.Cin, c.H, c.W, c.Kernel, c.Stride, c.Dilation, c.Groups);
                if (pad > 0)
                {
                    padFloats = System.Math.Max(padFloats, pad);
                    fused = fused with { Padding = View.Of("scratch", 0).Slice(padAt, checked((int)pad)) };
                }
                result.Add(fused);
            }
            else if (op is GlobalAvgPool gap)
                result.Add(new FastGlobalAvgPool(gap));
            else if (op is SigmoidGate gate)
                result.Add(new FastSigmoidGate(gate));
            else if (op is Copy copy)
                result.Add(new FastCopy(copy));
            else if (op is Shuffle shuffle)
                result.Add(new FastShuffle(shuffle));
            else if (op is AvgPool pool)
                result.Add(new FastAvgPool(pool));
            else if (op is Bilinear resize)
                result.Add(new FastBilinear(resize));
            else if (op is AdaptiveAvgPool adaptive)
                result.Add(new FastAdaptiveAvgPool(adaptive));
            else if (op is ConvTranspose { Kernel: 2, Stride: 2 } t)
                result.Add(new ConvTranspose2x2(t));
            else
                result.Add(op);
        }
        return program with
        {
            Ops = result.ToEquatableArray(),
            ScratchFloats = padFloats > 0 ? checked(padAt + (int)padFloats) : program.ScratchFloats,
        };
    }

    /// <summary>Whether the fast convolution kernels run this convolution (strides 1 and 2); the other passes fuse only those.</summary>
    public static bool Runs(Conv c) => c.Stride is 1 or 2;
}
