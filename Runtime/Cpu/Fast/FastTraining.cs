using System.Numerics.Tensors;

namespace Espnet.Compiled.Cpu.Fast;

/// <summary>
/// The training pass's stride-1 convolutions — forward, input gradient and weight gradient — as vector operations
/// over rows (float32, as PyTorch trains): each tap of each (output, input) channel pair is one multiply-add or dot
/// product of a row of one map against a shifted row of the other, the shift the tap's offset; a 1x1 convolution
/// is one such operation over the whole plane. Stride 2 reads the input's rows split into even and odd columns,
/// which makes its rows contiguous again; other strides go to the plain kernels. One sample at a time;
/// checked against the plain kernels (Tests/Kernels/FastTrainingTests.cs).
/// </summary>
public static unsafe partial class FastTraining
{
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void Conv2d(ReadOnlySpan<float> x, int cin, int h, int w, ReadOnlySpan<float> weight,
        Span<float> y, int cout, int ho, int wo, int kernel, int stride, int dilation, int groups, Span<float> scratch = default)
    {
        if (stride == 2 && Strided(h, w, ho, wo, kernel, dilation))
        {
            Stride2(x, default, cin, h, w, weight, default, y, default, cout, ho, wo, kernel, dilation, groups, Pass.Forward, scratch);
            return;
        }
        if (stride != 1 || ho != h || wo != w)
        {
            Conv.Conv2d(x, cin, h, w, weight, y, cout, ho, wo, kernel, stride, dilation, groups);
            return;
        }
        y.Slice(0, cout * h * w).Clear();
        int cinG = cin / groups, coutG = cout / groups, plane = h * w, pad = (kernel - 1) / 2 * dilation;
        for (int o = 0; o < cout; o++)
        {
            var yo = y.Slice(o * plane, plane);
            int first = o / coutG * cinG;
            for (int c = 0; c < cinG; c++)
            {
                var xc = x.Slice((first + c) * plane, plane);
                for (int ky = 0; ky < kernel; ky++)
                    for (int kx = 0; kx < kernel; kx++)
                    {
                        float wv = weight[((o * cinG + c) * kernel + ky) * kernel + kx];
                        if (wv == 0) continue;
                        int dy = ky * dilation - pad, dx = kx * dilation - pad;
                        if (dy == 0 && dx == 0)
                        {
                            TensorPrimitives.MultiplyAdd(xc, wv, yo, yo);
                            continue;
                        }
                        int x0 = Math.Max(0, -dx), x1 = Math.Min(w, w - dx), y0 = Math.Max(0, -dy), y1 = Math.Min(h, h - dy);
                        if (x1 <= x0) continue;
                        for (int r = y0; r < y1; r++)
                        {
                            var target = yo.Slice(r * w + x0, x1 - x0);
                            TensorPrimitives.MultiplyAdd(xc.Slice((r + dy) * w + x0 + dx, x1 - x0), wv, target, target);
                        }
                    }
            }
        }
    }

