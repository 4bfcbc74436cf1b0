using System.Runtime.CompilerServices;

namespace Espnet.Compiled.Cpu.Fast;

public static unsafe partial class FastTraining
{
    /// <summary>
    /// Dense and grouped 3x3 weight gradients of planes below this run the per-tap dot products (a blocked kernel's
    /// setup costs more there); depth-wise ones run <see cref="WeightDepthwiseNarrow"/>, 1x1 ones see <see cref="NarrowPointwisePlane"/>.
    /// </summary>
    private const int BlockedWeightPlane = 1024;

    /// <summary>
    /// dweight of a 3x3 convolution of stride 1 or 2 (any dilation, groups), register-blocked: for each input
    /// channel, padded once into this thread's buffer (stride 2: each padded row split into its even then odd
    /// columns, so a tap's columns are contiguous), two output channels x nine taps are 18 vector accumulators fed
    /// by one pass over dy's rows (two loads of dy and nine of x per eighteen multiply-adds, where the per-tap dot
    /// products made two loads per multiply-add and read each map nine times). A lane's float sum covers at
    /// most ~64 products before it is added into a double total.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Weight3x3Blocked(ReadOnlySpan<float> x, int cin, int h, int w, ReadOnlySpan<float> dy, int cout, int ho, int wo, int stride,
        Span<float> dweight, int dilation, int groups)
    {
        if (Simd.Use512) Weight3x3Blocked<V512>(x, cin, h, w, dy, cout, ho, wo, stride, dweight, dilation, groups);
        else Weight3x3Blocked<V256>(x, cin, h, w, dy, cout, ho, wo, stride, dweight, dilation, groups);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Weight3x3Blocked<TV>(ReadOnlySpan<float> x, int cin, int h, int w, ReadOnlySpan<float> dy, int cout, int ho, int wo, int stride,
        Span<float> dweight, int dilation, int groups) where TV : struct, IVec<TV>
    {
        int cinG = cin / groups, coutG = cout / groups, plane = h * w, outPlane = ho * wo, d = dilation, L = TV.Count;
        int rowLength = w + 2 * d, paddedPlane = (h + 2 * d) * rowLength, even = (rowLength + 1) / 2;
        // Column offset of tap kx within a padded row, for output column 0.
        int* column = stackalloc int[3];
        for (int kx = 0; kx < 3; kx++)
        {
            int q = kx * d;
            column[kx] = stride == 1 ? q : (q >> 1) + (q & 1) * even;
        }
        nint c0 = column[0], c1 = column[1], c2 = column[2], rowStep = (nint)stride * rowLength, tapStep = (nint)d * rowLength;
        // Rows of dy per float run: about 64 products per lane.
        int rowsPerRun = Math.Max(1, 64 * L / Math.Max(1, wo));
        float* padded = ThreadBuffer.Get(paddedPlane + rowLength + 64);
        double* sums = stackalloc double[27];
        // 512-bit: three output channels a pass (27 accumulators of the 32 registers; nine loads of x feed 27
        // multiply-adds instead of 18). Each channel's sums are the same whichever channels share its pass.
        bool triples = L == 16;
        // The halo is cleared once: every channel's copy below writes the same interior positions.
        new Span<float>(padded, paddedPlane + rowLength + 64).Clear();
        fixed (float* px = x, pdy = dy, pdw = dweight)
        {
            for (int g = 0; g < groups; g++)
                for (int c = 0; c < cinG; c++)
                {
                    // Channel c of group g, zero-padded by d on every side (stride 2: rows split into even and odd columns).
                    float* src = px + (nint)(g * cinG + c) * plane;
                    for (int r = 0; r < h; r++)
                    {
                        float* to = padded + (nint)(r + d) * rowLength;
                        if (stride == 1) Buffer.MemoryCopy(src + (nint)r * w, to + d, (long)w * 4, (long)w * 4);
                        else if ((d & 1) == 0) FastConv.Deinterleave(src + (nint)r * w, w, to + d / 2, to + even + d / 2);
                        else FastConv.Deinterleave(src + (nint)r * w, w, to + even + (d - 1) / 2, to + (d + 1) / 2);
                    }
                    for (int oc = 0; oc < coutG; oc += 2)
                    {
                        int o0 = g * coutG + oc;
                        if (triples && oc + 3 <= coutG)
                        {
                            float* t0 = pdy + (nint)o0 * outPlane;
                            new Span<double>(sums, 27).Clear();
                            Weight3x3Triple<TV>(padded, t0, t0 + outPlane, t0 + 2 * (nint)outPlane, ho, wo, rowsPerRun, rowStep, tapStep, c0, c1, c2, sums);
                            for (int k = 0; k < 3; k++)
                            {
                                float* wk = pdw + ((nint)(o0 + k) * cinG + c) * 9;
                                for (int t = 0; t < 9; t++) wk[t] = (float)sums[9 * k + t];
                            }
                            oc++;
                            continue;
                        }
                        bool pair = oc + 1 < coutG;
                        float* g0 = pdy + (nint)o0 * outPlane, g1 = pair ? g0 + outPlane : g0;
                        new Span<double>(sums, 18).Clear();
                        for (int r0 = 0; r0 < ho; r0 += rowsPerRun)
                        {
                            int r1 = Math.Min(ho, r0 + rowsPerRun);
                            TV a00 = default, a01 = default, a02 = default, a03 = default, a04 = default, a05 = default, a06 = default, a07 = default, a08 = default;
                            TV a10 = default, a11 = default, a12 = default, a13 = default, a14 = default, a15 = default, a16 = default, a17 = default, a18 = default;
                            for (int r = r0; r < r1; r++)
                            {
                                float* q0 = padded + (nint)r * rowStep, q1 = q0 + tapStep, q2 = q1 + tapStep;
                                float* d0 = g0 + (nint)r * wo, d1 = g1 + (nint)r * wo;
                                for (int ox = 0; ox < wo; ox += L)
                                {
                                    TV v0, v1;
                                    if (ox + L <= wo)
                                    {
                                        v0 = TV.Load(d0 + ox);
                                        v1 = TV.Load(d1 + ox);
                                    }
                                    else
                                    {
                                        // The row's last columns: dy's lanes past the row are zero, so x's there add nothing.
                                        v0 = TV.LoadFirst(d0 + ox, wo - ox);
                                        v1 = TV.LoadFirst(d1 + ox, wo - ox);
                                    }
                                    float* p = q0 + ox;
                                    var t = TV.Load(p + c0); a00 = TV.FusedMultiplyAdd(t, v0, a00); a10 = TV.FusedMultiplyAdd(t, v1, a10);
                                    t = TV.Load(p + c1); a01 = TV.FusedMultiplyAdd(t, v0, a01); a11 = TV.FusedMultiplyAdd(t, v1, a11);
                                    t = TV.Load(p + c2); a02 = TV.FusedMultiplyAdd(t, v0, a02); a12 = TV.FusedMultiplyAdd(t, v1, a12);
                                    p = q1 + ox;
                                    t = TV.Load(p + c0); a03 = TV.FusedMultiplyAdd(t, v0, a03); a13 = TV.FusedMultiplyAdd(t, v1, a13);
                                    t = TV.Load(p + c1); a04 = TV.FusedMultiplyAdd(t, v0, a04); a14 = TV.FusedMultiplyAdd(t, v1, a14);
                                    t = TV.Load(p + c2); a05 = TV.FusedMultiplyAdd(t, v0, a05); a15 = TV.FusedMultiplyAdd(t, v1, a15);
                                    p = q2 + ox;
                                    t = TV.Load(p + c0); a06 = TV.FusedMultiplyAdd(t, v0, a06); a16 = TV.FusedMultiplyAdd(t, v1, a16);
                                    t = TV.Load(p + c1); a07 = TV.FusedMultiplyAdd(t, v0, a07); a17 = TV.FusedMultiplyAdd(t, v1, a17);
                                    t = TV.Load(p + c2); a08 = TV.FusedMultiplyAdd(t, v0, a08); a18 = TV.FusedMultiplyAdd(t, v1, a18);
                                }
                            }
                            sums[0] += TV.Sum(a00); sums[1] += TV.Sum(a01); sums[2] += TV.Sum(a02); sums[3] += TV.Sum(a03); sums[4] += TV.Sum(a04);
                            sums[5] += TV.Sum(a05); sums[6] += TV.Sum(a06); sums[7] += TV.Sum(a07); sums[8] += TV.Sum(a08);
                            sums[9] += TV.Sum(a10); sums[10] += TV.Sum(a11); sums[11] += TV.Sum(a12); sums[12] += TV.Sum(a13); sums[13] += TV.Sum(a14);
                            sums[14] += TV.Sum(a15); sums[15] += TV.Sum(a16); sums[16] += TV.Sum(a17); sums[17] += TV.Sum(a18);
                        }
                        float* w0 = pdw + ((nint)o0 * cinG + c) * 9;
                        for (int t = 0; t < 9; t++) w0[t] = (float)sums[t];
                        if (pair)
                        {
                            float* w1 = pdw + ((nint)(o0 + 1) * cinG + c) * 9;
                            for (int t = 0; t < 9; t++) w1[t] = (float)sums[9 + t];
                        }
                    }
                }
        }
    }
}

