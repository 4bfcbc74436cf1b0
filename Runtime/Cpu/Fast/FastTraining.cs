using System.Numerics.Tensors;

namespace Espnet.Compiled.Cpu.Fast;

/// <summary>
/// The training pass's stride-1 convolutions — forward, input gradient and weight gradient — as vector operations
/// over rows (float32, as PyTorch trains): each tap of each (output, input) channel pair is one multiply-add or dot
/// product of a row of one map against a shifted row of the other, the shift the tap's offset; a 1x1 convolution
/// is one such operation over the whole plane. Strided convolutions go to the plain kernels. One sample at a time;
/// checked against the plain kernels (Tests/Kernels/FastTrainingTests.cs).
/// </summary>
public static class FastTraining
{
    public static void Conv2d(ReadOnlySpan<float> x, int cin, int h, int w, ReadOnlySpan<float> weight,
        Span<float> y, int cout, int ho, int wo, int kernel, int stride, int dilation, int groups)
    {
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
    public static void Conv2dInput(ReadOnlySpan<float> dy, int cout, int ho, int wo, ReadOnlySpan<float> weight,
        Span<float> dx, int cin, int h, int w, int kernel, int stride, int dilation, int groups)
    {
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
    public static void Conv2dWeight(ReadOnlySpan<float> x, int cin, int h, int w, ReadOnlySpan<float> dy, int cout, int ho, int wo,
        Span<float> dweight, int kernel, int stride, int dilation, int groups)
    {
        if (stride != 1 || ho != h || wo != w)
        {
            Gradients.Conv2dWeight(x, cin, h, w, dy, cout, ho, wo, dweight, kernel, stride, dilation, groups);
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
                            if (x1 > x0)
                                for (int r = y0; r < y1; r++)
                                    sum += TensorPrimitives.Dot(go.Slice(r * w + x0, x1 - x0), xc.Slice((r + sy) * w + x0 + sx, x1 - x0));
                        }
                        dweight[((o * cinG + c) * kernel + ky) * kernel + kx] = sum;
                    }
            }
        }
    }
}
