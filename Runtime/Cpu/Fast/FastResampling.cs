using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Espnet.Compiled.Cpu.Fast;

/// <summary>
/// Bilinear resizing (aligned corners) and adaptive average pooling on the fast path: separable, the vertical
/// step vectorised over a whole input row, the horizontal one from per-row tables, output rows in parallel.
/// Float32 throughout (the plain kernels in <see cref="Resampling"/> blend in double; the two agree to float rounding).
/// </summary>
public static unsafe class FastResampling
{
    private const int MaxRow = 8192; // floats of one input row kept on the stack

    /// <summary>Bilinear resize with aligned corners, PyTorch's source positions (see <see cref="Resampling.BilinearAlignCorners"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BilinearAlignCorners(ReadOnlySpan<float> x, int channels, int h, int w, Span<float> y, int ho, int wo)
    {
        if (x.Length < (long)channels * h * w || y.Length < (long)channels * ho * wo)
            throw new ArgumentException("BilinearAlignCorners: spans too short for the shapes given.");
        if (w > MaxRow || wo > MaxRow)
        {
            Resampling.BilinearAlignCorners(x, channels, h, w, y, ho, wo);
            return;
        }
        // Per output column: its left source column and weight, computed once (on this stack: the workers read it while we wait).
        int* left = stackalloc int[wo];
        float* weight = stackalloc float[wo];
        BlendColumns(w, wo, left, weight);
        fixed (float* px = x, py = y)
        {
            var a = new Args { X = px, Y = py, H = h, W = w, Ho = ho, Wo = wo, Left = left, Weight = weight };
            Workers.For(&a, &BilinearItem, channels * ho, 4L * channels * ho * wo);
        }
    }

    /// <summary>Adaptive average pooling (windows floor(i*in/out) .. ceil((i+1)*in/out)), also to a larger size.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AdaptiveAvgPool(ReadOnlySpan<float> x, int channels, int h, int w, Span<float> y, int ho, int wo)
    {
        if (x.Length < (long)channels * h * w || y.Length < (long)channels * ho * wo)
            throw new ArgumentException("AdaptiveAvgPool: spans too short for the shapes given.");
        if (w > MaxRow || wo > MaxRow)
        {
            Resampling.AdaptiveAvgPool(x, channels, h, w, y, ho, wo);
            return;
        }
        // Per output column: its window [first, end) of source columns, computed once.
        int* first = stackalloc int[wo];
        int* end = stackalloc int[wo];
        WindowColumns(w, wo, first, end);
        fixed (float* px = x, py = y)
        {
            var a = new Args { X = px, Y = py, H = h, W = w, Ho = ho, Wo = wo, Left = first, End = end };
            Workers.For(&a, &PoolItem, channels * ho, (long)channels * h * w);
        }
    }

    /// <summary>Per output column of a w -> wo aligned-corners resize: its left source column and blend weight.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BlendColumns(int w, int wo, int* left, float* weight)
    {
        float sx = wo > 1 ? (float)(w - 1) / (wo - 1) : 0f;
        for (int j = 0; j < wo; j++)
        {
            float src = sx * j;
            left[j] = Math.Min((int)src, w - 1);
            weight[j] = src - left[j];
        }
    }

    /// <summary>Per output column of a w -> wo adaptive pooling: its window [first, end) of source columns.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WindowColumns(int w, int wo, int* first, int* end)
    {
        for (int j = 0; j < wo; j++)
        {
            first[j] = j * w / wo;
            end[j] = ((j + 1) * w + wo - 1) / wo;
        }
    }

    /// <summary>
    /// EfficientPyrPool's branch above scale 1, fused: x (c x h x w) resized (aligned corners) to hs x ws, a
    /// depth-wise 3x3 convolution (padding 1, no bias), then adaptive average pooling back to h x w into y. Each
    /// work item is one channel and a band of output rows: it resizes the rows its band needs into this thread's
    /// buffer, convolves them there and pools them, so the large intermediate maps (20 MB at scale 2 on a
    /// 256x512 map) never reach memory. Every float is computed as the three separate kernels compute it (the same
    /// row helpers, the depth-wise taps in <see cref="FastConv"/>'s order), so the result is theirs to the bit.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void UpsampledDepthwisePool(ReadOnlySpan<float> x, int channels, int h, int w, ReadOnlySpan<float> weight, int hs, int ws, Span<float> y)
    {
        if (x.Length < (long)channels * h * w || y.Length < (long)channels * h * w || weight.Length < channels * 9)
            throw new ArgumentException("UpsampledDepthwisePool: spans too short for the shapes given.");
        if (hs < h || ws < w || ws > MaxRow)
            throw new ArgumentException($"UpsampledDepthwisePool: {hs}x{ws} is not an upsampling of {h}x{w} this kernel runs.");
        int* left = stackalloc int[ws];
        float* blend = stackalloc float[ws];
        BlendColumns(w, ws, left, blend);
        int* first = stackalloc int[w];
        int* end = stackalloc int[w];
        WindowColumns(ws, w, first, end);
        // Output rows per item: about 16K floats of convolved rows (they stay in L1/L2 between the steps).
        int perRow = (hs + h - 1) / h;
        int band = Math.Clamp(BranchFloats / (perRow * ws), 1, h);
        fixed (float* px = x, py = y, pw = weight)
        {
            var a = new BranchArgs { X = px, Y = py, W = pw, H = h, Wd = w, Hs = hs, Ws = ws, Band = band, Left = left, Blend = blend, First = first, End = end };
            long work = 9L * channels * hs * ws;
            Workers.For(&a, Simd.Use512 ? &BranchItem<V512> : &BranchItem<V256>, channels * ((h + band - 1) / band), work);
        }
    }

