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
        float sx = wo > 1 ? (float)(w - 1) / (wo - 1) : 0f;
        for (int j = 0; j < wo; j++)
        {
            float src = sx * j;
            left[j] = Math.Min((int)src, w - 1);
            weight[j] = src - left[j];
        }
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
        for (int j = 0; j < wo; j++)
        {
            first[j] = j * w / wo;
            end[j] = ((j + 1) * w + wo - 1) / wo;
        }
        fixed (float* px = x, py = y)
        {
            var a = new Args { X = px, Y = py, H = h, W = w, Ho = ho, Wo = wo, Left = first, End = end };
            Workers.For(&a, &PoolItem, channels * ho, (long)channels * h * w);
        }
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
        // Vertical blend of the two source rows, then each output column from its two neighbours (gathered).
        float* row = stackalloc float[w + 1];
        Blend(top, bottom, ly, row, w);
        row[w] = row[w - 1];
        float* y = a.Y + ((nint)c * a.Ho + i) * wo;
        int j = 0;
        if (Avx2.IsSupported)
        {
            for (; j + 8 <= wo; j += 8)
            {
                var at = Vector256.Load(a.Left + j);
                var l = Avx2.GatherVector256(row, at, 4);
                var r = Avx2.GatherVector256(row + 1, at, 4);
                var f = Vector256.Load(a.Weight + j);
                (l + f * (r - l)).Store(y + j);
            }
        }
        for (; j < wo; j++)
        {
            float l = row[a.Left[j]], r = row[a.Left[j] + 1];
            y[j] = l + a.Weight[j] * (r - l);
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
        float* plane = a.X + (nint)c * a.H * w;
        // Sum of the window's rows, then each output column's window of that sum.
        float* row = stackalloc float[w];
        new Span<float>(row, w).Clear();
        for (int r = r0; r < r1; r++)
        {
            float* src = plane + (nint)r * w;
            int k = 0;
            for (; k + 8 <= w; k += 8) (Vector256.Load(row + k) + Vector256.Load(src + k)).Store(row + k);
            for (; k < w; k++) row[k] += src[k];
        }
        float* y = a.Y + ((nint)c * a.Ho + i) * wo;
        int rows = r1 - r0;
        for (int j = 0; j < wo; j++)
        {
            int c0 = a.Left[j], c1 = a.End[j];
            float sum = 0;
            for (int q = c0; q < c1; q++) sum += row[q];
            y[j] = sum / (rows * (c1 - c0));
        }
    }
}
