using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Espnet.Compiled.Cpu.Fast;

/// <summary>
/// Fast float32 convolutions over one CHW sample with a fused per-channel epilogue: y = prelu(conv(x) + bias).
/// Dispatch (<see cref="ConvPlan"/>): 1x1 stride-1 convolutions as a register-blocked matrix product
/// (<c>Pointwise_4x16</c>), depth-wise ones per channel (<c>Depthwise_32</c>), the rest directly
/// (<c>Dense_4x16</c>) over a zero-padded copy of the input, so no loop checks bounds. 256-bit vectors with
/// FMA where the CPU has it. Work is split over <see cref="Workers"/> by output channel block and row; each
/// output is computed by one thread in a fixed order (results independent of the thread count).
/// The plain kernels in <see cref="Conv"/> are the oracle these are tested against.
/// </summary>
public static unsafe class FastConv
{
    private const int OcBlock = 4, PixelTile = 256;

    /// <summary>Products summed in registers before they are added to the output (see <see cref="Accumulate"/>).</summary>
    private const int SumRun = 32;

    /// <summary>
    /// Convolution with PyTorch semantics (padding (k-1)/2*dilation, contiguous groups, weights [cout, cin/g, k, k]),
    /// then + <paramref name="bias"/> and PReLU with <paramref name="slope"/> (either may be empty: none).
    /// <paramref name="scratch"/> holds at least <see cref="ConvPlan.PaddedFloats"/> floats for spatial kernels.
    /// </summary>
    public static void Conv2d(ReadOnlySpan<float> x, int cin, int h, int w, ReadOnlySpan<float> weight,
        Span<float> y, int cout, int ho, int wo, int kernel, int stride, int dilation, int groups,
        ReadOnlySpan<float> bias, ReadOnlySpan<float> slope, Span<float> scratch)
    {
        int cinG = cin / groups, coutG = cout / groups;
        Check(x.Length >= (long)cin * h * w, "input", x.Length, (long)cin * h * w);
        Check(y.Length >= (long)cout * ho * wo, "output", y.Length, (long)cout * ho * wo);
        Check(weight.Length >= (long)cout * cinG * kernel * kernel, "weight", weight.Length, (long)cout * cinG * kernel * kernel);
        Check(bias.IsEmpty || bias.Length >= cout, "bias", bias.Length, cout);
        Check(slope.IsEmpty || slope.Length >= cout, "slope", slope.Length, cout);
        var method = ConvPlan.Choose(cin, cout, kernel, stride, groups);
        if (method != ConvPlan.Method.Pointwise)
            Check(scratch.Length >= ConvPlan.PaddedFloats(cin, h, w, kernel, stride, dilation, groups), "scratch", scratch.Length,
                ConvPlan.PaddedFloats(cin, h, w, kernel, stride, dilation, groups));

        fixed (float* px = x, pw = weight, py = y, pb = bias, ps = slope, pscratch = scratch)
        {
            var a = new Args
            {
                X = px, W = pw, Y = py, Bias = bias.IsEmpty ? null : pb, Slope = slope.IsEmpty ? null : ps,
                Cin = cin, H = h, Wd = w, Cout = cout, Ho = ho, Wo = wo, Kernel = kernel, Stride = stride, Dilation = dilation,
                Groups = groups, CinG = cinG, CoutG = coutG,
            };
            if (method == ConvPlan.Method.Pointwise)
            {
                a.Tiles = (ho * wo + PixelTile - 1) / PixelTile;
                a.OcBlocks = (coutG + OcBlock - 1) / OcBlock;
                Workers.For(&a, &PointwiseItem, groups * a.OcBlocks * a.Tiles);
                return;
            }
            Pad(ref a, pscratch);
            if (method == ConvPlan.Method.Depthwise)
                Workers.For(&a, &DepthwiseItem, cout * ho);
            else
            {
                a.OcBlocks = (coutG + OcBlock - 1) / OcBlock;
                Workers.For(&a, &DenseItem, groups * a.OcBlocks * ho);
            }
        }
    }

    /// <summary>Floats of scratch <see cref="Conv2d"/> needs for this convolution (0 for 1x1 stride 1).</summary>
    public static long ScratchFloats(int cin, int h, int w, int kernel, int stride, int dilation, int groups) =>
        ConvPlan.PaddedFloats(cin, h, w, kernel, stride, dilation, groups);

    private static void Check(bool ok, string what, long have, long need)
    {
        if (!ok) throw new ArgumentException($"FastConv: the {what} span holds {have} floats but the convolution needs {need}.");
    }