    private const int BranchFloats = 1 << 14;

    private struct BranchArgs
    {
        public float* X, Y, W, Blend;
        public int* Left, First, End;
        public int H, Wd, Hs, Ws, Band;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BranchItem<TV>(void* state, int item) where TV : struct, IVec<TV>
    {
        ref BranchArgs a = ref *(BranchArgs*)state;
        int bands = (a.H + a.Band - 1) / a.Band, c = item / bands, i0 = item % bands * a.Band, i1 = Math.Min(a.H, i0 + a.Band);
        int h = a.H, w = a.Wd, hs = a.Hs, ws = a.Ws;
        // Convolved rows [r0, r1) feed the band's pooling windows; they read resized rows [r0 - 1, r1 + 1).
        int r0 = i0 * hs / h, r1 = (i1 * hs + h - 1) / h, rows = r1 - r0;
        int rowLength = ws + 2;
        long paddedFloats = (long)(rows + 2) * rowLength + 64;
        float* buffer = ThreadBuffer.Get(paddedFloats + (long)rows * ws + 2L * ws + 64);
        float* padded = buffer, conv = buffer + paddedFloats, row = conv + (long)rows * ws;
        float* plane = a.X + (nint)c * h * w;

        // Resized rows, each with a zero column either side; rows outside the map are zero (the convolution's padding).
        float sy = hs > 1 ? (float)(h - 1) / (hs - 1) : 0f;
        for (int q = 0; q < rows + 2; q++)
        {
            float* d = padded + (nint)q * rowLength;
            int u = r0 - 1 + q;
            if ((uint)u >= (uint)hs)
            {
                new Span<float>(d, rowLength).Clear();
                continue;
            }
            float src = sy * u;
            int y0 = Math.Min((int)src, h - 1), y1 = Math.Min(y0 + 1, h - 1);
            d[0] = 0;
            d[ws + 1] = 0;
            BilinearRow(plane + (nint)y0 * w, plane + (nint)y1 * w, src - y0, w, row, a.Left, a.Blend, d + 1, ws);
        }

        // The depth-wise 3x3 over them: per output, taps in row-major order, one fused multiply-add each from zero
        // (four vectors at a time: four independent chains).
        float* k = a.W + (nint)c * 9;
        TV k0 = TV.Splat(k[0]), k1 = TV.Splat(k[1]), k2 = TV.Splat(k[2]), k3 = TV.Splat(k[3]), k4 = TV.Splat(k[4]);
        TV k5 = TV.Splat(k[5]), k6 = TV.Splat(k[6]), k7 = TV.Splat(k[7]), k8 = TV.Splat(k[8]);
        int L = TV.Count;
        for (int r = 0; r < rows; r++)
        {
            float* s0 = padded + (nint)r * rowLength, s1 = s0 + rowLength, s2 = s1 + rowLength, dst = conv + (nint)r * ws;
            int ox = 0;
            for (; ox + 4 * L <= ws; ox += 4 * L)
            {
                Taps3x3(s0 + ox, s1 + ox, s2 + ox, k0, k1, k2, k3, k4, k5, k6, k7, k8).Store(dst + ox);
                Taps3x3(s0 + ox + L, s1 + ox + L, s2 + ox + L, k0, k1, k2, k3, k4, k5, k6, k7, k8).Store(dst + ox + L);
                Taps3x3(s0 + ox + 2 * L, s1 + ox + 2 * L, s2 + ox + 2 * L, k0, k1, k2, k3, k4, k5, k6, k7, k8).Store(dst + ox + 2 * L);
                Taps3x3(s0 + ox + 3 * L, s1 + ox + 3 * L, s2 + ox + 3 * L, k0, k1, k2, k3, k4, k5, k6, k7, k8).Store(dst + ox + 3 * L);
            }
            for (; ox < ws; ox += L)
            {
                var acc = Taps3x3(s0 + ox, s1 + ox, s2 + ox, k0, k1, k2, k3, k4, k5, k6, k7, k8);
                if (ox + L <= ws) acc.Store(dst + ox);
                else acc.StoreFirst(dst + ox, ws - ox);
            }
        }

        // Pooled back: each output row's window of convolved rows.
        for (int i = i0; i < i1; i++)
        {
            int s0 = i * hs / h, s1 = ((i + 1) * hs + h - 1) / h;
            PoolRow(conv + (nint)(s0 - r0) * ws, ws, 0, s1 - s0, row, a.First, a.End, a.Y + ((nint)c * h + i) * w, w);
        }
    }

