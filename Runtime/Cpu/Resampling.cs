using System.Runtime.CompilerServices;

namespace Espnet.Compiled.Cpu;

/// <summary>Resizing, adaptive pooling, channel shuffle and channel gating over one CHW sample (ESPNetv2 heads).</summary>
public static class Resampling
{
    /// <summary>
    /// Bilinear resize with aligned corners, PyTorch's CPU semantics: per axis src = dst * ((in-1)/(out-1)) with the
    /// ratio and source position in float32 (0 when out = 1), i0 = floor(src), i1 = min(i0+1, in-1), λ = src - i0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BilinearAlignCorners(ReadOnlySpan<float> x, int channels, int h, int w, Span<float> y, int ho, int wo)
    {
        float sx = wo > 1 ? (float)(w - 1) / (wo - 1) : 0f;
        float sy = ho > 1 ? (float)(h - 1) / (ho - 1) : 0f;
        for (int c = 0; c < channels; c++)
        {
            ReadOnlySpan<float> xc = x.Slice(c * h * w, h * w);
            Span<float> yc = y.Slice(c * ho * wo, ho * wo);
            for (int i = 0; i < ho; i++)
            {
                float src = sy * i;
                int y0 = Math.Min((int)src, h - 1), y1 = Math.Min(y0 + 1, h - 1);
                float ly = src - y0;
                for (int j = 0; j < wo; j++)
                {
                    float srcX = sx * j;
                    int a = Math.Min((int)srcX, w - 1), b = Math.Min(a + 1, w - 1);
                    double fx = srcX - a;
                    double top = (1 - fx) * xc[y0 * w + a] + fx * xc[y0 * w + b];
                    double bottom = (1 - fx) * xc[y1 * w + a] + fx * xc[y1 * w + b];
                    yc[i * wo + j] = (float)((1 - ly) * top + ly * bottom);
                }
            }
        }
    }

    /// <summary>
    /// Adaptive average pooling: output cell i averages input indices floor(i*in/out) .. ceil((i+1)*in/out) - 1,
    /// per axis. Also valid when out > in (overlapping windows: an upsampler), which EfficientPyrPool relies on.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AdaptiveAvgPool(ReadOnlySpan<float> x, int channels, int h, int w, Span<float> y, int ho, int wo)
    {
        for (int c = 0; c < channels; c++)
        {
            ReadOnlySpan<float> xc = x.Slice(c * h * w, h * w);
            Span<float> yc = y.Slice(c * ho * wo, ho * wo);
            for (int i = 0; i < ho; i++)
            {
                int r0 = i * h / ho, r1 = ((i + 1) * h + ho - 1) / ho;
                for (int j = 0; j < wo; j++)
                {
                    int c0 = j * w / wo, c1 = ((j + 1) * w + wo - 1) / wo;
                    double sum = 0;
                    for (int r = r0; r < r1; r++)
                        for (int q = c0; q < c1; q++) sum += xc[r * w + q];
                    yc[i * wo + j] = (float)(sum / ((r1 - r0) * (c1 - c0)));
                }
            }
        }
    }

    /// <summary>Channel shuffle with g groups: new channel j*g + k is old channel k*(C/g) + j.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ChannelShuffle(ReadOnlySpan<float> x, int channels, int plane, int groups, Span<float> y)
    {
        int perGroup = channels / groups;
        for (int k = 0; k < groups; k++)
            for (int j = 0; j < perGroup; j++)
                x.Slice((k * perGroup + j) * plane, plane).CopyTo(y.Slice((j * groups + k) * plane, plane));
    }

    /// <summary>y[c, :] *= sigmoid(gate[c]): the per-channel gate of EfficientPWConv, broadcast over the plane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void SigmoidGate(Span<float> y, int channels, int plane, ReadOnlySpan<float> gate)
    {
        for (int c = 0; c < channels; c++)
        {
            float s = 1f / (1f + MathF.Exp(-gate[c]));
            Span<float> yc = y.Slice(c * plane, plane);
            for (int i = 0; i < yc.Length; i++) yc[i] *= s;
        }
    }
}
