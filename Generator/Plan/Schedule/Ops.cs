using System.Collections.Generic;
using Espnet.Compiled.Generator.Model;

namespace Espnet.Compiled.Generator.Plan.Schedule;

/// <summary>
/// A window of floats in a span the layer's code can name: its inputs (<c>x</c>, <c>x0</c>, ...), its output
/// <c>y</c>, its <c>scratch</c>, the network's <c>image</c>, or a local name bound by <see cref="Let"/>.
/// <see cref="Sliced"/> says whether the window is written as a slice of its base (printers keep the spelling).
/// </summary>
public sealed record View(string Base, int Offset, int Length, bool Sliced)
{
    public static View Of(string name, int length) => new(name, 0, length, false);
    public static View Of(string name, long length) => new(name, 0, checked((int)length), false);

    /// <summary>Whether two views name the same floats (however they are spelled).</summary>
    public bool SameWindow(View other) => Base == other.Base && Offset == other.Offset && Length == other.Length;

    /// <summary>Whether two views share any float (views of different spans never do: the arena places live buffers apart).</summary>
    public bool Overlaps(View other) => Base == other.Base && Offset < other.Offset + other.Length && other.Offset < Offset + Length;

    /// <summary>A sub-window, offsets relative to this view.</summary>
    public View Slice(int offset, int length) => new(Base, Offset + offset, length, true);
}

/// <summary>Which parameter store a reference reads: the loaded state_dict tensors, or tensors derived from them at load.</summary>
public enum Store { Loaded = 0, Derived = 1 }

/// <summary>A tensor of a parameter store. Loaded ones carry their state_dict key.</summary>
public sealed record Param(Store Store, int Offset, int Length, string Key);

/// <summary>The four tensors of one BatchNorm.</summary>
public sealed record BatchNormParams(Param Gamma, Param Beta, Param Mean, Param Variance);

/// <summary>
/// One primitive operation of a schedule, over views and parameters, with every shape a constant. Records,
/// so that schedules compare structurally (snapshot tests, incremental caching). Plain ops are what lowering
/// produces; the passes rewrite them into fewer, fused ones (see <c>Plan/Passes</c>).
/// </summary>
public abstract record Op;

/// <summary>A comment for readers of the generated code.</summary>
public sealed record Note(string Text) : Op;

/// <summary>Binds a local name to a view, so later views can be relative to it.</summary>
public sealed record Let(string Name, View Of) : Op;

/// <summary>2-D convolution, PyTorch semantics (padding (k-1)/2*dilation, contiguous groups), weights [cout, cin/g, k, k].
/// <see cref="Counted"/>: whether its MACs count in the authors' convention (their counters skip nn.Linear).</summary>
public sealed record Conv(View X, int Cin, int H, int W, Param Weight, View Y, int Cout, int Ho, int Wo,
    int Kernel, int Stride, int Dilation, int Groups, bool Counted = true) : Op
{
    public long Macs => (long)Cout * Ho * Wo * (Cin / Groups) * Kernel * Kernel;
}

/// <summary>Transposed convolution without padding, weights [cin, cout, k, k].</summary>
public sealed record ConvTranspose(View X, int Cin, int H, int W, Param Weight, View Y, int Cout, int Ho, int Wo, int Kernel, int Stride) : Op
{
    public long Macs => (long)Cin * Cout * Kernel * Kernel * H * W;
}

/// <summary>Per-channel bias, in place. <see cref="Counted"/>: EdgeNets' counter adds one MAC per output element for it.</summary>
public sealed record AddBias(View Y, int C, int Plane, Param Bias, bool Counted = false) : Op;

/// <summary>Inference BatchNorm in place.</summary>
public sealed record BatchNorm(View Y, int C, int Plane, BatchNormParams Bn, double Eps) : Op;

/// <summary>PReLU in place, one slope per channel.</summary>
public sealed record PRelu(View Y, int C, int Plane, Param Slope) : Op;

/// <summary>Y = A + B (Y may be A or B).</summary>
public sealed record Add(View A, View B, View Y) : Op;

/// <summary>Y = X.</summary>
public sealed record Copy(View X, View Y) : Op;

/// <summary>3x3, stride 2, pad 1 average pooling, padding counted.</summary>
public sealed record AvgPool(View X, int C, int H, int W, View Y, int Ho, int Wo) : Op;

/// <summary>Mean of each channel's plane.</summary>
public sealed record GlobalAvgPool(View X, int C, int Plane, View Y) : Op;

