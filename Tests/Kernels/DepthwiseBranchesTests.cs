using Espnet.Compiled.Cpu.Fast;

namespace Espnet.Compiled.Tests.Kernels;

/// <summary>
/// <see cref="FastConv.DepthwiseBranches"/> (an EESP block's padding, K depth-wise branches with HFF, and the
/// BatchNorm + PReLU after them, per channel and chunk of rows) against the separate fast kernels it replaces,
/// in the order the generated code ran them: the same bits, at both vector widths and for one and two threads.
/// The separate kernels are themselves checked against the plain ones in <see cref="FastConvTests"/>.
/// </summary>
[Collection(nameof(KernelSettings))]
public sealed class DepthwiseBranchesTests
{
    [Theory]
    [InlineData(16, 56, 56, 2, new[] { 1, 2, 3, 4 }, true, true)]     // ESPNetv2 s1.0 level3's strided EESP
    [InlineData(32, 28, 28, 1, new[] { 1, 2, 3, 4 }, true, true)]     // level3's EESP
    [InlineData(128, 7, 7, 1, new[] { 1, 1, 1, 2 }, true, true)]      // level5's: narrow rows, repeated dilations
    [InlineData(5, 9, 13, 2, new[] { 1, 2 }, true, true)]             // odd sizes, stride 2
    [InlineData(3, 13, 37, 1, new[] { 3, 1, 2 }, false, true)]        // no HFF, the largest dilation first
    [InlineData(4, 11, 21, 1, new[] { 1, 2, 3, 4 }, true, false)]     // no BatchNorm after
    [InlineData(6, 90, 333, 2, new[] { 1, 2, 3, 4 }, true, true)]     // several chunks of rows per channel
    [InlineData(2, 200, 120, 1, new[] { 2, 5 }, true, true)]          // few channels: chunks halved for more items
    public void Matches_the_separate_kernels(int c, int h, int w, int stride, int[] dilations, bool hff, bool norm)
    {
        int seed = HashCode.Combine(c, h, w, stride, dilations.Length, dilations[0], hff, norm) & 0x7fffffff;
        var rng = new Random(seed);
        int k = dilations.Length, ho = (h - 1) / stride + 1, wo = (w - 1) / stride + 1, plane = ho * wo;
        var x = Random(rng, c * h * w);
        // Branch weights 16-float aligned in their store, as the loaded parameters are (a gap after odd sizes).
        int weightStride = (c * 9 + 15) / 16 * 16;
        var weights = Random(rng, k * weightStride);
        var mean = Random(rng, k * c);
        var scale = Random(rng, k * c);
        var beta = Random(rng, k * c);
        var slope = Random(rng, k * c);
        foreach (bool wide in new[] { false, true })
            using (KernelSettings.Width(wide))
            {
                // The generated code before the fusion: one padded copy by the largest halo, the branches reading
                // it (branch k adding branch k-1), then the BatchNorm and PReLU over the concatenation.
                int halo = dilations.Max();
                var padded = new float[FastConv.PaddedFloats(c, h, w, halo)];
                FastConv.Pad(x, c, h, w, halo, stride, padded);
                var expected = new float[k * c * plane];
                for (int b = 0; b < k; b++)
                    FastConv.Conv2d(padded, c, h, w, weights.AsSpan(b * weightStride, c * 9), expected.AsSpan(b * c * plane, c * plane), c, ho, wo, 3, stride,
                        dilations[b], c, default, default, default, residual: hff && b > 0 ? expected.AsSpan((b - 1) * c * plane, c * plane) : default,
                        inputHalo: halo);
                if (norm) FastElementwise.ScaleShift(expected, k * c, plane, mean, scale, beta, slope);

                foreach (int threads in new[] { 1, 2 })
                    using (KernelSettings.Threads(threads))
                    {
                        var actual = new float[expected.Length + 8];
                        Array.Fill(actual, 12345f);
                        FastConv.DepthwiseBranches(x, c, h, w, stride, weights, weightStride, dilations, hff, actual.AsSpan(0, expected.Length), ho, wo,
                            norm ? mean : default, norm ? scale : default, norm ? beta : default, norm ? slope : default);
                        for (int i = expected.Length; i < actual.Length; i++) Assert.Equal(12345f, actual[i]);
                        for (int i = 0; i < expected.Length; i++)
                            if (BitConverter.SingleToInt32Bits(actual[i]) != BitConverter.SingleToInt32Bits(expected[i]))
                                Assert.Fail($"{c}x{h}x{w} stride {stride} d=[{string.Join(",", dilations)}] hff={hff} bn={norm} "
                                            + $"{(wide ? 512 : 256)}-bit {threads} thread(s) (seed {seed}): element {i} (branch {i / (c * plane)}) is {actual[i]}, the separate kernels give {expected[i]}");
                    }
            }
    }

    [Fact]
    public void Bad_shapes_are_refused_with_the_reason()
    {
        var x = new float[4 * 8 * 8];
        var y = new float[2 * 4 * 64];
        var weights = new float[2 * 4 * 9];
        var e = Assert.Throws<ArgumentException>(() => FastConv.DepthwiseBranches(x, 4, 8, 8, 1, weights, 36, new[] { 1, 2 }, true, y, 7, 8));
        Assert.Contains("output size", e.Message);
        e = Assert.Throws<ArgumentException>(() => FastConv.DepthwiseBranches(x, 4, 8, 8, 1, weights.AsSpan(0, 40), 36, new[] { 1, 2 }, true, y, 8, 8));
        Assert.Contains("weight", e.Message);
        e = Assert.Throws<ArgumentException>(() => FastConv.DepthwiseBranches(x, 4, 8, 8, 3, weights, 36, new[] { 1, 2 }, true, y, 3, 3));
        Assert.Contains("stride 3", e.Message);
    }

    private static float[] Random(Random rng, int n)
    {
        var v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float)(2 * rng.NextDouble() - 1);
        return v;
    }
}
