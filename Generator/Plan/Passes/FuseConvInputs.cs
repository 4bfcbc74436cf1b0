using System.Collections.Generic;
using System.Linq;
using Espnet.Compiled.Generator.Model;
using Espnet.Compiled.Generator.Plan.Schedule;

namespace Espnet.Compiled.Generator.Plan.Passes;

/// <summary>
/// A scale-shift (BN + PReLU, in place) then a channel shuffle into a second buffer, read by nothing but the
/// spatial convolution that follows, become that convolution's <see cref="ConvInput"/>: the kernel applies both
/// while it pads its input, and the two passes over the tensor (and the shuffled copy's traffic) go.
/// EfficientPyrPool's merge is the case: at 256x512 the two passes moved 100 MB.
/// </summary>
internal static class FuseConvInputs
{
    public static LayerProgram Run(LayerProgram program)
    {
        var ops = program.Ops.ToList();
        var lets = ops.OfType<Let>().ToDictionary(l => l.Name, l => l.Of);
        View Resolve(View v) => lets.TryGetValue(v.Base, out var of) ? of.Slice(v.Offset, v.Length) : v;

        for (int i = 0; i + 2 < ops.Count; i++)
        {
            if (ops[i] is not ScaleShift { Residual: null, From: null } s || ops[i + 1] is not FastShuffle { Of: var shuffle }
                || ops[i + 2] is not FusedConv { Padding: not null, InputHalo: 0, Input: null } conv)
                continue;
            if (!shuffle.X.SameWindow(s.Y) || !conv.Conv.X.SameWindow(shuffle.Y) || conv.Conv.Stride != 1 || conv.Conv.Kernel == 1
                || s.C != shuffle.C || s.Plane != shuffle.Plane || s.C != conv.Conv.Cin || s.Plane != conv.Conv.H * conv.Conv.W)
                continue;
            // Neither buffer may be the layer's output or read later: the transformed values now never exist.
            var gone = new[] { Resolve(s.Y), Resolve(shuffle.Y) };
            if (gone.Any(v => v.Base == "y") || ops.Skip(i + 3).SelectMany(OpViews.Of).Any(v => gone.Any(g => g.Overlaps(Resolve(v)))))
                continue;
            var fused = conv with { Conv = conv.Conv with { X = s.Y }, Input = new ConvInput(shuffle.Groups, s.Bn, s.Scale, s.Slope) };
            ops.RemoveRange(i, 3);
            ops.Insert(i, fused);
        }
        return program with { Ops = ops.ToEquatableArray() };
    }
}
