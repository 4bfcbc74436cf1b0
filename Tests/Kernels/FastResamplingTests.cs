using Espnet.Compiled.Cpu;
using Espnet.Compiled.Cpu.Fast;
using Espnet.Compiled.Tests.Support;

namespace Espnet.Compiled.Tests.Kernels;

/// <summary>The fast resampling and pooling kernels against the plain ones: up, down, odd, 1-pixel and same-size maps.</summary>
[Collection(nameof(KernelSettings))]
public sealed class FastResamplingTests
{
    public static TheoryData<int, int, int, int> Sizes => new()
    {
        { 8, 16, 16, 32 }, { 16, 32, 8, 16 }, { 13, 21, 27, 43 }, { 27, 43, 13, 21 }, { 5, 7, 1, 1 }, { 1, 1, 5, 7 },
        { 9, 9, 9, 9 }, { 64, 128, 128, 256 }, { 128, 256, 64, 128 }, { 64, 128, 7, 13 }, { 7, 13, 96, 192 },
    };

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Bilinear_matches_the_plain_kernel(int h, int w, int ho, int wo)
    {
        var x = Input(3 * h * w, h * 1000 + w);
        var expected = new float[3 * ho * wo];
        var actual = new float[expected.Length];
        Resampling.BilinearAlignCorners(x, 3, h, w, expected, ho, wo);
        using (KernelSettings.Width(false)) FastResampling.BilinearAlignCorners(x, 3, h, w, actual, ho, wo);
        Compare.AssertClose(actual, (ReadOnlySpan<float>)expected, $"bilinear {h}x{w} -> {ho}x{wo}", 1e-6);
        // Every vector path (permuted, gathered, 256 or 512 bits) computes each float as the scalar formula does.
        var wide = new float[expected.Length];
        using (KernelSettings.Width(true)) FastResampling.BilinearAlignCorners(x, 3, h, w, wide, ho, wo);
        Assert.Equal(ScalarBilinear(x, 3, h, w, ho, wo), actual);
        Assert.Equal(actual, wide);
    }

    /// <summary>The fast kernel's float formula, one element at a time: rows blended, then columns.</summary>
    private static float[] ScalarBilinear(float[] x, int c, int h, int w, int ho, int wo)
    {
        var y = new float[c * ho * wo];
        float sy = ho > 1 ? (float)(h - 1) / (ho - 1) : 0f, sx = wo > 1 ? (float)(w - 1) / (wo - 1) : 0f;
        var row = new float[w + 1];
        for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < ho; i++)
            {
                float src = sy * i;
                int y0 = Math.Min((int)src, h - 1), y1 = Math.Min(y0 + 1, h - 1);
                float t = src - y0;
                for (int k = 0; k < w; k++) row[k] = x[(ch * h + y0) * w + k] * (1f - t) + x[(ch * h + y1) * w + k] * t;
                row[w] = row[w - 1];
                for (int j = 0; j < wo; j++)
                {
                    float s = sx * j;
                    int l = Math.Min((int)s, w - 1);
                    float f = s - l;
                    y[(ch * ho + i) * wo + j] = row[l] + f * (row[l + 1] - row[l]);
                }
            }
        return y;
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Adaptive_pooling_matches_the_plain_kernel(int h, int w, int ho, int wo)
    {
        var x = Input(3 * h * w, h * 1000 + w + 1);
        var expected = new float[3 * ho * wo];
        var actual = new float[expected.Length];
        Resampling.AdaptiveAvgPool(x, 3, h, w, expected, ho, wo);
        using (KernelSettings.Width(false)) FastResampling.AdaptiveAvgPool(x, 3, h, w, actual, ho, wo);
        Compare.AssertClose(actual, (ReadOnlySpan<float>)expected, $"adaptive pool {h}x{w} -> {ho}x{wo}", 1e-6);
        var wide = new float[expected.Length];
        using (KernelSettings.Width(true)) FastResampling.AdaptiveAvgPool(x, 3, h, w, wide, ho, wo);
        Assert.Equal(ScalarPool(x, 3, h, w, ho, wo), actual);
        Assert.Equal(actual, wide);
    }

