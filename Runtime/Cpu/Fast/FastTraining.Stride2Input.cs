using System.Runtime.CompilerServices;

namespace Espnet.Compiled.Cpu.Fast;

public static unsafe partial class FastTraining
{
    /// <summary>
    /// dx (overwritten) of a stride-2 convolution, register-blocked, gathered rather than scattered: input row iy
    /// receives dy row oy through the kernel rows ky with 2 oy + ky d - pad = iy, and, in the even/odd column layout
    /// <see cref="Stride2"/> uses, each tap of matching column parity is dy's row shifted by floor((kx d - pad) / 2).
    /// Four input channels x two vectors of one such half-row are eight accumulators summed over every output
    /// channel and tap (one load of dy per four multiply-adds; the row-at-a-time multiply-adds loaded and stored
    /// the target for each). dy's rows are copied once with zero columns around them, so no column needs a bound.
    /// <paramref name="split"/>: cin x h x w floats for the even/odd layout before it is interleaved into dx.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Stride2InputBlocked(ReadOnlySpan<float> dy, int cout, int ho, int wo, ReadOnlySpan<float> weights, Span<float> split,
        int cin, int h, int w, int kernel, int dilation, int groups)
    {
        if (Simd.Use512) Stride2InputBlocked<V512>(dy, cout, ho, wo, weights, split, cin, h, w, kernel, dilation, groups);
        else Stride2InputBlocked<V256>(dy, cout, ho, wo, weights, split, cin, h, w, kernel, dilation, groups);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Stride2InputBlocked<TV>(ReadOnlySpan<float> dy, int cout, int ho, int wo, ReadOnlySpan<float> weights, Span<float> split,
        int cin, int h, int w, int kernel, int dilation, int groups) where TV : struct, IVec<TV>
    {
        int cinG = cin / groups, coutG = cout / groups, pad = (kernel - 1) / 2 * dilation, even = (w + 1) / 2, plane = h * w, L = TV.Count;
        int kk = kernel * kernel, halo = (pad + 1) / 2, row = wo + 2 * halo + 2 * L;
        // dy's rows with halo zero columns before and enough after for a vector read past the last column.
        float* padded = ThreadBuffer.Get((long)cout * ho * row);
        fixed (float* pdy = dy, pw = weights, ps = split)
        {
            for (int r = 0; r < cout * ho; r++)
            {
                float* to = padded + (nint)r * row;
                new Span<float>(to, halo).Clear();
                new ReadOnlySpan<float>(pdy + (nint)r * wo, wo).CopyTo(new Span<float>(to + halo, wo));
                new Span<float>(to + halo + wo, row - halo - wo).Clear();
            }
            int* rows = stackalloc int[kernel * 2];     // (ky, oy) pairs feeding one input row
            int* taps = stackalloc int[kernel * 2];     // (kx, shift) pairs of one column parity
            for (int g = 0; g < groups; g++)
                for (int cb = 0; cb < cinG; cb += 4)
                {
                    int nc = Math.Min(4, cinG - cb), c0 = g * cinG + cb;
                    // Weight rows of the block's channels (a missing channel repeats the last: computed, never stored).
                    nint w1 = Math.Min(1, nc - 1) * kk, w2 = Math.Min(2, nc - 1) * kk, w3 = Math.Min(3, nc - 1) * kk;
                    for (int iy = 0; iy < h; iy++)
                    {
                        int nr = 0;
                        for (int ky = 0; ky < kernel; ky++)
                        {
                            int t = iy + pad - ky * dilation;
                            if ((t & 1) == 0 && (uint)(t >> 1) < (uint)ho) { rows[2 * nr] = ky; rows[2 * nr + 1] = t >> 1; nr++; }
                        }
                        for (int parity = 0; parity < 2; parity++)
                        {
                            int length = parity == 0 ? even : w - even, nt = 0;
                            for (int kx = 0; kx < kernel; kx++)
                            {
                                int sx = kx * dilation - pad;
                                if ((sx & 1) != parity) continue;
                                taps[2 * nt] = kx;
                                taps[2 * nt + 1] = halo - (sx >> 1);   // floor(sx / 2), counted from the padded row's start
                                nt++;
                            }
                            float* target = ps + (nint)c0 * plane + (nint)iy * w + (parity == 0 ? 0 : even);
                            for (int j = 0; j < length; j += 2 * L)
                            {
                                TV a0 = default, a1 = default, a2 = default, a3 = default, b0 = default, b1 = default, b2 = default, b3 = default;
                                for (int o = g * coutG; o < (g + 1) * coutG; o++)
                                    for (int q = 0; q < nr; q++)
                                    {
                                        int ky = rows[2 * q];
                                        float* drow = padded + ((nint)o * ho + rows[2 * q + 1]) * row + j;
                                        float* wrow = pw + ((nint)o * cinG + cb) * kk + ky * kernel;
                                        for (int s = 0; s < nt; s++)
                                        {
                                            float* src = drow + taps[2 * s + 1];
                                            var v0 = TV.Load(src);
                                            var v1 = TV.Load(src + L);
                                            float* wt = wrow + taps[2 * s];
                                            var u = TV.Splat(wt[0]); a0 = TV.FusedMultiplyAdd(v0, u, a0); b0 = TV.FusedMultiplyAdd(v1, u, b0);
                                            u = TV.Splat(wt[w1]); a1 = TV.FusedMultiplyAdd(v0, u, a1); b1 = TV.FusedMultiplyAdd(v1, u, b1);
                                            u = TV.Splat(wt[w2]); a2 = TV.FusedMultiplyAdd(v0, u, a2); b2 = TV.FusedMultiplyAdd(v1, u, b2);
                                            u = TV.Splat(wt[w3]); a3 = TV.FusedMultiplyAdd(v0, u, a3); b3 = TV.FusedMultiplyAdd(v1, u, b3);
                                        }
                                    }
                                int n0 = Math.Min(L, length - j), n1 = Math.Min(L, length - j - L);
                                float* at = target + j;
                                Put(a0, b0, at, n0, n1);
                                if (nc > 1) Put(a1, b1, at + plane, n0, n1);
                                if (nc > 2) Put(a2, b2, at + 2 * plane, n0, n1);
                                if (nc > 3) Put(a3, b3, at + 3 * plane, n0, n1);
                            }
                        }
                    }
                }
        }
    }

    /// <summary>Two vectors to p: the first n0 lanes of the first, then the first n1 (if any) of the second.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put<TV>(TV first, TV second, float* p, int n0, int n1) where TV : struct, IVec<TV>
    {
        if (n0 == TV.Count) first.Store(p);
        else first.StoreFirst(p, n0);
        if (n1 <= 0) return;
        if (n1 == TV.Count) second.Store(p + TV.Count);
        else second.StoreFirst(p + TV.Count, n1);
    }
}