public static unsafe partial class FastTraining
{
    /// <summary>
    /// Three output channels' nine taps of <see cref="Weight3x3Blocked{TV}"/> over one padded input channel: sums[9k + t]
    /// += tap t of channel k, in the same runs of rows (and so the same float and double sums) as the pairs.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Weight3x3Triple<TV>(float* padded, float* g0, float* g1, float* g2, int ho, int wo, int rowsPerRun, nint rowStep, nint tapStep,
        nint c0, nint c1, nint c2, double* sums) where TV : struct, IVec<TV>
    {
        int L = TV.Count;
        for (int r0 = 0; r0 < ho; r0 += rowsPerRun)
        {
            int r1 = Math.Min(ho, r0 + rowsPerRun);
            TV a00 = default, a01 = default, a02 = default, a03 = default, a04 = default, a05 = default, a06 = default, a07 = default, a08 = default;
            TV a10 = default, a11 = default, a12 = default, a13 = default, a14 = default, a15 = default, a16 = default, a17 = default, a18 = default;
            TV a20 = default, a21 = default, a22 = default, a23 = default, a24 = default, a25 = default, a26 = default, a27 = default, a28 = default;
            for (int r = r0; r < r1; r++)
            {
                float* q0 = padded + (nint)r * rowStep, q1 = q0 + tapStep, q2 = q1 + tapStep;
                float* d0 = g0 + (nint)r * wo, d1 = g1 + (nint)r * wo, d2 = g2 + (nint)r * wo;
                for (int ox = 0; ox < wo; ox += L)
                {
                    TV v0, v1, v2;
                    if (ox + L <= wo)
                    {
                        v0 = TV.Load(d0 + ox);
                        v1 = TV.Load(d1 + ox);
                        v2 = TV.Load(d2 + ox);
                    }
                    else
                    {
                        v0 = TV.LoadFirst(d0 + ox, wo - ox);
                        v1 = TV.LoadFirst(d1 + ox, wo - ox);
                        v2 = TV.LoadFirst(d2 + ox, wo - ox);
                    }
                    float* p = q0 + ox;
                    var t = TV.Load(p + c0); a00 = TV.FusedMultiplyAdd(t, v0, a00); a10 = TV.FusedMultiplyAdd(t, v1, a10); a20 = TV.FusedMultiplyAdd(t, v2, a20);
                    t = TV.Load(p + c1); a01 = TV.FusedMultiplyAdd(t, v0, a01); a11 = TV.FusedMultiplyAdd(t, v1, a11); a21 = TV.FusedMultiplyAdd(t, v2, a21);
                    t = TV.Load(p + c2); a02 = TV.FusedMultiplyAdd(t, v0, a02); a12 = TV.FusedMultiplyAdd(t, v1, a12); a22 = TV.FusedMultiplyAdd(t, v2, a22);
                    p = q1 + ox;
                    t = TV.Load(p + c0); a03 = TV.FusedMultiplyAdd(t, v0, a03); a13 = TV.FusedMultiplyAdd(t, v1, a13); a23 = TV.FusedMultiplyAdd(t, v2, a23);
                    t = TV.Load(p + c1); a04 = TV.FusedMultiplyAdd(t, v0, a04); a14 = TV.FusedMultiplyAdd(t, v1, a14); a24 = TV.FusedMultiplyAdd(t, v2, a24);
                    t = TV.Load(p + c2); a05 = TV.FusedMultiplyAdd(t, v0, a05); a15 = TV.FusedMultiplyAdd(t, v1, a15); a25 = TV.FusedMultiplyAdd(t, v2, a25);
                    p = q2 + ox;
                    t = TV.Load(p + c0); a06 = TV.FusedMultiplyAdd(t, v0, a06); a16 = TV.FusedMultiplyAdd(t, v1, a16); a26 = TV.FusedMultiplyAdd(t, v2, a26);
                    t = TV.Load(p + c1); a07 = TV.FusedMultiplyAdd(t, v0, a07); a17 = TV.FusedMultiplyAdd(t, v1, a17); a27 = TV.FusedMultiplyAdd(t, v2, a27);
                    t = TV.Load(p + c2); a08 = TV.FusedMultiplyAdd(t, v0, a08); a18 = TV.FusedMultiplyAdd(t, v1, a18); a28 = TV.FusedMultiplyAdd(t, v2, a28);
                }
            }
            sums[0] += TV.Sum(a00); sums[1] += TV.Sum(a01); sums[2] += TV.Sum(a02); sums[3] += TV.Sum(a03); sums[4] += TV.Sum(a04);
            sums[5] += TV.Sum(a05); sums[6] += TV.Sum(a06); sums[7] += TV.Sum(a07); sums[8] += TV.Sum(a08);
            sums[9] += TV.Sum(a10); sums[10] += TV.Sum(a11); sums[11] += TV.Sum(a12); sums[12] += TV.Sum(a13); sums[13] += TV.Sum(a14);
            sums[14] += TV.Sum(a15); sums[15] += TV.Sum(a16); sums[16] += TV.Sum(a17); sums[17] += TV.Sum(a18);
            sums[18] += TV.Sum(a20); sums[19] += TV.Sum(a21); sums[20] += TV.Sum(a22); sums[21] += TV.Sum(a23); sums[22] += TV.Sum(a24);
            sums[23] += TV.Sum(a25); sums[24] += TV.Sum(a26); sums[25] += TV.Sum(a27); sums[26] += TV.Sum(a28);
        }
    }
}