    private struct Args
    {
        public float* X, W, Y, Bias, Slope, Padded;
        public int Cin, H, Wd, Cout, Ho, Wo, Kernel, Stride, Dilation, Groups, CinG, CoutG, OcBlocks, Tiles;
        public int Pad, RowLength, PlaneLength, EvenLength;
    }

    // ---- zero-padded input (split into even and odd columns for stride 2) ----

    private static void Pad(ref Args a, float* padded)
    {
        a.Pad = (a.Kernel - 1) / 2 * a.Dilation;
        a.RowLength = a.Wd + 2 * a.Pad;
        a.PlaneLength = (a.H + 2 * a.Pad) * a.RowLength;
        a.EvenLength = (a.RowLength + 1) / 2;
        a.Padded = padded;
        fixed (Args* p = &a) Workers.For(p, &PadItem, a.Cin);
    }

    private static void PadItem(void* state, int c)
    {
        ref Args a = ref *(Args*)state;
        float* dst = a.Padded + (nint)c * a.PlaneLength;
        float* src = a.X + (nint)c * a.H * a.Wd;
        int pad = a.Pad, row = a.RowLength;
        new Span<float>(dst, pad * row).Clear();
        new Span<float>(dst + (nint)(pad + a.H) * row, pad * row).Clear();
        for (int r = 0; r < a.H; r++)
        {
            float* d = dst + (nint)(r + pad) * row;
            float* s = src + (nint)r * a.Wd;
            if (a.Stride == 1)
            {
                new Span<float>(d, pad).Clear();
                Buffer.MemoryCopy(s, d + pad, (long)a.Wd * 4, (long)a.Wd * 4);
                new Span<float>(d + pad + a.Wd, pad).Clear();
            }
            else
            {
                // Padded column q goes to q/2 (even q) or EvenLength + q/2 (odd q).
                float* odd = d + a.EvenLength;
                for (int q = 0; q < row; q++)
                {
                    int i = q - pad;
                    float v = (uint)i < (uint)a.Wd ? s[i] : 0f;
                    if ((q & 1) == 0) d[q >> 1] = v; else odd[q >> 1] = v;
                }
            }
        }
    }

    /// <summary>Offset of tap column kx within a padded row, for output column 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int ColumnOffset(in Args a, int kx)
    {
        int q = kx * a.Dilation;
        return a.Stride == 1 ? q : (q >> 1) + (q & 1) * a.EvenLength;
    }

