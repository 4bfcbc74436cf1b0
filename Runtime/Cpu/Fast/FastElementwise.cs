using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Espnet.Compiled.Cpu.Fast;

/// <summary>
/// The fast path's per-channel and resampling kernels: scale-shift (an unfoldable BatchNorm) with PReLU,
/// the 2x2 stride-2 transposed convolution, and load-time folding of BatchNorm into convolution weights.
/// </summary>
public static unsafe class FastElementwise
{
    /// <summary>
    /// Inference BatchNorm in place, per channel: y = prelu((y - mean) * scale + beta), <paramref name="slope"/>
    /// empty: no activation. The mean is subtracted first (exact when y is near it) and the rest is one fused
    /// multiply-add: the authors' BatchNorms have gains near 100 after sums near their mean, where
    /// y * scale + (beta - mean * scale) would lose the digits that matter.
    /// </summary>
    /// <remarks><paramref name="residual"/>, when given (shaped like y), is added first: y = prelu((y + r - mean) * scale + beta).
    /// <paramref name="source"/>, when given, is read in place of y's own values (a BatchNorm layer out of place, no copy first).</remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ScaleShift(Span<float> y, int channels, int plane, ReadOnlySpan<float> mean, ReadOnlySpan<float> scale, ReadOnlySpan<float> beta,
        ReadOnlySpan<float> slope, ReadOnlySpan<float> residual = default, ReadOnlySpan<float> source = default)
    {
        if (!source.IsEmpty && source.Length < (long)channels * plane)
            throw new ArgumentException($"ScaleShift: the source holds {source.Length} floats, fewer than {channels} channels of {plane}.");
        if (y.Length < (long)channels * plane || scale.Length < channels || beta.Length < channels || mean.Length < channels || (!slope.IsEmpty && slope.Length < channels)
            || (!residual.IsEmpty && residual.Length < (long)channels * plane))
            throw new ArgumentException($"ScaleShift: spans too short for {channels} channels of {plane}.");
        fixed (float* py = y, pm = mean, ps = scale, pt = beta, pa = slope, pr = residual, pf = source)
        {
            var a = new ChannelArgs
            {
                Y = py, From = source.IsEmpty ? py : pf, Mean = pm, Scale = ps, Shift = pt, Slope = slope.IsEmpty ? null : pa,
                Residual = residual.IsEmpty ? null : pr, Plane = plane,
            };
            Workers.For(&a, &ScaleShiftItem, channels, (long)channels * plane);
        }
    }

    private struct ChannelArgs
    {
        public float* Y, From, Mean, Scale, Shift, Slope, Residual;
        public int Plane;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScaleShiftItem(void* state, int c)
    {
        ref ChannelArgs a = ref *(ChannelArgs*)state;
        float* y = a.Y + (nint)c * a.Plane;
        float* x = a.From + (nint)c * a.Plane;
        float* r = a.Residual == null ? null : a.Residual + (nint)c * a.Plane;
        float m = a.Mean[c], s = a.Scale[c], t = a.Shift[c];
        bool act = a.Slope != null;
        float slope = act ? a.Slope[c] : 0;
        var vm = Vector256.Create(m);
        var vs = Vector256.Create(s);
        var vt = Vector256.Create(t);
        var va = Vector256.Create(slope);
        int i = 0;
        for (; i + 8 <= a.Plane; i += 8)
        {
            var d = (r == null ? Vector256.Load(x + i) : Vector256.Load(x + i) + Vector256.Load(r + i)) - vm;
            var v = Fma.IsSupported ? Fma.MultiplyAdd(d, vs, vt) : d * vs + vt;
            if (act) v = Vector256.ConditionalSelect(Vector256.LessThan(v, Vector256<float>.Zero), v * va, v);
            v.Store(y + i);
        }
        for (; i < a.Plane; i++)
        {
            float v = MathF.FusedMultiplyAdd((r == null ? x[i] : x[i] + r[i]) - m, s, t);
            y[i] = act && v < 0 ? v * slope : v;
        }
    }

    /// <summary>
    /// Transposed convolution with kernel 2, stride 2 and no padding, weights [cin, cout, 2, 2]:
    /// y[o, 2i+a, 2j+b] = sum over c of x[c, i, j] * W[c, o, a, b]. One input row per work item, every output
    /// channel from it (the row stays in cache): four accumulators (a, b) per vector of columns, the b = 0 and
    /// b = 1 results interleaved into the two output rows. Other shapes use the plain kernel.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ConvTranspose2x2(ReadOnlySpan<float> x, int cin, int h, int w, ReadOnlySpan<float> weight, Span<float> y, int cout)
    {
        if (x.Length < (long)cin * h * w || weight.Length < (long)cin * cout * 4 || y.Length < (long)cout * 4 * h * w)
            throw new ArgumentException("ConvTranspose2x2: spans too short for the shapes given.");
        fixed (float* px = x, pw = weight, py = y)
        {
            var a = new TransposeArgs { X = px, W = pw, Y = py, Cin = cin, H = h, Wd = w, Cout = cout };
            bool wide = Simd.Use512 && Avx512F.IsSupported;
            Workers.For(&a, wide ? &ConvTranspose2x2_4V<V512> : &ConvTranspose2x2_4V<V256>, h, 4L * cin * cout * h * w);
        }
    }

    /// <summary>
    /// <see cref="ConvTranspose2x2"/> with its input inside its own output <paramref name="y"/>, from float
    /// <paramref name="inputAt"/> on in <see cref="OutputLayout.RowBlocked"/> layout (input channel c's row i at
    /// inputAt + (c / 4) * 4hw + (c % 4) * w + i * 4w), as the planner places the last layer's input when the output
    /// is four times its size. With inputAt a whole number of output planes, input row i of every channel lies in
    /// output rows 2i and 2i + 1 of some plane: the floats work item i writes. So each item copies its input rows
    /// into this thread's buffer first, then computes them as <see cref="ConvTranspose2x2"/> does (same sums, same
    /// order: bit-identical), and no item reads what another writes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ConvTranspose2x2InOutput(Span<float> y, int inputAt, int cin, int h, int w, ReadOnlySpan<float> weight, int cout)
    {
        long plane = 4L * h * w;
        if (weight.Length < (long)cin * cout * 4 || y.Length < cout * plane)
            throw new ArgumentException("ConvTranspose2x2InOutput: spans too short for the shapes given.");
        if (inputAt < 0 || inputAt % plane != 0 || inputAt / plane + (cin + 3) / 4 > cout)
            throw new ArgumentException($"ConvTranspose2x2InOutput: an input at float {inputAt} is not whole output planes with room for {cin} channels in blocks of four.");
        fixed (float* pw = weight, py = y)
        {
            var a = new TransposeArgs { X = py + inputAt, W = pw, Y = py, Cin = cin, H = h, Wd = w, Cout = cout, InOutput = true };
            bool wide = Simd.Use512 && Avx512F.IsSupported;
            Workers.For(&a, wide ? &ConvTranspose2x2_4V<V512> : &ConvTranspose2x2_4V<V256>, h, 4L * cin * cout * h * w);
        }
    }

    private struct TransposeArgs
    {
        public float* X, W, Y;
        public int Cin, H, Wd, Cout;
        /// <summary>X lies in Y, rows blocked (<see cref="ConvTranspose2x2InOutput"/>).</summary>
        public bool InOutput;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ConvTranspose2x2_4V<TV>(void* state, int i) where TV : struct, IVec<TV>
    {
        ref TransposeArgs a = ref *(TransposeArgs*)state;
        int w = a.Wd, wo = 2 * w, L = TV.Count, wStep = a.Cout * 4;
        nint plane = (nint)a.H * w, xStep = plane;   // input channel to channel
        float* x = a.X + (nint)i * w;
        if (a.InOutput)
        {
            // This row of every input channel, out of the output rows this item is about to write, into the
            // thread's buffer (then channel c's row is at x + c * w).
            float* rows = ThreadBuffer.Get((long)a.Cin * w + 16);
            var layout = OutputLayout.RowBlocked(a.H, w);
            for (int c = 0; c < a.Cin; c++)
                Buffer.MemoryCopy(a.X + layout.Offset(c, i), rows + (nint)c * w, (long)w * 4, (long)w * 4);
            x = rows;
            xStep = w;
        }
        for (int o = 0; o < a.Cout; o++)
        {
            float* wt = a.W + o * 4;
            float* row0 = a.Y + (nint)o * 4 * plane + (nint)(2 * i) * wo;
            float* row1 = row0 + wo;
            int j = 0;
            if (Avx.IsSupported)
            {
                for (; j + L <= w; j += L)
                {
                    TV a00 = default, a01 = default, a10 = default, a11 = default;
                    float* xp = x + j;
                    float* wc = wt;
                    for (int c = 0; c < a.Cin; c++, xp += xStep, wc += wStep)
                    {
                        var v = TV.Load(xp);
                        a00 = TV.FusedMultiplyAdd(v, TV.Splat(wc[0]), a00);
                        a01 = TV.FusedMultiplyAdd(v, TV.Splat(wc[1]), a01);
                        a10 = TV.FusedMultiplyAdd(v, TV.Splat(wc[2]), a10);
                        a11 = TV.FusedMultiplyAdd(v, TV.Splat(wc[3]), a11);
                    }
                    Interleave(a00, a01, row0 + 2 * j);
                    Interleave(a10, a11, row1 + 2 * j);
                }
            }
            for (; j < w; j++)
            {
                float s00 = 0, s01 = 0, s10 = 0, s11 = 0;
                float* xp = x + j;
                float* wc = wt;
                for (int c = 0; c < a.Cin; c++, xp += xStep, wc += wStep)
                {
                    float v = *xp;
                    s00 = MathF.FusedMultiplyAdd(v, wc[0], s00); s01 = MathF.FusedMultiplyAdd(v, wc[1], s01);
                    s10 = MathF.FusedMultiplyAdd(v, wc[2], s10); s11 = MathF.FusedMultiplyAdd(v, wc[3], s11);
                }
                row0[2 * j] = s00; row0[2 * j + 1] = s01;
                row1[2 * j] = s10; row1[2 * j + 1] = s11;
            }
        }
    }

    // Writes e0 o0 e1 o1 ... (2L floats) from the even-column and odd-column vectors.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Interleave<TV>(TV even, TV odd, float* to) where TV : struct, IVec<TV>
    {
        if (typeof(TV) == typeof(V512))
        {
            var e = Unsafe.As<TV, Vector512<float>>(ref even);
            var o = Unsafe.As<TV, Vector512<float>>(ref odd);
            var lo = Avx512F.UnpackLow(e, o).AsDouble();   // per 128-bit lane: e0 o0 e1 o1
            var hi = Avx512F.UnpackHigh(e, o).AsDouble();  // per 128-bit lane: e2 o2 e3 o3
            Avx512F.PermuteVar8x64x2(lo, Vector512.Create(0L, 1, 8, 9, 2, 3, 10, 11), hi).AsSingle().Store(to);
            Avx512F.PermuteVar8x64x2(lo, Vector512.Create(4L, 5, 12, 13, 6, 7, 14, 15), hi).AsSingle().Store(to + 16);
        }
        else
        {
            var e = Unsafe.As<TV, Vector256<float>>(ref even);
            var o = Unsafe.As<TV, Vector256<float>>(ref odd);
            var lo = Avx.UnpackLow(e, o);   // e0 o0 e1 o1 | e4 o4 e5 o5
            var hi = Avx.UnpackHigh(e, o);  // e2 o2 e3 o3 | e6 o6 e7 o7
            Avx.Permute2x128(lo, hi, 0x20).Store(to);
            Avx.Permute2x128(lo, hi, 0x31).Store(to + 8);
        }
    }

    /// <summary>y = a + b (y may be a or b), in chunks spread over the workers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Add(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y) =>
        AddPRelu(a, b, y, (y.Length + CopyChunk - 1) / CopyChunk, 0, default);

    /// <summary>
    /// y = prelu(a + b) per channel (y may be a or b); <paramref name="slope"/> empty: no activation, and then
    /// <paramref name="plane"/> 0 means chunks of equal size. <paramref name="a"/> is y itself for an in-place PReLU.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AddPRelu(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y, int channels, int plane, ReadOnlySpan<float> slope)
    {
        int length = y.Length;
        if (plane > 0 && length < (long)channels * plane || a.Length < length || (!b.IsEmpty && b.Length < length) || (!slope.IsEmpty && slope.Length < channels))
            throw new ArgumentException($"AddPRelu: spans too short for {channels} channels of {plane}.");
        fixed (float* pa = a, pb = b, py = y, ps = slope)
        {
            var args = new SumArgs
            {
                A = pa, B = b.IsEmpty ? null : pb, Y = py, Slope = slope.IsEmpty ? null : ps,
                Chunk = plane > 0 ? plane : (length + channels - 1) / channels, Length = plane > 0 ? channels * plane : length,
            };
            Workers.For(&args, &SumItem, channels, args.Length);
        }
    }

    /// <summary>PReLU in place, one slope per channel, channels in parallel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PRelu(Span<float> y, int channels, int plane, ReadOnlySpan<float> slope) => AddPRelu(y, default, y, channels, plane, slope);

    private struct SumArgs
    {
        public float* A, B, Y, Slope;
        public int Chunk, Length;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SumItem(void* state, int c)
    {
        ref SumArgs s = ref *(SumArgs*)state;
        long start = (long)c * s.Chunk;
        int n = (int)Math.Min(s.Chunk, s.Length - start);
        if (n <= 0) return;
        float* a = s.A + start, b = s.B == null ? null : s.B + start, y = s.Y + start;
        bool act = s.Slope != null;
        float slope = act ? s.Slope[c] : 0;
        var vs = Vector256.Create(slope);
        int i = 0;
        for (; i + 8 <= n; i += 8)
        {
            var v = b == null ? Vector256.Load(a + i) : Vector256.Load(a + i) + Vector256.Load(b + i);
            if (act) v = Vector256.ConditionalSelect(Vector256.LessThan(v, Vector256<float>.Zero), v * vs, v);
            v.Store(y + i);
        }
        for (; i < n; i++)
        {
            float v = b == null ? a[i] : a[i] + b[i];
            y[i] = act && v < 0 ? v * slope : v;
        }
    }

    /// <summary>y[c] = mean of channel c's plane (float partial sums, added in double), channels in parallel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void GlobalAvgPool(ReadOnlySpan<float> x, int channels, int plane, Span<float> y)
    {
        if (x.Length < (long)channels * plane || y.Length < channels) throw new ArgumentException("GlobalAvgPool: spans too short.");
        fixed (float* px = x, py = y)
        {
            var a = new ChannelArgs { From = px, Y = py, Plane = plane };
            Workers.For(&a, &MeanItem, channels, (long)channels * plane);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MeanItem(void* state, int c)
    {
        ref ChannelArgs a = ref *(ChannelArgs*)state;
        float* x = a.From + (nint)c * a.Plane;
        double sum = 0;
        int i = 0;
        for (; i + 64 <= a.Plane; i += 64)
        {
            var v = Vector256.Load(x + i) + Vector256.Load(x + i + 8) + Vector256.Load(x + i + 16) + Vector256.Load(x + i + 24)
                    + (Vector256.Load(x + i + 32) + Vector256.Load(x + i + 40) + Vector256.Load(x + i + 48) + Vector256.Load(x + i + 56));
            sum += Vector256.Sum(v);
        }
        for (; i < a.Plane; i++) sum += x[i];
        a.Y[c] = (float)(sum / a.Plane);
    }

    /// <summary>y[c, :] *= sigmoid(gate[c]), channels in parallel (EfficientPWConv's gate).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void SigmoidGate(Span<float> y, int channels, int plane, ReadOnlySpan<float> gate)
    {
        if (y.Length < (long)channels * plane || gate.Length < channels) throw new ArgumentException("SigmoidGate: spans too short.");
        fixed (float* py = y, pg = gate)
        {
            var a = new ChannelArgs { Y = py, Scale = pg, Plane = plane };
            Workers.For(&a, &GateItem, channels, (long)channels * plane);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void GateItem(void* state, int c)
    {
        ref ChannelArgs a = ref *(ChannelArgs*)state;
        float* y = a.Y + (nint)c * a.Plane;
        float s = 1f / (1f + MathF.Exp(-a.Scale[c]));
        var vs = Vector256.Create(s);
        int i = 0;
        for (; i + 8 <= a.Plane; i += 8) (Vector256.Load(y + i) * vs).Store(y + i);
        for (; i < a.Plane; i++) y[i] *= s;
    }

    /// <summary>y = x, in chunks spread over the workers (a concatenation's slices, a channel shuffle's planes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Copy(ReadOnlySpan<float> x, Span<float> y)
    {
        if (y.Length < x.Length) throw new ArgumentException($"Copy: {x.Length} floats into {y.Length}.");
        if (x.Length < 1 << 16)
        {
            x.CopyTo(y);
            return;
        }
        fixed (float* px = x, py = y)
        {
            var a = new CopyArgs { X = px, Y = py, Length = x.Length };
            Workers.For(&a, &CopyItem, (x.Length + CopyChunk - 1) / CopyChunk, x.Length);
        }
    }

    private const int CopyChunk = 1 << 15;

    private struct CopyArgs
    {
        public float* X, Y;
        public int Length;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void CopyItem(void* state, int chunk)
    {
        ref CopyArgs a = ref *(CopyArgs*)state;
        long start = (long)chunk * CopyChunk, n = Math.Min(CopyChunk, a.Length - start);
        Buffer.MemoryCopy(a.X + start, a.Y + start, n * 4, n * 4);
    }

    /// <summary>Channel shuffle with g groups (new channel j*g + k is old channel k*(C/g) + j), planes copied in parallel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ChannelShuffle(ReadOnlySpan<float> x, int channels, int plane, int groups, Span<float> y)
    {
        if (x.Length < (long)channels * plane || y.Length < (long)channels * plane || channels % groups != 0)
            throw new ArgumentException("ChannelShuffle: spans or groups do not agree.");
        fixed (float* px = x, py = y)
        {
            var a = new ShuffleArgs { X = px, Y = py, Plane = plane, Groups = groups, PerGroup = channels / groups };
            Workers.For(&a, &ShuffleItem, channels, (long)channels * plane);
        }
    }

    private struct ShuffleArgs
    {
        public float* X, Y;
        public int Plane, Groups, PerGroup;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ShuffleItem(void* state, int c)
    {
        ref ShuffleArgs a = ref *(ShuffleArgs*)state;
        int k = c / a.PerGroup, j = c % a.PerGroup;
        Buffer.MemoryCopy(a.X + (nint)c * a.Plane, a.Y + (nint)(j * a.Groups + k) * a.Plane, (long)a.Plane * 4, (long)a.Plane * 4);
    }

    /// <summary>
    /// 3x3, stride 2, pad 1 average pooling with the padding counted (divisor 9), summing in the plain kernel's
    /// order (rows, then columns, skipping the padding) so the result is the same to the bit; rows in parallel.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AvgPool3x3S2(ReadOnlySpan<float> x, int channels, int h, int w, Span<float> y, int ho, int wo)
    {
        if (x.Length < (long)channels * h * w || y.Length < (long)channels * ho * wo || ho != (h - 1) / 2 + 1 || wo != (w - 1) / 2 + 1)
            throw new ArgumentException("AvgPool3x3S2: spans or sizes do not agree.");
        fixed (float* px = x, py = y)
        {
            // Several output rows per item on small maps (a 28-column row is too little work to hand out alone).
            int rows = Math.Max(1, Math.Min(ho, 1024 / wo));
            var a = new PoolArgs { X = px, Y = py, H = h, W = w, Ho = ho, Wo = wo, Rows = rows };
            Workers.For(&a, &PoolItem, channels * ((ho + rows - 1) / rows), 9L * channels * ho * wo);
        }
    }

    private struct PoolArgs
    {
        public float* X, Y;
        public int H, W, Ho, Wo, Rows;
    }

    [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PoolItem(void* state, int item)
    {
        ref PoolArgs a = ref *(PoolArgs*)state;
        int chunks = (a.Ho + a.Rows - 1) / a.Rows, c = item / chunks, w = a.W, wo = a.Wo;
        int oy0 = item % chunks * a.Rows, oy1 = Math.Min(a.Ho, oy0 + a.Rows);
        float* plane = a.X + (nint)c * a.H * w;
        float* t = stackalloc float[w + 2 + 16];
        float* even = stackalloc float[wo + 16];
        float* odd = stackalloc float[wo + 16];
        var nine = Vector256.Create(9f);
        for (int oy = oy0; oy < oy1; oy++)
        {
            float* y = a.Y + (nint)c * a.Ho * wo + (nint)oy * wo;
            int y0 = Math.Max(0, 2 * oy - 1), y1 = Math.Min(a.H - 1, 2 * oy + 1);
            // Column sums of the window's rows, top to bottom, with one zero column either side (the padding):
            // t[q] is input column q - 1.
            t[0] = 0;
            float* r0 = plane + (nint)y0 * w, r1 = r0 + w, r2 = r1 + w;
            int k = 0;
            if (y1 - y0 == 2)
            {
                for (; k + 8 <= w; k += 8) (Vector256.Load(r0 + k) + Vector256.Load(r1 + k) + Vector256.Load(r2 + k)).Store(t + 1 + k);
                for (; k < w; k++) t[1 + k] = r0[k] + r1[k] + r2[k];
            }
            else if (y1 - y0 == 1)
            {
                for (; k + 8 <= w; k += 8) (Vector256.Load(r0 + k) + Vector256.Load(r1 + k)).Store(t + 1 + k);
                for (; k < w; k++) t[1 + k] = r0[k] + r1[k];
            }
            else
            {
                for (; k + 8 <= w; k += 8) Vector256.Load(r0 + k).Store(t + 1 + k);
                for (; k < w; k++) t[1 + k] = r0[k];
            }
            t[w + 1] = 0;
            t[w + 2] = 0;
            // Output column ox sums t[2ox], t[2ox+1], t[2ox+2]: split t into its even and odd entries and add shifted.
            FastConv.Deinterleave(t, 2 * wo + 1, even, odd);
            int j = 0;
            for (; j + 8 <= wo; j += 8)
                ((Vector256.Load(even + j) + Vector256.Load(odd + j) + Vector256.Load(even + j + 1)) / nine).Store(y + j);
            for (; j < wo; j++) y[j] = (even[j] + odd[j] + even[j + 1]) / 9f;
        }
    }

    /// <summary>
    /// Folds an inference BatchNorm into the convolution before it, in double, rounded once:
    /// w' = w * s, b' = (b - mean) * s + beta with s = gamma / sqrt(var + eps). <paramref name="bias"/> empty: none.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void FoldBatchNorm(ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> variance, float eps, int cout, Span<float> foldedWeight, Span<float> foldedBias)
    {
        int perChannel = weight.Length / cout;
        for (int o = 0; o < cout; o++)
        {
            double s = gamma[o] / Math.Sqrt((double)variance[o] + eps);
            for (int i = 0; i < perChannel; i++) foldedWeight[o * perChannel + i] = (float)(weight[o * perChannel + i] * s);
            double b = bias.IsEmpty ? 0 : bias[o];
            foldedBias[o] = (float)((b - mean[o]) * s + beta[o]);
        }
    }

    /// <summary>An inference BatchNorm's scale, gamma / sqrt(var + eps), computed in double and rounded once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BatchNormScale(ReadOnlySpan<float> gamma, ReadOnlySpan<float> variance, float eps, int channels, Span<float> scale)
    {
        for (int c = 0; c < channels; c++) scale[c] = (float)(gamma[c] / Math.Sqrt((double)variance[c] + eps));
    }
}
