using System.Runtime.CompilerServices;
using System.Numerics;
using System.Numerics.Tensors;

namespace Espnet.Compiled.Cpu;

/// <summary>
/// Plain, shape-generic CPU kernels over one sample in CHW layout; the generator calls them with constant
/// shapes. They accumulate in double: the authors' networks cancel large terms (BN with tiny variances
/// amplifies the rounding of a float sum), and this path is the reference faster schedules are checked against.
/// </summary>
public static class Conv
{
    private const int MaxStackRow = 4096;

    /// <summary>
    /// 2-D convolution, PyTorch semantics: padding ((k-1)/2)*dilation, grouped over contiguous channel blocks,
    /// weights [cout, cin/groups, k, k]. Overwrites y, or adds to it when <paramref name="accumulate"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Conv2d(ReadOnlySpan<float> x, int cin, int h, int w, ReadOnlySpan<float> weight,
        Span<float> y, int cout, int ho, int wo, int kernel, int stride, int dilation, int groups, bool accumulate = false)
    {
        int pad = (kernel - 1) / 2 * dilation;
        int cinG = cin / groups, coutG = cout / groups, plane = ho * wo;
        // Each output row is accumulated in double, in column chunks that fit on the stack.
        int chunk = Math.Min(wo, MaxStackRow);
        Span<double> acc = stackalloc double[chunk];
        for (int oc = 0; oc < cout; oc++)
        {
            int g = oc / coutG;
            ReadOnlySpan<float> wOc = weight.Slice(oc * cinG * kernel * kernel, cinG * kernel * kernel);
            for (int oy = 0; oy < ho; oy++)
                for (int cx = 0; cx < wo; cx += chunk)
                {
                    int cw = Math.Min(chunk, wo - cx);
                    Span<float> yRow = y.Slice(oc * plane + oy * wo + cx, cw);
                    Span<double> a = acc.Slice(0, cw);
                    if (accumulate) for (int i = 0; i < cw; i++) a[i] = yRow[i];
                    else a.Clear();
                    for (int icg = 0; icg < cinG; icg++)
                    {
                        ReadOnlySpan<float> xc = x.Slice((g * cinG + icg) * h * w, h * w);
                        for (int ky = 0; ky < kernel; ky++)
                        {
                            int iy = oy * stride + ky * dilation - pad;
                            if ((uint)iy >= (uint)h) continue;
                            ReadOnlySpan<float> xRow = xc.Slice(iy * w, w);
                            for (int kx = 0; kx < kernel; kx++)
                            {
                                int dx = kx * dilation - pad;
                                int ox0 = Math.Max(FirstInside(dx, stride), cx);
                                int ox1 = Math.Min(Math.Min(wo - 1, LastInside(dx, stride, w)), cx + cw - 1);
                                if (ox1 < ox0) continue;
                                double wv = wOc[(icg * kernel + ky) * kernel + kx];
                                if (stride == 1) AxpyWiden(xRow.Slice(ox0 + dx, ox1 - ox0 + 1), wv, a.Slice(ox0 - cx, ox1 - ox0 + 1));
                                else
                                    for (int ox = ox0, ix = ox0 * stride + dx; ox <= ox1; ox++, ix += stride) a[ox - cx] += wv * xRow[ix];
                            }
                        }
                    }
                    for (int i = 0; i < cw; i++) yRow[i] = (float)a[i];
                }
        }
    }

    /// <summary>
    /// Transposed convolution without padding, weights [cin, cout, k, k]:
    /// y[o, s*i+a, s*j+b] = sum over c (and every (i, a), (j, b) landing there) of x[c,i,j] * W[c,o,a,b].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ConvTranspose2d(ReadOnlySpan<float> x, int cin, int h, int w, ReadOnlySpan<float> weight,
        Span<float> y, int cout, int ho, int wo, int kernel, int stride)
    {
        for (int o = 0; o < cout; o++)
            for (int oy = 0; oy < ho; oy++)
                for (int ox = 0; ox < wo; ox++)
                {
                    double sum = 0;
                    for (int a = oy % stride; a < kernel; a += stride)
                    {
                        int i = (oy - a) / stride;
                        if (i < 0 || i >= h) continue;
                        for (int b = ox % stride; b < kernel; b += stride)
                        {
                            int j = (ox - b) / stride;
                            if (j < 0 || j >= w) continue;
                            for (int c = 0; c < cin; c++)
                                sum += (double)x[(c * h + i) * w + j] * weight[((c * cout + o) * kernel + a) * kernel + b];
                        }
                    }
                    y[(o * ho + oy) * wo + ox] = (float)sum;
                }
    }

    /// <summary>Adds a per-channel bias.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AddBias(Span<float> y, int channels, int plane, ReadOnlySpan<float> bias)
    {
        for (int c = 0; c < channels; c++) TensorPrimitives.Add(y.Slice(c * plane, plane), bias[c], y.Slice(c * plane, plane));
    }

    // acc[i] += a * x[i], widening float to double, SIMD where the row is long enough.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AxpyWiden(ReadOnlySpan<float> x, double a, Span<double> acc)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var av = new Vector<double>(a);
            int step = Vector<float>.Count, half = Vector<double>.Count;
            for (; i <= x.Length - step; i += step)
            {
                Vector.Widen(new Vector<float>(x.Slice(i)), out var lo, out var hi);
                (new Vector<double>(acc.Slice(i)) + lo * av).CopyTo(acc.Slice(i));
                (new Vector<double>(acc.Slice(i + half)) + hi * av).CopyTo(acc.Slice(i + half));
            }
        }
        for (; i < x.Length; i++) acc[i] += a * x[i];
    }

    // First output index whose input tap (o*stride + offset) is >= 0.
    private static int FirstInside(int offset, int stride) => offset >= 0 ? 0 : (-offset + stride - 1) / stride;

    // Last output index whose input tap is < size (negative when none is).
    private static int LastInside(int offset, int stride, int size)
    {
        int limit = size - 1 - offset;
        return limit < 0 ? -1 : limit / stride;
    }
}