    /// <summary>One vector of a depth-wise 3x3 (three padded rows), as <see cref="FastConv"/> sums it: fma per tap from zero, then + 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Taps3x3<TV>(float* s0, float* s1, float* s2, TV k0, TV k1, TV k2, TV k3, TV k4, TV k5, TV k6, TV k7, TV k8) where TV : struct, IVec<TV>
    {
        TV acc = default;
        acc = TV.FusedMultiplyAdd(TV.Load(s0), k0, acc);
        acc = TV.FusedMultiplyAdd(TV.Load(s0 + 1), k1, acc);
        acc = TV.FusedMultiplyAdd(TV.Load(s0 + 2), k2, acc);
        acc = TV.FusedMultiplyAdd(TV.Load(s1), k3, acc);
        acc = TV.FusedMultiplyAdd(TV.Load(s1 + 1), k4, acc);
        acc = TV.FusedMultiplyAdd(TV.Load(s1 + 2), k5, acc);
        acc = TV.FusedMultiplyAdd(TV.Load(s2), k6, acc);
        acc = TV.FusedMultiplyAdd(TV.Load(s2 + 1), k7, acc);
        acc = TV.FusedMultiplyAdd(TV.Load(s2 + 2), k8, acc);
        return TV.Epilogue(acc, 0f, 0f, false);
    }

    private struct Args
    {
        public float* X, Y, Weight;
        public int* Left, End;
        public int H, W, Ho, Wo;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BilinearItem(void* state, int item)
    {
        ref Args a = ref *(Args*)state;
        int i = item % a.Ho, c = item / a.Ho, w = a.W, wo = a.Wo;
        float sy = a.Ho > 1 ? (float)(a.H - 1) / (a.Ho - 1) : 0f;
        float src = sy * i;
        int y0 = Math.Min((int)src, a.H - 1), y1 = Math.Min(y0 + 1, a.H - 1);
        float ly = src - y0;
        float* top = a.X + ((nint)c * a.H + y0) * w, bottom = a.X + ((nint)c * a.H + y1) * w;
        float* row = stackalloc float[w + 1 + 16];
        BilinearRow(top, bottom, ly, w, row, a.Left, a.Weight, a.Y + ((nint)c * a.Ho + i) * wo, wo);
    }

    /// <summary>
    /// One output row: the vertical blend of two source rows into <paramref name="row"/> (w + 17 floats), then each
    /// output column from its two neighbours there (<paramref name="left"/>, <paramref name="weight"/>: per column).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void BilinearRow(float* top, float* bottom, float ly, int w, float* row, int* left, float* weight, float* y, int wo)
    {
        Blend(top, bottom, ly, row, w);
        row[w] = row[w - 1];
        int j = 0;
        // Upsampling: a vector of output columns reads fewer source columns than it has lanes, so both neighbours
        // come from one load each, permuted (not gathered; the same values either way). The loads may read up to
        // a vector past row[w]: the callers' row buffers have that slack.
        if (Avx512F.IsSupported && Simd.Use512)
        {
            for (; j + 16 <= wo && left[j + 15] - left[j] < 16; j += 16)
            {
                var at = Vector512.Load(left + j) - Vector512.Create(left[j]);
                float* from = row + left[j];
                var l = Avx512F.PermuteVar16x32(Vector512.Load(from), at);
                var r = Avx512F.PermuteVar16x32(Vector512.Load(from + 1), at);
                var f = Vector512.Load(weight + j);
                (l + f * (r - l)).Store(y + j);
            }
        }
        if (Avx2.IsSupported)
        {
            for (; j + 8 <= wo && left[j + 7] - left[j] < 8; j += 8)
            {
                var at = Vector256.Load(left + j) - Vector256.Create(left[j]);
                float* from = row + left[j];
                var l = Avx2.PermuteVar8x32(Vector256.Load(from), at);
                var r = Avx2.PermuteVar8x32(Vector256.Load(from + 1), at);
                var f = Vector256.Load(weight + j);
                (l + f * (r - l)).Store(y + j);
            }
            for (; j + 8 <= wo; j += 8)
            {
                var at = Vector256.Load(left + j);
                var l = Avx2.GatherVector256(row, at, 4);
                var r = Avx2.GatherVector256(row + 1, at, 4);
                var f = Vector256.Load(weight + j);
                (l + f * (r - l)).Store(y + j);
            }
        }
        for (; j < wo; j++)
        {
            float l = row[left[j]], r = row[left[j] + 1];
            y[j] = l + weight[j] * (r - l);
        }
    }