    /// <summary>The fast kernel's float formula: rows of the window summed in order, then columns, from +0; one division.</summary>
    private static float[] ScalarPool(float[] x, int c, int h, int w, int ho, int wo)
    {
        var y = new float[c * ho * wo];
        var row = new float[w];
        for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < ho; i++)
            {
                int r0 = i * h / ho, r1 = ((i + 1) * h + ho - 1) / ho;
                Array.Clear(row);
                for (int r = r0; r < r1; r++)
                    for (int k = 0; k < w; k++) row[k] += x[(ch * h + r) * w + k];
                for (int j = 0; j < wo; j++)
                {
                    int c0 = j * w / wo, c1 = ((j + 1) * w + wo - 1) / wo;
                    float sum = 0;
                    for (int q = c0; q < c1; q++) sum += row[q];
                    y[(ch * ho + i) * wo + j] = sum / ((r1 - r0) * (c1 - c0));
                }
            }
        return y;
    }

    /// <summary>
    /// EfficientPyrPool's fused branch (resize up, depth-wise 3x3, pool back) equals the three fast kernels run one
    /// after another to the bit, at either vector width and any thread count, and the plain kernels to float rounding.
    /// </summary>
    [Theory]
    [InlineData(12, 20, 24, 40)]      // scale 2
    [InlineData(12, 20, 18, 30)]      // scale 1.5
    [InlineData(7, 9, 11, 14)]        // odd sizes, windows of one and two
    [InlineData(1, 5, 2, 10)]         // one row
    [InlineData(6, 6, 6, 6)]          // scale 1: resize and pool are copies
    [InlineData(64, 128, 128, 256)]   // several bands per channel
    [InlineData(40, 60, 60, 90)]
    public void Upsampled_depthwise_pool_matches_the_kernels_in_sequence(int h, int w, int hs, int ws)
    {
        const int c = 5;
        int seed = HashCode.Combine(h, w, hs, ws) & 0x7fffffff;
        var x = Input(c * h * w, seed);
        var weight = Input(c * 9, seed + 1);
        var plain = new float[c * h * w];
        var upF = new float[c * hs * ws];
        Resampling.BilinearAlignCorners(x, c, h, w, upF, hs, ws);
        var convF = new float[c * hs * ws];
        Conv.Conv2d(upF, c, hs, ws, weight, convF, c, hs, ws, 3, 1, 1, c);
        Resampling.AdaptiveAvgPool(convF, c, hs, ws, plain, h, w);
        foreach (bool wide in new[] { false, true })
            using (KernelSettings.Width(wide))
                foreach (int threads in new[] { 1, 2 })
                    using (KernelSettings.Threads(threads))
                    {
                        string what = $"{h}x{w} via {hs}x{ws}, {(wide ? 512 : 256)}-bit, {threads} thread(s) (seed {seed})";
                        var resized = new float[c * hs * ws];
                        var convolved = new float[c * hs * ws];
                        var expected = new float[c * h * w];
                        FastResampling.BilinearAlignCorners(x, c, h, w, resized, hs, ws);
                        FastConv.Conv2d(resized, c, hs, ws, weight, convolved, c, hs, ws, 3, 1, 1, c, default, default,
                            new float[FastConv.ScratchFloats(c, hs, ws, 3, 1, 1, c)]);
                        FastResampling.AdaptiveAvgPool(convolved, c, hs, ws, expected, h, w);
                        var actual = new float[c * h * w + 8];
                        Array.Fill(actual, 12345f);
                        FastResampling.UpsampledDepthwisePool(x, c, h, w, weight, hs, ws, actual.AsSpan(0, c * h * w));
                        for (int i = c * h * w; i < actual.Length; i++) Assert.Equal(12345f, actual[i]);
                        Assert.True(expected.AsSpan().SequenceEqual(actual.AsSpan(0, c * h * w)), what + ": differs from the kernels in sequence");
                        Compare.AssertClose(actual.AsSpan(0, c * h * w), (ReadOnlySpan<float>)plain, what + " vs the plain kernels", 1e-5);
                    }
    }

    [Theory]
    [InlineData(16, 16)]
    [InlineData(13, 37)]
    [InlineData(1, 1)]
    [InlineData(2, 3)]
    [InlineData(64, 128)]
    [InlineData(7, 33)]
    public void Average_pooling_matches_the_plain_kernel(int h, int w)
    {
        var x = Input(5 * h * w, h * 100 + w);
        int ho = (h - 1) / 2 + 1, wo = (w - 1) / 2 + 1;
        var expected = new float[5 * ho * wo];
        var actual = new float[expected.Length];
        Elementwise.AvgPool3x3S2(x, 5, h, w, expected, ho, wo);
        FastElementwise.AvgPool3x3S2(x, 5, h, w, actual, ho, wo);
        Compare.AssertClose(actual, (ReadOnlySpan<float>)expected, $"avgpool {h}x{w}", 1e-6);
    }

    private static float[] Input(int n, int seed)
    {
        var rng = new Random(seed);
        var v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float)(4 * rng.NextDouble() - 2);
        return v;
    }
}
