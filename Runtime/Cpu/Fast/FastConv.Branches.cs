using System.Runtime.CompilerServices;

namespace Espnet.Compiled.Cpu.Fast;

public static unsafe partial class FastConv
{
    /// <summary>
    /// The spatial part of an EESP block (and of ESPNetv2's strided one) as one kernel: K depth-wise 3x3
    /// convolutions of x (C x H x W), branch k with dilation <paramref name="dilations"/>[k] and weights
    /// <paramref name="weights"/>[k*<paramref name="weightStride"/> ..] (C*9 floats), written to channels [k*C, (k+1)*C) of y; with <paramref name="hff"/>
    /// branch k adds branch k-1's output (hierarchical feature fusion); then, when <paramref name="mean"/> is
    /// given, the BatchNorm and PReLU over all K*C channels (as <see cref="FastElementwise.ScaleShift"/>).
    /// </summary>
    /// <remarks>
    /// Each work item is one channel and a chunk of output rows: it pads just the input rows it needs into this
    /// thread's buffer, runs every branch over them in order and normalises them while they are in cache. The
    /// results are those of the separate kernels (padding, K convolutions with the sum as a residual, ScaleShift)
    /// bit for bit, whatever the thread count; the K+2 passes over the maps and their hand-offs become one.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void DepthwiseBranches(ReadOnlySpan<float> x, int channels, int h, int w, int stride, ReadOnlySpan<float> weights, int weightStride,
        ReadOnlySpan<int> dilations, bool hff, Span<float> y, int ho, int wo,
        ReadOnlySpan<float> mean = default, ReadOnlySpan<float> scale = default, ReadOnlySpan<float> beta = default, ReadOnlySpan<float> slope = default)
    {
        int k = dilations.Length, halo = 0;
        if (stride is not (1 or 2) || k is < 1 or > 16 || channels < 1 || h < 1 || w < 1)
            throw new ArgumentException($"FastConv.DepthwiseBranches: stride {stride}, {k} branches over {channels} channels of {h}x{w} is not supported.");
        foreach (int d in dilations)
        {
            if (d < 1) throw new ArgumentException($"FastConv.DepthwiseBranches: dilation {d} is not supported.");
            halo = Math.Max(halo, d);
        }
        long plane = (long)ho * wo, all = (long)k * channels;
        Check(ho == (h - 1) / stride + 1 && wo == (w - 1) / stride + 1, "output size", plane, -1);
        Check(x.Length >= (long)channels * h * w, "input", x.Length, (long)channels * h * w);
        if (weightStride < channels * 9) throw new ArgumentException($"FastConv.DepthwiseBranches: a weight stride of {weightStride} floats is less than {channels} channels of 3x3.");
        Check(weights.Length >= (long)(k - 1) * weightStride + channels * 9, "weight", weights.Length, (long)(k - 1) * weightStride + channels * 9);
        Check(y.Length >= all * plane, "output", y.Length, all * plane);
        bool norm = !mean.IsEmpty;
        if (norm)
        {
            Check(mean.Length >= all && scale.Length >= all && beta.Length >= all, "BatchNorm", Math.Min(mean.Length, Math.Min(scale.Length, beta.Length)), all);
            Check(slope.IsEmpty || slope.Length >= all, "slope", slope.Length, all);
        }
        fixed (float* px = x, pw = weights, py = y, pm = mean, ps = scale, pb = beta, pa = slope)
        fixed (int* pd = dilations)
        {
            var a = new Args
            {
                X = px, Y = py, Cin = channels, H = h, Wd = w, Cout = channels, Ho = ho, Wo = wo, Kernel = 3, Stride = stride,
                Groups = channels, CinG = 1, CoutG = 1, InGroups = 1,
                BranchW = pw, BranchStride = weightStride, Dilations = pd, Branches = k, Hff = hff,
                Norm = norm ? new NormPointers(pm, ps, pb, slope.IsEmpty ? null : pa, null) : default,
                YChannel = (nint)ho * wo, YRow = wo, YBlock = 4 * (nint)ho * wo,
            };
            Layout(ref a, null, halo);
            // Output rows per item: as many as keep one channel's padded rows near ItemFloats, halved while
            // that leaves fewer than 16 items to share out.
            int reach = 2 * halo + 1;
            long fit = ((long)ConvPlan.ItemFloats / a.RowLength - reach) / stride + 1;
            int rows = (int)Math.Clamp(fit, 1, ho);
            while (rows > 1 && (long)channels * ((ho + rows - 1) / rows) < 16) rows = Math.Max(1, rows / 2);
            a.Tiles = rows;
            a.PlaneRows = (rows - 1) * stride + reach;
            a.PlaneLength = a.PlaneRows * a.RowLength;
            int items = channels * ((ho + rows - 1) / rows);
            bool wide = Simd.Use512;
            Workers.For(&a, wide ? &BranchesItem<V512> : &BranchesItem<V256>, items, all * 9 * plane);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BranchesItem<TV>(void* state, int item) where TV : struct, IVec<TV>
    {
        Args a = *(Args*)state;
        int chunks = (a.Ho + a.Tiles - 1) / a.Tiles, c = item / chunks;
        int oy0 = item % chunks * a.Tiles, oy1 = Math.Min(a.Ho, oy0 + a.Tiles);
        a.RowOrigin = oy0 * a.Stride;
        // The buffer holds channel c's rows only; the kernels index channel c at Padded + c * PlaneLength.
        float* buffer = ThreadBuffer.Get(a.PlaneLength + Math.Max(a.RowLength, 64));
        a.Padded = buffer - (nint)c * a.PlaneLength;
        PadItem(&a, c);
        nint plane = (nint)a.Ho * a.Wo, branch = a.Cin * plane;
        float* y0 = a.Y;
        int* taps = stackalloc int[9];
        for (int k = 0; k < a.Branches; k++)
        {
            a.Dilation = a.Dilations[k];
            a.Shift = a.Pad - a.Dilation;
            a.W = a.BranchW + (nint)k * a.BranchStride;
            a.Y = y0 + k * branch;
            a.Residual = a.Hff && k > 0 ? a.Y - branch : null;
            DepthwiseRows<TV>(a, c, oy0, oy1, taps);
            // Branch k-1 is final once branch k has added it.
            if (k > 0) NormalizeRows(a, y0, (k - 1) * a.Cin + c, oy0, oy1);
        }
        NormalizeRows(a, y0, (a.Branches - 1) * a.Cin + c, oy0, oy1);
    }

    /// <summary>Rows [oy0, oy1) of output channel <paramref name="ch"/> through its BatchNorm and PReLU, as <c>FastElementwise.ScaleShift</c> computes them.</summary>
    private static void NormalizeRows(in Args a, float* y0, int ch, int oy0, int oy1)
    {
        if (a.Norm.Mean == null) return;
        nint at = (nint)ch * a.Ho * a.Wo + (nint)oy0 * a.Wo;
        a.Norm.Apply(y0 + at, at, (oy1 - oy0) * a.Wo, ch);
    }
}