/// <summary>Bilinear resize with aligned corners.</summary>
public sealed record Bilinear(View X, int C, int H, int W, View Y, int Ho, int Wo) : Op;

/// <summary>Adaptive average pooling (also to a larger size).</summary>
public sealed record AdaptiveAvgPool(View X, int C, int H, int W, View Y, int Ho, int Wo) : Op;

/// <summary>Channel shuffle with <see cref="Groups"/> groups.</summary>
public sealed record Shuffle(View X, int C, int Plane, int Groups, View Y) : Op;

/// <summary>Y[c] *= sigmoid(Gate[c]) over each plane.</summary>
public sealed record SigmoidGate(View Y, int C, int Plane, View Gate) : Op;

// ---- Ops the passes introduce (inference, fast kernels) ----

/// <summary>
/// A convolution with its per-channel epilogue fused, y = prelu(conv(x) + bias), run by the fast kernels.
/// <see cref="Padding"/>: the scratch window its spatial kernel pads the input into (none for 1x1).
/// <see cref="BiasCounted"/>: the bias's additions count as MACs (EdgeNets' counter; see <see cref="AddBias"/>).
/// <see cref="Residual"/>: a tensor shaped like the output, added before the bias and activation (a fused sum).
/// <see cref="Norm"/>, <see cref="ResidualNorm"/>: a share of a block's BatchNorm + PReLU (<see cref="BranchNorm"/>).
/// <see cref="RowBlocked"/>: the output is written in the row-blocked layout (each block of four channels' row r side by
/// side; <c>OutputLayout.RowBlocked</c>) in which the planner keeps the last layer's input inside the caller's output.
/// Produced by <c>FoldBatchNorm</c>, <c>FuseEpilogues</c>, <c>SelectKernels</c>, <c>FuseSums</c>; weights and bias usually derived.
/// </summary>
public sealed record FusedConv(Conv Conv, Param? Bias, Param? Slope, View? Padding = null, View? Residual = null, int InputHalo = 0, bool BiasCounted = false,
    ConvInput? Input = null, BranchNorm? Norm = null, BranchNorm? ResidualNorm = null, bool RowBlocked = false) : Op;

/// <summary>
/// A share of the BatchNorm + PReLU after an ESP block that a <see cref="FusedConv"/> applies as it writes:
/// prelu(fma((v + <see cref="Residual"/>) - mean, scale, beta)) per channel, to its own output (<c>Norm</c>) or to
/// its residual once added (<c>ResidualNorm</c>: HFF's previous branch, final at that moment).
/// <see cref="Residual"/>: the block's identity residual for these channels (null: none). Produced by <c>FuseBlockNorm</c>.
/// </summary>
public sealed record BranchNorm(Param Mean, Param Scale, Param Beta, Param? Slope, View? Residual);

/// <summary>
/// EfficientPyrPool's branch above scale 1 as one kernel: x (C x H x W) resized to Hs x Ws, the depth-wise 3x3
/// <see cref="Weight"/> (no bias), adaptive average pooling back to H x W into y, a band of rows at a time in
/// cache. Produced by <c>FuseUpsampledDepthwise</c> from the three ops; <see cref="Counted"/>: the convolution's MACs count.
/// </summary>
public sealed record UpsampledDepthwisePool(View X, int C, int H, int W, Param Weight, int Hs, int Ws, View Y, bool Counted) : Op
{
    public long Macs => 9L * C * Hs * Ws;
}

/// <summary>
/// The spatial part of an EESP block as one kernel: K depth-wise 3x3 convolutions of x (C x H x W) with the
/// given dilations and one stride, branch k into channels [k*C, (k+1)*C) of y, branch k adding branch k-1's output
/// when <see cref="Hff"/>, then <see cref="Norm"/> (a <see cref="ScaleShift"/> over all K*C channels of y) when
/// given. <see cref="Weights"/>: the K weight tensors in their store, <see cref="WeightStride"/> floats apart. Each work item pads the
/// rows it reads itself: no padded copy in scratch. Produced by <c>FuseDepthwiseBranches</c>.
/// </summary>
public sealed record DepthwiseBranches(View X, int C, int H, int W, int Stride, Param Weights, int WeightStride, EquatableArray<int> Dilations, bool Hff,
    View Y, int Ho, int Wo, ScaleShift? Norm, bool Counted) : Op
{
    public long Macs => 9L * C * Ho * Wo * Dilations.Count;
}