public static unsafe partial class FastTraining
{
    /// <summary>
    /// dweight of a stride-1 1x1 convolution (groups allowed) as a blocked matrix product dy · xᵀ over the plane:
    /// four output by four input channels are 16 vector accumulators fed by four loads of dy and four of x per
    /// sixteen multiply-adds (the per-pair dot products made two loads per multiply-add). Lanes' float sums cover
    /// about 64 products before they are added into double totals.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightPointwiseBlocked(ReadOnlySpan<float> x, int cin, int plane, ReadOnlySpan<float> dy, int cout, Span<float> dweight, int groups)
    {
        if (Simd.Use512) WeightPointwiseBlocked<V512>(x, cin, plane, dy, cout, dweight, groups);
        else WeightPointwiseBlocked<V256>(x, cin, plane, dy, cout, dweight, groups);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightPointwiseBlocked<TV>(ReadOnlySpan<float> x, int cin, int plane, ReadOnlySpan<float> dy, int cout,
        Span<float> dweight, int groups) where TV : struct, IVec<TV>
    {
        int cinG = cin / groups, coutG = cout / groups, L = TV.Count, run = 64 * L;
        double* sums = stackalloc double[16];
        int* os = stackalloc int[4];
        int* cs = stackalloc int[4];
        fixed (float* px = x, pdy = dy, pdw = dweight)
        {
            for (int g = 0; g < groups; g++)
                for (int ob = 0; ob < coutG; ob += 4)
                    for (int cb = 0; cb < cinG; cb += 4)
                    {
                        // Blocks past the last channel repeat it (their sums are not stored).
                        for (int k = 0; k < 4; k++)
                        {
                            os[k] = g * coutG + Math.Min(ob + k, coutG - 1);
                            cs[k] = g * cinG + Math.Min(cb + k, cinG - 1);
                        }
                        float* d0 = pdy + (nint)os[0] * plane, d1 = pdy + (nint)os[1] * plane, d2 = pdy + (nint)os[2] * plane, d3 = pdy + (nint)os[3] * plane;
                        float* x0 = px + (nint)cs[0] * plane, x1 = px + (nint)cs[1] * plane, x2 = px + (nint)cs[2] * plane, x3 = px + (nint)cs[3] * plane;
                        new Span<double>(sums, 16).Clear();
                        for (int start = 0; start < plane; start += run)
                        {
                            int end = Math.Min(plane, start + run);
                            TV a00 = default, a01 = default, a02 = default, a03 = default, a10 = default, a11 = default, a12 = default, a13 = default;
                            TV a20 = default, a21 = default, a22 = default, a23 = default, a30 = default, a31 = default, a32 = default, a33 = default;
                            for (int p = start; p < end; p += L)
                            {
                                TV v0, v1, v2, v3, u0, u1, u2, u3;
                                if (p + L <= end)
                                {
                                    v0 = TV.Load(d0 + p); v1 = TV.Load(d1 + p); v2 = TV.Load(d2 + p); v3 = TV.Load(d3 + p);
                                    u0 = TV.Load(x0 + p); u1 = TV.Load(x1 + p); u2 = TV.Load(x2 + p); u3 = TV.Load(x3 + p);
                                }
                                else
                                {
                                    int n = end - p;
                                    v0 = TV.LoadFirst(d0 + p, n); v1 = TV.LoadFirst(d1 + p, n); v2 = TV.LoadFirst(d2 + p, n); v3 = TV.LoadFirst(d3 + p, n);
                                    u0 = TV.LoadFirst(x0 + p, n); u1 = TV.LoadFirst(x1 + p, n); u2 = TV.LoadFirst(x2 + p, n); u3 = TV.LoadFirst(x3 + p, n);
                                }
                                a00 = TV.FusedMultiplyAdd(v0, u0, a00); a01 = TV.FusedMultiplyAdd(v0, u1, a01); a02 = TV.FusedMultiplyAdd(v0, u2, a02); a03 = TV.FusedMultiplyAdd(v0, u3, a03);
                                a10 = TV.FusedMultiplyAdd(v1, u0, a10); a11 = TV.FusedMultiplyAdd(v1, u1, a11); a12 = TV.FusedMultiplyAdd(v1, u2, a12); a13 = TV.FusedMultiplyAdd(v1, u3, a13);
                                a20 = TV.FusedMultiplyAdd(v2, u0, a20); a21 = TV.FusedMultiplyAdd(v2, u1, a21); a22 = TV.FusedMultiplyAdd(v2, u2, a22); a23 = TV.FusedMultiplyAdd(v2, u3, a23);
                                a30 = TV.FusedMultiplyAdd(v3, u0, a30); a31 = TV.FusedMultiplyAdd(v3, u1, a31); a32 = TV.FusedMultiplyAdd(v3, u2, a32); a33 = TV.FusedMultiplyAdd(v3, u3, a33);
                            }
                            sums[0] += TV.Sum(a00); sums[1] += TV.Sum(a01); sums[2] += TV.Sum(a02); sums[3] += TV.Sum(a03);
                            sums[4] += TV.Sum(a10); sums[5] += TV.Sum(a11); sums[6] += TV.Sum(a12); sums[7] += TV.Sum(a13);
                            sums[8] += TV.Sum(a20); sums[9] += TV.Sum(a21); sums[10] += TV.Sum(a22); sums[11] += TV.Sum(a23);
                            sums[12] += TV.Sum(a30); sums[13] += TV.Sum(a31); sums[14] += TV.Sum(a32); sums[15] += TV.Sum(a33);
                        }
                        for (int i = 0; i < 4 && ob + i < coutG; i++)
                            for (int j = 0; j < 4 && cb + j < cinG; j++)
                                pdw[(nint)(g * coutG + ob + i) * cinG + cb + j] = (float)sums[4 * i + j];
                    }
        }
    }
}

public static unsafe partial class FastTraining
{
    /// <summary>
    /// 1x1 weight gradients of planes below this run <see cref="WeightPointwiseNarrow"/> (along the channels), the rest
    /// <see cref="WeightPointwiseBlocked"/> (along the pixels). Measured, one thread, 512-bit: 7x7 (512 -> 1024, 4 groups)
    /// 137 us narrow vs 969 us blocked; 14x14 (256 -> 256, 4 groups) 228 vs 164; 28x28 (128 -> 128, 4 groups) 234 vs 85.
    /// </summary>
    private const int NarrowPointwisePlane = 128;

