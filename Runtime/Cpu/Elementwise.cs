using System.Runtime.CompilerServices;
using System.Numerics.Tensors;

namespace Espnet.Compiled.Cpu;

/// <summary>BatchNorm (inference), PReLU, pooling and tensor arithmetic over one CHW sample.</summary>
public static class Elementwise
{
    /// <summary>
    /// Inference BatchNorm in place: y = (x - mean) * gamma / sqrt(var + eps) + beta, evaluated in double and
    /// rounded once. The authors' BNs have variances down to 1e-5 (gains near 100) right after sums that
    /// cancel, so a float32 multiply-then-add would round away digits the tolerance needs.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BatchNorm(Span<float> y, int channels, int plane, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> variance, float eps)
    {
        for (int c = 0; c < channels; c++)
        {
            double scale = gamma[c] / Math.Sqrt((double)variance[c] + eps), m = mean[c], b = beta[c];
            Span<float> yc = y.Slice(c * plane, plane);
            for (int i = 0; i < yc.Length; i++) yc[i] = (float)((yc[i] - m) * scale + b);
        }
    }

    /// <summary>PReLU in place with one slope per channel: max(0, x) + a * min(0, x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PRelu(Span<float> y, int channels, int plane, ReadOnlySpan<float> slope)
    {
        for (int c = 0; c < channels; c++)
        {
            float a = slope[c];
            Span<float> yc = y.Slice(c * plane, plane);
            for (int i = 0; i < yc.Length; i++)
            {
                float v = yc[i];
                if (v < 0) yc[i] = v * a;
            }
        }
    }

    /// <summary>3x3, stride 2, pad 1 average pooling with the padding counted (divisor always 9).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AvgPool3x3S2(ReadOnlySpan<float> x, int channels, int h, int w, Span<float> y, int ho, int wo)
    {
        for (int c = 0; c < channels; c++)
        {
            ReadOnlySpan<float> xc = x.Slice(c * h * w, h * w);
            Span<float> yc = y.Slice(c * ho * wo, ho * wo);
            for (int oy = 0; oy < ho; oy++)
                for (int ox = 0; ox < wo; ox++)
                {
                    float sum = 0;
                    for (int ky = -1; ky <= 1; ky++)
                    {
                        int iy = 2 * oy + ky;
                        if ((uint)iy >= (uint)h) continue;
                        for (int kx = -1; kx <= 1; kx++)
                        {
                            int ix = 2 * ox + kx;
                            if ((uint)ix < (uint)w) sum += xc[iy * w + ix];
                        }
                    }
                    yc[oy * wo + ox] = sum / 9f;
                }
        }
    }

    /// <summary>Global average pooling: y[c] = mean of channel c's plane (summed in double).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void GlobalAvgPool(ReadOnlySpan<float> x, int channels, int plane, Span<float> y)
    {
        for (int c = 0; c < channels; c++)
        {
            double sum = 0;
            foreach (float v in x.Slice(c * plane, plane)) sum += v;
            y[c] = (float)(sum / plane);
        }
    }

    /// <summary>y = a + b (y may be a or b).</summary>
    public static void Add(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y) => TensorPrimitives.Add(a, b, y);

    public static void Copy(ReadOnlySpan<float> x, Span<float> y) => x.CopyTo(y);
}