/// <summary>
/// What a <see cref="FusedConv"/>'s input goes through while it is padded: a channel shuffle of
/// <see cref="ShuffleGroups"/> groups undone (1: none), then BatchNorm (<see cref="Bn"/> mean and beta with the
/// derived <see cref="Scale"/>) and PReLU (<see cref="Slope"/>). Produced by <c>FuseConvInputs</c>.
/// </summary>
public sealed record ConvInput(int ShuffleGroups, BatchNormParams Bn, Param Scale, Param? Slope);

/// <summary>
/// x copied into a zero-bordered layout (halo on every side; rows split into even and odd columns for
/// stride 2) that several convolutions then read with <see cref="FusedConv.InputHalo"/>: one copy for all
/// the dilated branches of an ESP or EESP block.
/// </summary>
public sealed record PadInput(View X, int C, int H, int W, int Halo, int Stride, View Padded) : Op;

/// <summary>y = prelu((y - mean) * scale + beta), per channel: a BatchNorm that cannot fold (it follows a sum) and its activation.</summary>
/// <remarks><see cref="From"/>: where the values come from when not from y itself (a BatchNorm layer, without copying first).</remarks>
public sealed record ScaleShift(View Y, int C, int Plane, BatchNormParams Bn, Param Scale, Param? Slope, View? Residual = null, View? From = null) : Op;

/// <summary>y = prelu(a + b) per channel (<see cref="B"/> null: PReLU alone; <see cref="Slope"/> null: the sum alone), in parallel.</summary>
public sealed record FastSum(View A, View? B, View Y, int C, int Plane, Param? Slope) : Op;

/// <summary>Global average pooling, channels in parallel.</summary>
public sealed record FastGlobalAvgPool(GlobalAvgPool Of) : Op;

/// <summary>The sigmoid gate, channels in parallel.</summary>
public sealed record FastSigmoidGate(SigmoidGate Of) : Op;

/// <summary>A copy (concatenation slice, channel shuffle) spread over the worker threads.</summary>
public sealed record FastCopy(Copy Of) : Op;

/// <summary>A channel shuffle spread over the worker threads.</summary>
public sealed record FastShuffle(Shuffle Of) : Op;

/// <summary>3x3 / 2 average pooling on the fast path (the same sums, in parallel).</summary>
public sealed record FastAvgPool(AvgPool Of) : Op;

/// <summary>Bilinear resizing on the fast path (separable, float32, in parallel).</summary>
public sealed record FastBilinear(Bilinear Of) : Op;

/// <summary>Adaptive average pooling on the fast path (separable, float32, in parallel).</summary>
public sealed record FastAdaptiveAvgPool(AdaptiveAvgPool Of) : Op;

/// <summary>The 2x2 stride-2 transposed convolution of ESPNet's decoder, as the fast kernel computes it.</summary>
public sealed record ConvTranspose2x2(ConvTranspose Of) : Op;

/// <summary>
/// The same, as the network's output layer, with its input kept inside its own output (y) from float
/// <see cref="InputAt"/> on, rows blocked (<see cref="FusedConv.RowBlocked"/>): each of the kernel's rows reads only
/// floats it then overwrites. Produced by the planner's <c>TransposeInOutput</c>; <c>Of.X</c> names those floats.
/// </summary>
public sealed record ConvTranspose2x2InOutput(ConvTranspose Of, int InputAt) : Op;

/// <summary>Load-time derivation: a convolution's weights and bias with the following BatchNorm folded in.</summary>
public sealed record FoldIntoConv(Param Weight, Param? Bias, BatchNormParams Bn, double Eps, int Cout, Param FoldedWeight, Param FoldedBias) : Op;

/// <summary>Load-time derivation: a BatchNorm's scale, gamma / sqrt(var + eps).</summary>
public sealed record BatchNormScale(BatchNormParams Bn, double Eps, int C, Param Scale) : Op;

/// <summary>Every view an op names (its inputs, outputs and scratch), found through its record properties.</summary>
public static class OpViews
{
    public static IEnumerable<View> Of(object op)
    {
        foreach (var property in op.GetType().GetProperties())
        {
            if (property.GetIndexParameters().Length > 0) continue;
            switch (property.GetValue(op))
            {
                case View v:
                    yield return v;
                    break;
                case Op or Conv or ConvInput or BranchNorm when property.Name != "EqualityContract":
                    foreach (var inner in Of(property.GetValue(op)!)) yield return inner;
                    break;
            }
        }
    }
}