    // row = (1 - t) * a + t * b
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Blend(float* a, float* b, float t, float* row, int n)
    {
        int k = 0;
        var vt = Vector256.Create(t);
        var vs = Vector256.Create(1f - t);
        for (; k + 8 <= n; k += 8) (Vector256.Load(a + k) * vs + Vector256.Load(b + k) * vt).Store(row + k);
        for (; k < n; k++) row[k] = a[k] * (1f - t) + b[k] * t;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PoolItem(void* state, int item)
    {
        ref Args a = ref *(Args*)state;
        int i = item % a.Ho, c = item / a.Ho, w = a.W, wo = a.Wo;
        int r0 = i * a.H / a.Ho, r1 = ((i + 1) * a.H + a.Ho - 1) / a.Ho;
        float* row = stackalloc float[w + 32];
        PoolRow(a.X + (nint)c * a.H * w, w, r0, r1, row, a.Left, a.End, a.Y + ((nint)c * a.Ho + i) * wo, wo);
    }

    /// <summary>One output row of adaptive pooling: the sum of source rows [r0, r1) into <paramref name="row"/> (w + 32 floats: vectors read past w), then each column's window of it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PoolRow(float* plane, int w, int r0, int r1, float* row, int* first, int* end, float* y, int wo)
    {
        new Span<float>(row, w).Clear();
        for (int r = r0; r < r1; r++)
        {
            float* src = plane + (nint)r * w;
            int k = 0;
            for (; k + 8 <= w; k += 8) (Vector256.Load(row + k) + Vector256.Load(src + k)).Store(row + k);
            for (; k < w; k++) row[k] += src[k];
        }
        int rows = r1 - r0;
        int j = 0;
        if (Avx512F.IsSupported && Simd.Use512)
        {
            // Sixteen windows at a time while they lie within 32 columns (downsampling up to 2x): their k-th
            // columns picked from two loads by a two-source permute, lanes past a window's width adding +0.
            var vrows = Vector512.Create(rows);
            for (; j + 16 <= wo && end[j + 15] - first[j] <= 32; j += 16)
            {
                var from = Vector512.Load(first + j);
                var width = Vector512.Load(end + j) - from;
                var at = from - Vector512.Create(first[j]);
                float* p = row + first[j];
                Vector512<float> lo = Vector512.Load(p), hi = Vector512.Load(p + 16), sum = Vector512<float>.Zero;
                for (int k = 0; ; k++)
                {
                    var inside = Vector512.GreaterThan(width, Vector512.Create(k));
                    if (inside == Vector512<int>.Zero) break;
                    sum += Vector512.ConditionalSelect(inside.AsSingle(), Avx512F.PermuteVar16x32x2(lo, at + Vector512.Create(k), hi), Vector512<float>.Zero);
                }
                (sum / Avx512F.ConvertToVector512Single(vrows * width)).Store(y + j);
            }
        }
        if (Avx2.IsSupported)
        {
            // Eight windows at a time: their k-th columns gathered (lanes past a window's width add nothing: +0,
            // exactly as the scalar sum, which starts from +0), then one division each.
            var vrows = Vector256.Create(rows);
            for (; j + 8 <= wo; j += 8)
            {
                var from = Vector256.Load(first + j);
                var width = Vector256.Load(end + j) - from;
                var sum = Vector256<float>.Zero;
                for (int k = 0; ; k++)
                {
                    var inside = Vector256.GreaterThan(width, Vector256.Create(k));
                    if (inside.ExtractMostSignificantBits() == 0) break;
                    sum += Avx2.GatherMaskVector256(Vector256<float>.Zero, row, from + Vector256.Create(k), inside.AsSingle(), 4);
                }
                (sum / Avx.ConvertToVector256Single(vrows * width)).Store(y + j);
            }
        }
        for (; j < wo; j++)
        {
            int c0 = first[j], c1 = end[j];
            float sum = 0;
            for (int q = c0; q < c1; q++) sum += row[q];
            y[j] = sum / (rows * (c1 - c0));
        }
    }
}
