using Espnet.Compiled.Cpu;
using Espnet.Compiled.Cpu.Fast;
using Espnet.Compiled.Tests.Support;

namespace Espnet.Compiled.Tests.Kernels;

/// <summary>The fast resampling and pooling kernels against the plain ones: up, down, odd, 1-pixel and same-size maps.</summary>
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
        FastResampling.BilinearAlignCorners(x, 3, h, w, actual, ho, wo);
        Compare.AssertClose(actual, (ReadOnlySpan<float>)expected, $"bilinear {h}x{w} -> {ho}x{wo}", 1e-6);
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Adaptive_pooling_matches_the_plain_kernel(int h, int w, int ho, int wo)
    {
        var x = Input(3 * h * w, h * 1000 + w + 1);
        var expected = new float[3 * ho * wo];
        var actual = new float[expected.Length];
        Resampling.AdaptiveAvgPool(x, 3, h, w, expected, ho, wo);
        FastResampling.AdaptiveAvgPool(x, 3, h, w, actual, ho, wo);
        Compare.AssertClose(actual, (ReadOnlySpan<float>)expected, $"adaptive pool {h}x{w} -> {ho}x{wo}", 1e-6);
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