    // ---- epilogue ----

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Fma(Vector256<float> a, Vector256<float> b, Vector256<float> c) =>
        System.Runtime.Intrinsics.X86.Fma.IsSupported ? System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(a, b, c) : a * b + c;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Vector256<float> acc, float* to, float bias, float slope, bool activate)
    {
        var v = acc + Vector256.Create(bias);
        if (activate) v = Vector256.ConditionalSelect(Vector256.LessThan(v, Vector256<float>.Zero), v * Vector256.Create(slope), v);
        v.Store(to);
    }

    /// <summary>
    /// Two-level summation: a block of input channels is summed in registers, then added to what earlier
    /// blocks left in the output; the last block applies the epilogue. Sums of a thousand products run in
    /// runs of a hundred or so, which keeps float32 within the error of a blocked BLAS (the authors' BatchNorms
    /// multiply the error of the sums before them by up to ~100).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Accumulate(Vector256<float> acc, float* to, bool first, bool last, float bias, float slope, bool activate)
    {
        if (!first) acc += Vector256.Load(to);
        if (last) Store(acc, to, bias, slope, activate);
        else acc.Store(to);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Finish(float acc, float bias, float slope, bool activate)
    {
        float v = acc + bias;
        return activate && v < 0 ? v * slope : v;
    }

    // ---- Pointwise_4x16: Y[g] = W[g] X[g] over pixel tiles ----

    private static void PointwiseItem(void* state, int item)
    {
        ref Args a = ref *(Args*)state;
        int tile = item % a.Tiles, rest = item / a.Tiles;
        int block = rest % a.OcBlocks, g = rest / a.OcBlocks;
        int plane = a.Ho * a.Wo, p0 = tile * PixelTile, p1 = Math.Min(plane, p0 + PixelTile);
        int oc0 = block * OcBlock, n = Math.Min(OcBlock, a.CoutG - oc0), cinG = a.CinG;
        float* x = a.X + (nint)g * cinG * plane;
        int ocBase = g * a.CoutG + oc0;
        float* w = a.W + (nint)ocBase * cinG;
        float* y = a.Y + (nint)ocBase * plane;
        bool act = a.Slope != null;
        float b0 = a.Bias == null ? 0 : a.Bias[ocBase], s0 = act ? a.Slope[ocBase] : 0;
        if (n == OcBlock)
        {
            float b1 = a.Bias == null ? 0 : a.Bias[ocBase + 1], b2 = a.Bias == null ? 0 : a.Bias[ocBase + 2], b3 = a.Bias == null ? 0 : a.Bias[ocBase + 3];
            float s1 = act ? a.Slope[ocBase + 1] : 0, s2 = act ? a.Slope[ocBase + 2] : 0, s3 = act ? a.Slope[ocBase + 3] : 0;
            float* w1 = w + cinG, w2 = w1 + cinG, w3 = w2 + cinG;
            int p = p0;
            for (; p + 16 <= p1; p += 16)
            {
                float* yp = y + p;
                for (int cb = 0; cb < cinG; cb += SumRun)
                {
                    int ce = Math.Min(cinG, cb + SumRun);
                    bool first = cb == 0, last = ce == cinG;
                    Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
                    float* xp = x + (nint)cb * plane + p;
                    for (int ci = cb; ci < ce; ci++, xp += plane)
                    {
                        var x0 = Vector256.Load(xp);
                        var x1 = Vector256.Load(xp + 8);
                        var v = Vector256.Create(w[ci]); c00 = Fma(x0, v, c00); c01 = Fma(x1, v, c01);
                        v = Vector256.Create(w1[ci]); c10 = Fma(x0, v, c10); c11 = Fma(x1, v, c11);
                        v = Vector256.Create(w2[ci]); c20 = Fma(x0, v, c20); c21 = Fma(x1, v, c21);
                        v = Vector256.Create(w3[ci]); c30 = Fma(x0, v, c30); c31 = Fma(x1, v, c31);
                    }
                    Accumulate(c00, yp, first, last, b0, s0, act); Accumulate(c01, yp + 8, first, last, b0, s0, act);
                    Accumulate(c10, yp + plane, first, last, b1, s1, act); Accumulate(c11, yp + plane + 8, first, last, b1, s1, act);
                    Accumulate(c20, yp + 2 * plane, first, last, b2, s2, act); Accumulate(c21, yp + 2 * plane + 8, first, last, b2, s2, act);
                    Accumulate(c30, yp + 3 * plane, first, last, b3, s3, act); Accumulate(c31, yp + 3 * plane + 8, first, last, b3, s3, act);
                }
            }
            if (p < p1)
                for (int k = 0; k < OcBlock; k++)
                    PointwiseScalar(x, w + k * cinG, y + (nint)k * plane, cinG, plane, p, p1,
                        a.Bias == null ? 0 : a.Bias[ocBase + k], act ? a.Slope[ocBase + k] : 0, act);
            return;
        }
        for (int k = 0; k < n; k++)
        {
            float* wk = w + k * cinG;
            float* yk = y + (nint)k * plane;
            float bk = a.Bias == null ? 0 : a.Bias[ocBase + k], sk = act ? a.Slope[ocBase + k] : 0;
            int p = p0;
            for (; p + 16 <= p1; p += 16)
            {
                for (int cb = 0; cb < cinG; cb += SumRun)
                {
                    int ce = Math.Min(cinG, cb + SumRun);
                    Vector256<float> c0 = default, c1 = default;
                    float* xp = x + (nint)cb * plane + p;
                    for (int ci = cb; ci < ce; ci++, xp += plane)
                    {
                        var v = Vector256.Create(wk[ci]);
                        c0 = Fma(Vector256.Load(xp), v, c0);
                        c1 = Fma(Vector256.Load(xp + 8), v, c1);
                    }
                    Accumulate(c0, yk + p, cb == 0, ce == cinG, bk, sk, act);
                    Accumulate(c1, yk + p + 8, cb == 0, ce == cinG, bk, sk, act);
                }
            }
            if (p < p1) PointwiseScalar(x, wk, yk, cinG, plane, p, p1, bk, sk, act);
        }
    }

    private static void PointwiseScalar(float* x, float* w, float* y, int cinG, int plane, int p0, int p1, float bias, float slope, bool act)
    {
        for (int p = p0; p < p1; p++)
        {
            double acc = 0;
            for (int ci = 0; ci < cinG; ci++) acc += (double)x[(nint)ci * plane + p] * w[ci];
            y[p] = Finish((float)acc, bias, slope, act);
        }
    }

    // ---- Dense_4x16: 4 output channels x 16 columns of one output row, over the padded input ----

    private static void DenseItem(void* state, int item)
    {
        ref Args a = ref *(Args*)state;
        int oy = item % a.Ho, rest = item / a.Ho;
        int block = rest % a.OcBlocks, g = rest / a.OcBlocks;
        int k = a.Kernel, kk = k * k, cinG = a.CinG, wo = a.Wo;
        int oc0 = block * OcBlock, n = Math.Min(OcBlock, a.CoutG - oc0), ocBase = g * a.CoutG + oc0;
        int* taps = stackalloc int[kk];
        for (int ky = 0; ky < k; ky++)
        for (int kx = 0; kx < k; kx++)
            taps[ky * k + kx] = (oy * a.Stride + ky * a.Dilation) * a.RowLength + ColumnOffset(a, kx);
        float* xg = a.Padded + (nint)g * cinG * a.PlaneLength;
        float* w = a.W + (nint)ocBase * cinG * kk;
        int wStride = cinG * kk, plane = a.Ho * wo;
        float* y = a.Y + (nint)ocBase * plane + (nint)oy * wo;
        bool act = a.Slope != null;

        if (n == OcBlock)
        {
            int ox = 0;
            for (; ox + 16 <= wo; ox += 16)
            {
                float* yp = y + ox;
                int run = Math.Max(1, SumRun / kk);
                for (int cb = 0; cb < cinG; cb += run)
                {
                    int ce = Math.Min(cinG, cb + run);
                    bool first = cb == 0, last = ce == cinG;
                    Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
                    float* xc = xg + (nint)cb * a.PlaneLength + ox;
                    float* wc = w + cb * kk;
                    for (int ci = cb; ci < ce; ci++, xc += a.PlaneLength, wc += kk)
                    for (int t = 0; t < kk; t++)
                    {
                        float* xp = xc + taps[t];
                        var x0 = Vector256.Load(xp);
                        var x1 = Vector256.Load(xp + 8);
                        var v = Vector256.Create(wc[t]); c00 = Fma(x0, v, c00); c01 = Fma(x1, v, c01);
                        v = Vector256.Create(wc[wStride + t]); c10 = Fma(x0, v, c10); c11 = Fma(x1, v, c11);
                        v = Vector256.Create(wc[2 * wStride + t]); c20 = Fma(x0, v, c20); c21 = Fma(x1, v, c21);
                        v = Vector256.Create(wc[3 * wStride + t]); c30 = Fma(x0, v, c30); c31 = Fma(x1, v, c31);
                    }
                    Accumulate(c00, yp, first, last, Bias(a, ocBase), Slope(a, ocBase), act); Accumulate(c01, yp + 8, first, last, Bias(a, ocBase), Slope(a, ocBase), act);
                    Accumulate(c10, yp + plane, first, last, Bias(a, ocBase + 1), Slope(a, ocBase + 1), act); Accumulate(c11, yp + plane + 8, first, last, Bias(a, ocBase + 1), Slope(a, ocBase + 1), act);
                    Accumulate(c20, yp + 2 * plane, first, last, Bias(a, ocBase + 2), Slope(a, ocBase + 2), act); Accumulate(c21, yp + 2 * plane + 8, first, last, Bias(a, ocBase + 2), Slope(a, ocBase + 2), act);
                    Accumulate(c30, yp + 3 * plane, first, last, Bias(a, ocBase + 3), Slope(a, ocBase + 3), act); Accumulate(c31, yp + 3 * plane + 8, first, last, Bias(a, ocBase + 3), Slope(a, ocBase + 3), act);
                }
            }
            for (int j = 0; j < OcBlock; j++) DenseRest(a, taps, xg, w + j * wStride, y + (nint)j * plane, ox, ocBase + j);
            return;
        }
        for (int j = 0; j < n; j++)
        {
            float* wj = w + j * wStride;
            float* yj = y + (nint)j * plane;
            int ox = 0;
            for (; ox + 16 <= wo; ox += 16)
            {
                int run = Math.Max(1, SumRun / kk);
                for (int cb = 0; cb < cinG; cb += run)
                {
                    int ce = Math.Min(cinG, cb + run);
                    Vector256<float> c0 = default, c1 = default;
                    float* xc = xg + (nint)cb * a.PlaneLength + ox;
                    float* wc = wj + cb * kk;
                    for (int ci = cb; ci < ce; ci++, xc += a.PlaneLength, wc += kk)
                    for (int t = 0; t < kk; t++)
                    {
                        var v = Vector256.Create(wc[t]);
                        c0 = Fma(Vector256.Load(xc + taps[t]), v, c0);
                        c1 = Fma(Vector256.Load(xc + taps[t] + 8), v, c1);
                    }
                    Accumulate(c0, yj + ox, cb == 0, ce == cinG, Bias(a, ocBase + j), Slope(a, ocBase + j), act);
                    Accumulate(c1, yj + ox + 8, cb == 0, ce == cinG, Bias(a, ocBase + j), Slope(a, ocBase + j), act);
                }
            }
            DenseRest(a, taps, xg, wj, yj, ox, ocBase + j);
        }
    }

    /// <summary>Columns [ox, wo) of one output channel's row, 8 at a time then one at a time.</summary>
    private static void DenseRest(in Args a, int* taps, float* xg, float* w, float* y, int ox, int oc)
    {
        int kk = a.Kernel * a.Kernel, cinG = a.CinG;
        bool act = a.Slope != null;
        int run = Math.Max(1, SumRun / kk);
        for (; ox + 8 <= a.Wo; ox += 8)
        {
            for (int cb = 0; cb < cinG; cb += run)
            {
                int ce = Math.Min(cinG, cb + run);
                Vector256<float> c = default;
                float* xc = xg + (nint)cb * a.PlaneLength + ox;
                float* wc = w + cb * kk;
                for (int ci = cb; ci < ce; ci++, xc += a.PlaneLength, wc += kk)
                for (int t = 0; t < kk; t++) c = Fma(Vector256.Load(xc + taps[t]), Vector256.Create(wc[t]), c);
                Accumulate(c, y + ox, cb == 0, ce == cinG, Bias(a, oc), Slope(a, oc), act);
            }
        }
        for (; ox < a.Wo; ox++)
        {
            double c = 0;
            float* xc = xg + ox;
            float* wc = w;
            for (int ci = 0; ci < cinG; ci++, xc += a.PlaneLength, wc += kk)
            for (int t = 0; t < kk; t++) c += (double)xc[taps[t]] * wc[t];
            y[ox] = Finish((float)c, Bias(a, oc), Slope(a, oc), act);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Bias(in Args a, int oc) => a.Bias == null ? 0f : a.Bias[oc];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Slope(in Args a, int oc) => a.Slope == null ? 0f : a.Slope[oc];

    // ---- Depthwise_32: one channel's output row, 32 columns at a time ----

    private static void DepthwiseItem(void* state, int item)
    {
        ref Args a = ref *(Args*)state;
        int oy = item % a.Ho, c = item / a.Ho;
        int k = a.Kernel, kk = k * k, wo = a.Wo;
        int* taps = stackalloc int[kk];
        for (int ky = 0; ky < k; ky++)
        for (int kx = 0; kx < k; kx++)
            taps[ky * k + kx] = (oy * a.Stride + ky * a.Dilation) * a.RowLength + ColumnOffset(a, kx);
        float* x = a.Padded + (nint)c * a.PlaneLength;
        float* w = a.W + (nint)c * kk;
        float* y = a.Y + (nint)c * a.Ho * wo + (nint)oy * wo;
        bool act = a.Slope != null;
        float bias = Bias(a, c), slope = Slope(a, c);
        int ox = 0;
        for (; ox + 32 <= wo; ox += 32)
        {
            Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default;
            for (int t = 0; t < kk; t++)
            {
                float* xp = x + taps[t] + ox;
                var v = Vector256.Create(w[t]);
                c0 = Fma(Vector256.Load(xp), v, c0);
                c1 = Fma(Vector256.Load(xp + 8), v, c1);
                c2 = Fma(Vector256.Load(xp + 16), v, c2);
                c3 = Fma(Vector256.Load(xp + 24), v, c3);
            }
            Store(c0, y + ox, bias, slope, act); Store(c1, y + ox + 8, bias, slope, act);
            Store(c2, y + ox + 16, bias, slope, act); Store(c3, y + ox + 24, bias, slope, act);
        }
        for (; ox + 8 <= wo; ox += 8)
        {
            Vector256<float> c0 = default;
            for (int t = 0; t < kk; t++) c0 = Fma(Vector256.Load(x + taps[t] + ox), Vector256.Create(w[t]), c0);
            Store(c0, y + ox, bias, slope, act);
        }
        for (; ox < wo; ox++)
        {
            float s = 0;
            for (int t = 0; t < kk; t++) s = MathF.FusedMultiplyAdd(x[taps[t] + ox], w[t], s);
            y[ox] = Finish(s, bias, slope, act);
        }
    }
}