    /// <summary>dx (overwritten) from dy and the weights: each tap scatters dy's rows, shifted, into dx.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void Conv2dInput(ReadOnlySpan<float> dy, int cout, int ho, int wo, ReadOnlySpan<float> weight,
        Span<float> dx, int cin, int h, int w, int kernel, int stride, int dilation, int groups, Span<float> scratch = default)
    {
        if (stride == 2 && Strided(h, w, ho, wo, kernel, dilation))
        {
            Stride2(default, dx, cin, h, w, weight, default, default, dy, cout, ho, wo, kernel, dilation, groups, Pass.Input, scratch);
            return;
        }
        if (stride != 1 || ho != h || wo != w)
        {
            Gradients.Conv2dInput(dy, cout, ho, wo, weight, dx, cin, h, w, kernel, stride, dilation, groups);
            return;
        }
        dx.Slice(0, cin * h * w).Clear();
        int cinG = cin / groups, coutG = cout / groups, plane = h * w, pad = (kernel - 1) / 2 * dilation;
        for (int o = 0; o < cout; o++)
        {
            var go = dy.Slice(o * plane, plane);
            int first = o / coutG * cinG;
            for (int c = 0; c < cinG; c++)
            {
                var dc = dx.Slice((first + c) * plane, plane);
                for (int ky = 0; ky < kernel; ky++)
                    for (int kx = 0; kx < kernel; kx++)
                    {
                        float wv = weight[((o * cinG + c) * kernel + ky) * kernel + kx];
                        if (wv == 0) continue;
                        int sy = ky * dilation - pad, sx = kx * dilation - pad;
                        if (sy == 0 && sx == 0)
                        {
                            TensorPrimitives.MultiplyAdd(go, wv, dc, dc);
                            continue;
                        }
                        // Output (r, x) read input (r + sy, x + sx): scatter dy's row back there.
                        int x0 = Math.Max(0, -sx), x1 = Math.Min(w, w - sx), y0 = Math.Max(0, -sy), y1 = Math.Min(h, h - sy);
                        if (x1 <= x0) continue;
                        for (int r = y0; r < y1; r++)
                        {
                            var target = dc.Slice((r + sy) * w + x0 + sx, x1 - x0);
                            TensorPrimitives.MultiplyAdd(go.Slice(r * w + x0, x1 - x0), wv, target, target);
                        }
                    }
            }
        }
    }

    /// <summary>dweight (overwritten): each tap is a dot product of dy's rows with x's rows shifted by the tap's offset.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void Conv2dWeight(ReadOnlySpan<float> x, int cin, int h, int w, ReadOnlySpan<float> dy, int cout, int ho, int wo,
        Span<float> dweight, int kernel, int stride, int dilation, int groups, Span<float> scratch = default)
    {
        if (kernel == 3 && groups == cin && cout == cin && ho * wo < BlockedWeightPlane
            && (stride == 1 && ho == h && wo == w || stride == 2 && Strided(h, w, ho, wo, kernel, dilation)))
        {
            WeightDepthwiseNarrow(x, cin, h, w, dy, ho, wo, stride, dilation, dweight);
            return;
        }
        if (stride == 2 && Strided(h, w, ho, wo, kernel, dilation))
        {
            if (kernel == 3 && ho * wo >= BlockedWeightPlane)
            {
                Weight3x3Blocked(x, cin, h, w, dy, cout, ho, wo, 2, dweight, dilation, groups);
                return;
            }
            Stride2(x, default, cin, h, w, default, dweight, default, dy, cout, ho, wo, kernel, dilation, groups, Pass.Weight, scratch);
            return;
        }
        if (stride != 1 || ho != h || wo != w)
        {
            Gradients.Conv2dWeight(x, cin, h, w, dy, cout, ho, wo, dweight, kernel, stride, dilation, groups);
            return;
        }
        if (kernel == 1)
        {
            if (h * w >= NarrowPointwisePlane) WeightPointwiseBlocked(x, cin, h * w, dy, cout, dweight, groups);
            else WeightPointwiseNarrow(x, cin, h * w, dy, cout, dweight, groups);
            return;
        }
        if (kernel == 3 && h * w >= BlockedWeightPlane)
        {
            Weight3x3Blocked(x, cin, h, w, dy, cout, h, w, 1, dweight, dilation, groups);
            return;
        }
        int cinG = cin / groups, coutG = cout / groups, plane = h * w, pad = (kernel - 1) / 2 * dilation;
        for (int o = 0; o < cout; o++)
        {
            var go = dy.Slice(o * plane, plane);
            int first = o / coutG * cinG;
            for (int c = 0; c < cinG; c++)
            {
                var xc = x.Slice((first + c) * plane, plane);
                for (int ky = 0; ky < kernel; ky++)
                    for (int kx = 0; kx < kernel; kx++)
                    {
                        int sy = ky * dilation - pad, sx = kx * dilation - pad;
                        float sum = 0;
                        if (sy == 0 && sx == 0) sum = TensorPrimitives.Dot(go, xc);
                        else
                        {
                            int x0 = Math.Max(0, -sx), x1 = Math.Min(w, w - sx), y0 = Math.Max(0, -sy), y1 = Math.Min(h, h - sy);
                            if (x1 > x0 && y1 > y0)
                            {
                                // One dot product over the window's rows laid end to end (short rows make per-row calls
                                // slow), less the |sx| pairs per row boundary that wrap into the next row.
                                int start = y0 * w + x0, length = (y1 - 1) * w + x1 - start, shift = sy * w + sx;
                                sum = TensorPrimitives.Dot(go.Slice(start, length), xc.Slice(start + shift, length));
                                for (int r = y0; r < y1 - 1; r++)
                                    for (int f = r * w + x1; f < (r + 1) * w + x0; f++) sum -= go[f] * xc[f + shift];
                            }
                        }
                        dweight[((o * cinG + c) * kernel + ky) * kernel + kx] = sum;
                    }
            }
        }
    }

    private enum Pass { Forward, Input, Weight }

    /// <summary>PyTorch's output size for stride 2 with padding (k - 1) / 2 x dilation: (n - 1) / 2 + 1.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static bool Strided(int h, int w, int ho, int wo, int kernel, int dilation) =>
        ho == (h - 1) / 2 + 1 && wo == (w - 1) / 2 + 1 && kernel % 2 == 1;

    /// <summary>
    /// Stride 2 on the input's rows split into even and odd columns (the layout the inference path pads into):
    /// output column ox of tap offset s reads input column 2 ox + s, which is entry ox + s / 2 of the even half when
    /// s is even and ox + (s - 1) / 2 of the odd half otherwise: contiguous again. The input gradient is gathered in
    /// the same layout and interleaved back at the end.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static void Stride2(ReadOnlySpan<float> x, Span<float> dx, int cin, int h, int w, ReadOnlySpan<float> weights, Span<float> dweights,
        Span<float> y, ReadOnlySpan<float> dy, int cout, int ho, int wo, int kernel, int dilation, int groups, Pass pass, Span<float> scratch)
    {
        int cinG = cin / groups, coutG = cout / groups, pad = (kernel - 1) / 2 * dilation, even = (w + 1) / 2, odd = w / 2, plane = h * w;
        // Per channel and row: the even columns, then the odd ones. The caller's scratch when given (no allocation).
        float[]? rented = scratch.Length >= cin * plane ? null : System.Buffers.ArrayPool<float>.Shared.Rent(cin * plane);
        var split = rented is null ? scratch.Slice(0, cin * plane) : rented.AsSpan(0, cin * plane);
        if (pass == Pass.Input) Stride2InputBlocked(dy, cout, ho, wo, weights, split, cin, h, w, kernel, dilation, groups);
        else
            for (int r = 0; r < cin * h; r++)
            {
                var row = x.Slice(r * w, w);
                var to = split.Slice(r * w, w);
                for (int j = 0; j < even; j++) to[j] = row[2 * j];
                for (int j = 0; j < odd; j++) to[even + j] = row[2 * j + 1];
            }
        if (pass == Pass.Forward) y.Slice(0, cout * ho * wo).Clear();
        for (int o = 0; o < (pass == Pass.Input ? 0 : cout); o++)
        {
            int first = o / coutG * cinG;
            for (int c = 0; c < cinG; c++)
            {
                var xc = split.Slice((first + c) * plane, plane);
                for (int ky = 0; ky < kernel; ky++)
                    for (int kx = 0; kx < kernel; kx++)
                    {
                        int wi = ((o * cinG + c) * kernel + ky) * kernel + kx;
                        int t = ky * dilation - pad, sx = kx * dilation - pad;
                        int half = sx >= 0 ? sx / 2 : -((-sx + 1) / 2);                // floor(sx / 2)
                        int start = (sx & 1) == 0 ? 0 : even, length = (sx & 1) == 0 ? even : odd;
                        int x0 = Math.Max(0, -half), x1 = Math.Min(wo, length - half);
                        float sum = 0, wv = pass == Pass.Weight ? 0 : weights[wi];
                        if (x1 > x0 && !(pass != Pass.Weight && wv == 0))
                            for (int oy = 0; oy < ho; oy++)
                            {
                                int iy = 2 * oy + t;
                                if ((uint)iy >= (uint)h) continue;
                                int at = iy * w + start + x0 + half, n = x1 - x0;
                                switch (pass)
                                {
                                    case Pass.Forward:
                                    {
                                        var target = y.Slice((o * ho + oy) * wo + x0, n);
                                        TensorPrimitives.MultiplyAdd(xc.Slice(at, n), wv, target, target);
                                        break;
                                    }
                                    case Pass.Input:
                                    {
                                        var target = xc.Slice(at, n);
                                        TensorPrimitives.MultiplyAdd(dy.Slice((o * ho + oy) * wo + x0, n), wv, target, target);
                                        break;
                                    }
                                    default:
                                        sum += TensorPrimitives.Dot(dy.Slice((o * ho + oy) * wo + x0, n), xc.Slice(at, n));
                                        break;
                                }
                            }
                        if (pass == Pass.Weight) dweights[wi] = sum;
                    }
            }
        }
        if (pass == Pass.Input)
            for (int r = 0; r < cin * h; r++)
            {
                var from = split.Slice(r * w, w);
                var row = dx.Slice(r * w, w);
                for (int j = 0; j < even; j++) row[2 * j] = from[j];
                for (int j = 0; j < odd; j++) row[2 * j + 1] = from[even + j];
            }
        if (rented is not null) System.Buffers.ArrayPool<float>.Shared.Return(rented);
    }
}
