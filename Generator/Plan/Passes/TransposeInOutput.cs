using System.Collections.Generic;
using System.Linq;
using Espnet.Compiled.Generator.Model;
using Espnet.Compiled.Generator.Plan.Schedule;
using Espnet.Compiled.Generator.Shape;

namespace Espnet.Compiled.Generator.Plan.Passes;

/// <summary>
/// A network-level pass: when the output layer is a 2x2 stride-2 transposed convolution (ESPNet's classifier),
/// its input — four times smaller than the output — need not occupy the arena. The producing convolution writes it
/// into the caller's output span, in the last ceil(C/4) output planes, rows blocked (four channels' row i side by
/// side in output rows 2i and 2i + 1 of one plane: <c>OutputLayout.RowBlocked</c>); the transposed convolution
/// then reads each input row out of exactly the output rows it is about to write
/// (<c>FastElementwise.ConvTranspose2x2InOutput</c>). ESPNet at 512x1024: the arena loses the 20x256x512 map
/// (10.5 MB), the buffers that the plan keeps in the output span before the last layer keep the first planes.
/// Only for a producer read by nothing else whose program is one dense spatial convolution writing all of y with
/// a plain epilogue (bias, PReLU: no residual or block BatchNorm, which address the output as NCHW).
/// </summary>
internal static class TransposeInOutput
{
    /// <summary>The producer and the float of the output span where its blocked output starts, or null.</summary>
    public static (int Producer, int InputAt)? Run(List<LayerProgram> programs, IReadOnlyList<ShapedLayer> layers, int outputLayer,
        IReadOnlyDictionary<int, (int Concat, int Offset)> alias, IReadOnlyDictionary<int, int> into)
    {
        var output = programs[outputLayer];
        if (layers[outputLayer].Inputs.Count != 1 || Single(output) is not ConvTranspose2x2 { Of: var t }) return null;
        int producer = layers[outputLayer].Inputs[0];
        if (producer < 0 || t.Kernel != 2 || t.Stride != 2 || !Whole(t.X, "x", t.Cin * t.H * t.W) || !Whole(t.Y, "y", t.Cout * t.Ho * t.Wo)) return null;
        // The producer's output must be read by the output layer alone and live in a buffer of its own.
        if (alias.ContainsKey(producer) || into.ContainsKey(producer) || into.Values.Contains(producer)
            || alias.Values.Any(a => a.Concat == producer)) return null;
        if (layers.Where((l, i) => i != outputLayer).Any(l => l.Inputs.Contains(producer))) return null;
        if (Single(programs[producer]) is not FusedConv { Residual: null, Norm: null, ResidualNorm: null } conv
            || conv.Conv.Groups != 1 || conv.Conv.Kernel == 1 || conv.Conv.Cout != t.Cin || conv.Conv.Ho != t.H || conv.Conv.Wo != t.W
            || !Whole(conv.Conv.Y, "y", t.Cin * t.H * t.W) || conv.Conv.X.Base == "y" || conv.Padding?.Base == "y")
            return null;
        int blocks = (t.Cin + 3) / 4, first = t.Cout - blocks;
        if (first < 0) return null;
        int inputAt = first * t.Ho * t.Wo;

        programs[producer] = Replace(programs[producer], conv, conv with { RowBlocked = true });
        programs[outputLayer] = Replace(output, Single(output)!, new ConvTranspose2x2InOutput(t, inputAt));
        return (producer, inputAt);
    }

    /// <summary>Floats the blocked C x H x W map spans, from its first float to its last (the runtime's <c>OutputLayout.RowBlocked(h, w).Span</c>).</summary>
    public static int BlockedFloats(int c, int h, int w) => (c - 1) / 4 * 4 * h * w + (c - 1) % 4 * w + (h - 1) * 4 * w + w;

    /// <summary>The program's one op besides notes and lets (null when there are more).</summary>
    private static Op? Single(LayerProgram p)
    {
        var ops = p.Ops.Where(op => op is not (Note or Let)).ToList();
        return ops.Count == 1 && !p.Ops.OfType<Let>().Any() ? ops[0] : null;
    }

    private static bool Whole(View v, string name, long floats) => v.Base == name && v.Offset == 0 && v.Length == floats;

    private static LayerProgram Replace(LayerProgram p, Op from, Op to) =>
        p with { Ops = p.Ops.Select(op => ReferenceEquals(op, from) ? to : op).ToEquatableArray() };
}
