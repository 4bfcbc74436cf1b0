using Espnet.Compiled.Cpu.Fast;

namespace Espnet.Compiled.Tests.Kernels;

/// <summary>
/// A convolution applying the BatchNorm + PReLU after an ESP block as it writes (<see cref="OutputNorm"/>): the
/// block's branches with HFF, each branch normalising the one before it once it has added it, the last (and a
/// branch nothing adds) normalising itself, against the separate kernels in the order the generated code ran
/// them (branches, then one scale-shift over the concatenation with the block's residual): the same bits, at
/// both vector widths and for one and two threads, over the direct, Winograd, self-padded and 1x1 paths.
/// </summary>
[Collection(nameof(KernelSettings))]
public sealed class OutputNormTests
{
    [Theory]
    [InlineData(4, 3, 13, 37, 3, true)]        // odd sizes: rows end mid-vector (masked tails)
    [InlineData(25, 25, 64, 128, 3, true)]     // ESPNet's level 3 branches: Winograd at d = 1 .. 16
    [InlineData(5, 12, 40, 600, 3, false)]     // large: padded per work item, no block residual
    [InlineData(8, 7, 11, 21, 1, true)]        // 1x1: the packed tiles, leftover channels one by one (scalar tail)
    public void Matches_the_branches_then_the_scale_shift(int cin, int n, int h, int w, int kernel, bool blockResidual)
    {
        int seed = HashCode.Combine(cin, n, h, w, kernel, blockResidual) & 0x7fffffff;
        var rng = new Random(seed);
        int[] dilations = kernel == 1 ? [1, 1, 1, 1] : [1, 2, 4, 8];
        int k = dilations.Length, plane = h * w, total = k * n;
        float[] R(int count) => [.. Enumerable.Range(0, count).Select(_ => (float)(2 * rng.NextDouble() - 1))];
        var x = R(cin * plane);
        var weights = Enumerable.Range(0, k).Select(_ => R(n * cin * kernel * kernel)).ToArray();
        float[] mean = R(total), scale = R(total), beta = R(total), slope = R(total), residual = blockResidual ? R(total * plane) : [];
        foreach (bool wide in new[] { false, true })
            using (KernelSettings.Width(wide))
                foreach (int threads in new[] { 1, 2 })
                    using (KernelSettings.Threads(threads))
                    {
                        var expected = new float[total * plane];
                        for (int b = 0; b < k; b++)
                            FastConv.Conv2d(x, cin, h, w, weights[b], expected.AsSpan(b * n * plane, n * plane), n, h, w, kernel, 1, dilations[b], 1,
                                default, default, Scratch(cin, h, w, kernel, dilations[b]),
                                residual: b >= 2 ? expected.AsSpan((b - 1) * n * plane, n * plane) : default);
                        FastElementwise.ScaleShift(expected, total, plane, mean, scale, beta, slope, residual);

                        var actual = new float[total * plane + 8];
                        Array.Fill(actual, 12345f);
                        for (int b = 0; b < k; b++)
                        {
                            var y = actual.AsSpan(b * n * plane, n * plane);
                            // Branch 0: nothing adds it, it normalises itself; branch 1: the next one adds it and
                            // normalises it; the last normalises itself and the one before.
                            var own = b == 0 || b == k - 1 ? Norm(b, mean, scale, beta, slope, residual, n, plane) : default;
                            var previous = b >= 2 ? actual.AsSpan((b - 1) * n * plane, n * plane) : default;
                            FastConv.Conv2d(x, cin, h, w, weights[b], y, n, h, w, kernel, 1, dilations[b], 1, default, default,
                                Scratch(cin, h, w, kernel, dilations[b]), residual: previous,
                                norm: own, residualNorm: b >= 2 ? Norm(b - 1, mean, scale, beta, slope, residual, n, plane, previous) : default);
                        }
                        for (int i = expected.Length; i < actual.Length; i++) Assert.Equal(12345f, actual[i]);
                        for (int i = 0; i < expected.Length; i++)
                            if (BitConverter.SingleToInt32Bits(actual[i]) != BitConverter.SingleToInt32Bits(expected[i]))
                                Assert.Fail($"{cin}->{k}x{n} {h}x{w} k{kernel} residual={blockResidual} {(wide ? 512 : 256)}-bit {threads} thread(s) (seed {seed}): "
                                            + $"element {i} (branch {i / (n * plane)}) is {actual[i]}, the separate kernels give {expected[i]}");
                    }
    }

    [Fact]
    public void A_residual_norm_must_target_the_residual()
    {
        var x = new float[2 * 25];
        var w = new float[2 * 2];
        var y = new float[2 * 25];
        var r = new float[2 * 25];
        var other = new float[2 * 25];
        var p = new float[2];
        var e = Assert.Throws<ArgumentException>(() => FastConv.Conv2d(x, 2, 5, 5, w, y, 2, 5, 5, 1, 1, 1, 1, default, default, default,
            residual: r, residualNorm: new OutputNorm(p, p, p, p, target: other)));
        Assert.Contains("residual span itself", e.Message);
        e = Assert.Throws<ArgumentException>(() => FastConv.Conv2d(x, 2, 5, 5, w, y, 2, 5, 5, 1, 1, 1, 1, p, default, default,
            norm: new OutputNorm(p, p, p, p)));
        Assert.Contains("replaces the bias", e.Message);
    }

    private static OutputNorm Norm(int branch, float[] mean, float[] scale, float[] beta, float[] slope, float[] residual, int n, int plane, Span<float> target = default) =>
        new(mean.AsSpan(branch * n, n), scale.AsSpan(branch * n, n), beta.AsSpan(branch * n, n), slope.AsSpan(branch * n, n),
            residual.Length == 0 ? default : residual.AsSpan(branch * n * plane, n * plane), target);

    private static float[] Scratch(int cin, int h, int w, int kernel, int dilation) =>
        new float[FastConv.ScratchFloats(cin, h, w, kernel, 1, dilation, 1)];
}