    /// <summary>Pixels summed in float per lane before the sum is added into a double total (as the other weight kernels do, ~64).</summary>
    private const int NarrowRun = 64;

    /// <summary>
    /// dweight of a stride-1 1x1 convolution (groups allowed) over a small plane (under <see cref="NarrowPointwisePlane"/>:
    /// EESPNet's 7x7 maps, a classifier's 1x1): vectorised along the input channels instead of the pixels,
    /// so a short plane costs no horizontal sums. Each group's x is transposed to [pixel][channel] (rows padded with
    /// zeros to whole pairs of vectors) in this thread's buffer; then four output channels x two vectors of input
    /// channels are eight accumulators fed, per pixel, by two loads of x and four broadcasts of dy. Lanes' float sums
    /// cover at most <see cref="NarrowRun"/> pixels before they are added into double totals.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightPointwiseNarrow(ReadOnlySpan<float> x, int cin, int plane, ReadOnlySpan<float> dy, int cout, Span<float> dweight, int groups)
    {
        if (Simd.Use512) WeightPointwiseNarrow<V512>(x, cin, plane, dy, cout, dweight, groups);
        else WeightPointwiseNarrow<V256>(x, cin, plane, dy, cout, dweight, groups);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightPointwiseNarrow<TV>(ReadOnlySpan<float> x, int cin, int plane, ReadOnlySpan<float> dy, int cout,
        Span<float> dweight, int groups) where TV : struct, IVec<TV>
    {
        int cinG = cin / groups, coutG = cout / groups, L = TV.Count, width = (cinG + 2 * L - 1) / (2 * L) * (2 * L);
        bool runs = plane > NarrowRun;
        // The transposed group, then (several runs) the double totals of one block: 4 x 2L.
        float* xt = ThreadBuffer.Get((long)plane * width + 16 * L + 16);
        double* totals = (double*)(xt + (nint)plane * width);
        int* os = stackalloc int[4];
        float* lanes = stackalloc float[L];
        fixed (float* px = x, pdy = dy, pdw = dweight)
        {
            for (int g = 0; g < groups; g++)
            {
                // Pixel by pixel: the writes run along a row of xt, the reads take one float from each of cinG
                // rows that stay in cache for the next pixels.
                float* group = px + (nint)g * cinG * plane;
                for (int p = 0; p < plane; p++)
                {
                    float* to = xt + (nint)p * width;
                    for (int c = 0; c < cinG; c++) to[c] = group[(nint)c * plane + p];
                    for (int c = cinG; c < width; c++) to[c] = 0;
                }
                for (int ob = 0; ob < coutG; ob += 4)
                {
                    // Blocks past the last channel repeat it (their sums are not stored).
                    for (int k = 0; k < 4; k++) os[k] = g * coutG + Math.Min(ob + k, coutG - 1);
                    float* d0 = pdy + (nint)os[0] * plane, d1 = pdy + (nint)os[1] * plane, d2 = pdy + (nint)os[2] * plane, d3 = pdy + (nint)os[3] * plane;
                    for (int cb = 0; cb < cinG; cb += 2 * L)
                    {
                        if (runs) new Span<double>(totals, 8 * L).Clear();
                        TV a00 = default, a01 = default, a10 = default, a11 = default, a20 = default, a21 = default, a30 = default, a31 = default;
                        for (int start = 0; start < plane; start += NarrowRun)
                        {
                            int end = Math.Min(plane, start + NarrowRun);
                            a00 = a01 = a10 = a11 = a20 = a21 = a30 = a31 = default;
                            for (int p = start; p < end; p++)
                            {
                                float* row = xt + (nint)p * width + cb;
                                TV u0 = TV.Load(row), u1 = TV.Load(row + L);
                                TV v = TV.Splat(d0[p]);
                                a00 = TV.FusedMultiplyAdd(v, u0, a00); a01 = TV.FusedMultiplyAdd(v, u1, a01);
                                v = TV.Splat(d1[p]);
                                a10 = TV.FusedMultiplyAdd(v, u0, a10); a11 = TV.FusedMultiplyAdd(v, u1, a11);
                                v = TV.Splat(d2[p]);
                                a20 = TV.FusedMultiplyAdd(v, u0, a20); a21 = TV.FusedMultiplyAdd(v, u1, a21);
                                v = TV.Splat(d3[p]);
                                a30 = TV.FusedMultiplyAdd(v, u0, a30); a31 = TV.FusedMultiplyAdd(v, u1, a31);
                            }
                            if (runs)
                            {
                                AddLanes(totals, a00, lanes); AddLanes(totals + L, a01, lanes);
                                AddLanes(totals + 2 * L, a10, lanes); AddLanes(totals + 3 * L, a11, lanes);
                                AddLanes(totals + 4 * L, a20, lanes); AddLanes(totals + 5 * L, a21, lanes);
                                AddLanes(totals + 6 * L, a30, lanes); AddLanes(totals + 7 * L, a31, lanes);
                            }
                        }
                        int n = Math.Min(2 * L, cinG - cb);
                        for (int k = 0; k < 4 && ob + k < coutG; k++)
                        {
                            float* to = pdw + (nint)(g * coutG + ob + k) * cinG + cb;
                            if (runs)
                            {
                                for (int i = 0; i < n; i++) to[i] = (float)totals[2 * L * k + i];
                                continue;
                            }
                            var (first, second) = k switch { 0 => (a00, a01), 1 => (a10, a11), 2 => (a20, a21), _ => (a30, a31) };
                            if (n >= L) first.Store(to);
                            else first.StoreFirst(to, n);
                            if (n == 2 * L) second.Store(to + L);
                            else if (n > L) second.StoreFirst(to + L, n - L);
                        }
                    }
                }
            }
        }
    }

}

public static unsafe partial class FastTraining
{
    /// <summary>
    /// dweight of a depth-wise 3x3 convolution (stride 1 or 2, any dilation) over a small plane (under
    /// <see cref="BlockedWeightPlane"/>: EESPNet's 28x28 to 7x7 branches), vectorised along the channels: rows of 7
    /// to 28 pixels fill a vector badly, channels fill it whole. x (zero-padded by the dilation) and dy are
    /// transposed to [pixel][channel] in this thread's buffer; then, per vector of channels, nine accumulators (one
    /// per tap) take one load of dy and nine of x per pixel. Lanes' float sums cover at most
    /// <see cref="NarrowRun"/> pixels before they are added into double totals.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightDepthwiseNarrow(ReadOnlySpan<float> x, int channels, int h, int w, ReadOnlySpan<float> dy, int ho, int wo,
        int stride, int dilation, Span<float> dweight)
    {
        if (Simd.Use512) WeightDepthwiseNarrow<V512>(x, channels, h, w, dy, ho, wo, stride, dilation, dweight);
        else WeightDepthwiseNarrow<V256>(x, channels, h, w, dy, ho, wo, stride, dilation, dweight);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightDepthwiseNarrow<TV>(ReadOnlySpan<float> x, int channels, int h, int w, ReadOnlySpan<float> dy, int ho, int wo,
        int stride, int dilation, Span<float> dweight) where TV : struct, IVec<TV>
    {
        int L = TV.Count, d = dilation, width = (channels + L - 1) / L * L, hp = h + 2 * d, wp = w + 2 * d, plane = h * w, outPlane = ho * wo;
        long padded = (long)hp * wp * width;
        // The padded input, then dy, both [pixel][channel], then the nine taps' double totals of one vector of channels.
        float* xt = ThreadBuffer.Get(padded + (long)outPlane * width + 18 * L + 16);
        float* gt = xt + padded;
        double* totals = (double*)(gt + (nint)outPlane * width);
        new Span<float>(xt, (int)padded).Clear();
        float* lanes = stackalloc float[L];
        fixed (float* px = x, pdy = dy, pdw = dweight)
        {
            // Pixel by pixel (writes along a row of the transposed copy; the reads' rows stay in cache).
            for (int r = 0; r < h; r++)
                for (int col = 0; col < w; col++)
                {
                    float* to = xt + ((nint)(r + d) * wp + col + d) * width;
                    float* from = px + r * w + col;
                    for (int c = 0; c < channels; c++) to[c] = from[(nint)c * plane];
                }
            for (int p = 0; p < outPlane; p++)
            {
                float* to = gt + (nint)p * width;
                for (int c = 0; c < channels; c++) to[c] = pdy[(nint)c * outPlane + p];
                for (int c = channels; c < width; c++) to[c] = 0;
            }
            nint tapRow = (nint)d * wp * width, tapColumn = (nint)d * width;
            for (int cb = 0; cb < channels; cb += L)
            {
                new Span<double>(totals, 9 * L).Clear();
                int p = 0, oy = 0, ox = 0;
                while (p < outPlane)
                {
                    int end = Math.Min(outPlane, p + NarrowRun);
                    TV a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default, a8 = default;
                    for (; p < end; p++)
                    {
                        TV v = TV.Load(gt + (nint)p * width + cb);
                        float* q = xt + ((nint)oy * stride * wp + ox * stride) * width + cb;
                        a0 = TV.FusedMultiplyAdd(TV.Load(q), v, a0);
                        a1 = TV.FusedMultiplyAdd(TV.Load(q + tapColumn), v, a1);
                        a2 = TV.FusedMultiplyAdd(TV.Load(q + 2 * tapColumn), v, a2);
                        q += tapRow;
                        a3 = TV.FusedMultiplyAdd(TV.Load(q), v, a3);
                        a4 = TV.FusedMultiplyAdd(TV.Load(q + tapColumn), v, a4);
                        a5 = TV.FusedMultiplyAdd(TV.Load(q + 2 * tapColumn), v, a5);
                        q += tapRow;
                        a6 = TV.FusedMultiplyAdd(TV.Load(q), v, a6);
                        a7 = TV.FusedMultiplyAdd(TV.Load(q + tapColumn), v, a7);
                        a8 = TV.FusedMultiplyAdd(TV.Load(q + 2 * tapColumn), v, a8);
                        if (++ox == wo)
                        {
                            ox = 0;
                            oy++;
                        }
                    }
                    AddLanes(totals, a0, lanes); AddLanes(totals + L, a1, lanes); AddLanes(totals + 2 * L, a2, lanes);
                    AddLanes(totals + 3 * L, a3, lanes); AddLanes(totals + 4 * L, a4, lanes); AddLanes(totals + 5 * L, a5, lanes);
                    AddLanes(totals + 6 * L, a6, lanes); AddLanes(totals + 7 * L, a7, lanes); AddLanes(totals + 8 * L, a8, lanes);
                }
                for (int c = cb; c < Math.Min(channels, cb + L); c++)
                    for (int t = 0; t < 9; t++) pdw[(nint)c * 9 + t] = (float)totals[t * L + c - cb];
            }
        }
    }

    /// <summary>totals[0..L) += the lanes of v (<paramref name="lanes"/>: L floats of scratch).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddLanes<TV>(double* totals, TV v, float* lanes) where TV : struct, IVec<TV>
    {
        v.Store(lanes);
        for (int i = 0; i < TV.Count; i++) totals[i] += lanes[i];
    }
}
