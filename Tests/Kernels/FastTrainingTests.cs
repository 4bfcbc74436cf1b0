using Espnet.Compiled.Cpu;
using Espnet.Compiled.Cpu.Fast;

namespace Espnet.Compiled.Tests.Kernels;

/// <summary>The training pass's row-vector convolutions against the plain kernels (double accumulation), over edge classes.</summary>
[Collection(nameof(KernelSettings))]
public sealed class FastTrainingTests
{
    // cin, cout, groups, kernel, dilation, h, w, stride
    public static TheoryData<int, int, int, int, int, int, int, int> Cases => new()
    {
        { 3, 16, 1, 3, 1, 17, 23, 1 },     // odd sizes, a first layer
        { 8, 8, 8, 3, 2, 9, 14, 1 },       // depthwise, dilated
        { 16, 16, 4, 1, 1, 7, 9, 1 },      // grouped 1x1
        { 12, 5, 1, 1, 1, 6, 31, 1 },      // a classifier
        { 6, 6, 1, 3, 5, 8, 8, 1 },        // dilation beyond half the map
        { 4, 4, 1, 3, 16, 8, 40, 1 },      // dilation beyond the map's height
        { 9, 18, 3, 3, 3, 13, 11, 1 },     // groups, not multiples of the vector width
        { 8, 16, 1, 3, 1, 16, 16, 2 },     // stride 2: even and odd columns
        { 3, 16, 1, 3, 1, 17, 23, 2 },     // stride 2, odd sizes (ESPNet's first layer)
        { 19, 8, 1, 3, 1, 15, 10, 2 },     // stride 2, odd height, even width
        { 12, 12, 12, 3, 2, 14, 19, 2 },   // strided depth-wise dilated (EESP's DownSampler branches)
        { 12, 12, 12, 3, 3, 11, 13, 2 },   // odd dilation: taps alternate between the halves
        { 6, 4, 2, 1, 1, 9, 7, 2 },        // strided grouped 1x1
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Forward_input_and_weight_gradients_match_the_plain_kernels(int cin, int cout, int groups, int kernel, int dilation, int h, int w, int stride)
    {
        int seed = HashCode.Combine(cin, cout, groups, kernel, dilation, h, w) & 0xffff;
        var rng = new Random(seed);
        int ho = (h - 1) / stride + 1, wo = (w - 1) / stride + 1;
        float[] Random(int n) => [.. Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1))];
        float[] x = Random(cin * h * w), weight = Random(cout * cin / groups * kernel * kernel), dy = Random(cout * ho * wo);

        var y = new float[cout * ho * wo];
        var yPlain = new float[cout * ho * wo];
        FastTraining.Conv2d(x, cin, h, w, weight, y, cout, ho, wo, kernel, stride, dilation, groups);
        Conv.Conv2d(x, cin, h, w, weight, yPlain, cout, ho, wo, kernel, stride, dilation, groups);
        Check(y, yPlain, "forward", seed);

        var dx = new float[cin * h * w];
        var dxPlain = new float[cin * h * w];
        FastTraining.Conv2dInput(dy, cout, ho, wo, weight, dx, cin, h, w, kernel, stride, dilation, groups);
        Gradients.Conv2dInput(dy, cout, ho, wo, weight, dxPlain, cin, h, w, kernel, stride, dilation, groups);
        Check(dx, dxPlain, "input gradient", seed);

        var dw = new float[weight.Length];
        var dwPlain = new float[weight.Length];
        FastTraining.Conv2dWeight(x, cin, h, w, dy, cout, ho, wo, dw, kernel, stride, dilation, groups);
        Gradients.Conv2dWeight(x, cin, h, w, dy, cout, ho, wo, dwPlain, kernel, stride, dilation, groups);
        Check(dw, dwPlain, "weight gradient", seed);
    }

    /// <summary>
    /// The register-blocked 3x3 weight gradient (planes of 1024 and more) at both vector widths: output channels in
    /// pairs and one left over, rows ending mid-vector, dilations up to beyond the map, groups and depth-wise.
    /// </summary>
    [Theory]
    [InlineData(25, 25, 1, 1, 32, 64, 1)]     // an ESP branch, shorter
    [InlineData(9, 5, 1, 2, 33, 40, 1)]       // odd output count, rows ending mid-vector
    [InlineData(6, 6, 6, 4, 40, 37, 1)]       // depth-wise
    [InlineData(8, 12, 4, 3, 29, 45, 1)]      // grouped
    [InlineData(4, 4, 1, 16, 24, 50, 1)]      // dilation beyond the map's height
    [InlineData(19, 12, 1, 1, 70, 66, 2)]     // a strided reduce
    [InlineData(3, 16, 1, 1, 65, 129, 2)]     // ESPNet's first layer, odd sizes
    [InlineData(12, 12, 12, 2, 77, 90, 2)]    // a strided depth-wise dilated branch (EESP's DownSampler)
    [InlineData(6, 5, 1, 3, 81, 101, 2)]      // odd dilation: taps alternate between the even and odd halves
    public void Blocked_weight_gradient_matches_the_plain_kernel(int cin, int cout, int groups, int dilation, int h, int w, int stride)
    {
        int seed = HashCode.Combine(cin, cout, groups, dilation, h, w, stride) & 0xffff;
        var rng = new Random(seed);
        int ho = (h - 1) / stride + 1, wo = (w - 1) / stride + 1;
        Assert.True(ho * wo >= 1024, "the case should reach the blocked kernel");
        float[] Random(int n) => [.. Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1))];
        float[] x = Random(cin * h * w), dy = Random(cout * ho * wo);
        var plain = new float[cout * cin / groups * 9];
        Gradients.Conv2dWeight(x, cin, h, w, dy, cout, ho, wo, plain, 3, stride, dilation, groups);
        foreach (bool wide in new[] { false, true })
            using (KernelSettings.Width(wide))
            {
                var dw = new float[plain.Length];
                FastTraining.Conv2dWeight(x, cin, h, w, dy, cout, ho, wo, dw, 3, stride, dilation, groups);
                Check(dw, plain, $"blocked weight gradient {(wide ? 512 : 256)}-bit", seed);
            }
    }

    /// <summary>
    /// The 1x1 weight gradient at both widths, both kernels: below 128 pixels the one along the input channels (a
    /// classifier's single pixel, one run of pixels and several, input channels below, between and above whole pairs
    /// of vectors), from 128 the blocked one along the pixels (planes ending mid-vector); output channels off the
    /// blocks of four, groups; nothing written past the weights.
    /// </summary>
    [Theory]
    [InlineData(40, 10, 1, 1, 1)]       // narrow: a linear layer, one pixel
    [InlineData(512, 64, 4, 7, 7)]      // narrow: EESPNet's 7x7 grouped 1x1 (128 channels a group)
    [InlineData(13, 7, 1, 8, 8)]        // narrow: one run of 64 pixels, 13 input channels
    [InlineData(24, 6, 2, 5, 13)]       // narrow: two runs, the second one pixel; 12 channels a group
    [InlineData(70, 9, 1, 11, 11)]      // narrow: two runs (121 pixels), channels past two vectors
    [InlineData(33, 5, 1, 9, 14)]       // narrow: the largest plane below the blocked kernel's (126)
    [InlineData(70, 9, 1, 14, 14)]      // blocked: 196 pixels, 13 vectors the last masked
    [InlineData(32, 8, 4, 28, 28)]      // blocked: EESPNet's 28x28 grouped 1x1
    [InlineData(13, 7, 1, 37, 41)]
    [InlineData(16, 16, 4, 33, 35)]
    [InlineData(64, 32, 4, 32, 32)]
    [InlineData(3, 2, 1, 1, 1031)]
    public void Pointwise_weight_gradient_matches_the_plain_kernel(int cin, int cout, int groups, int h, int w)
    {
        int seed = HashCode.Combine(cin, cout, groups, h, w, 13) & 0xffff;
        var rng = new Random(seed);
        string kernel = h * w < 128 ? "narrow" : "blocked";
        float[] Random(int n) => [.. Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1))];
        float[] x = Random(cin * h * w), dy = Random(cout * h * w);
        var plain = new float[cout * cin / groups];
        Gradients.Conv2dWeight(x, cin, h, w, dy, cout, h, w, plain, 1, 1, 1, groups);
        foreach (bool wide in new[] { false, true })
            using (KernelSettings.Width(wide))
            {
                var dw = new float[plain.Length + 3];
                dw.AsSpan(plain.Length).Fill(7);
                FastTraining.Conv2dWeight(x, cin, h, w, dy, cout, h, w, dw.AsSpan(0, plain.Length), 1, 1, 1, groups);
                Check(dw[..plain.Length], plain, $"{kernel} 1x1 weight gradient {(wide ? 512 : 256)}-bit", seed);
                Assert.True(dw.AsSpan(plain.Length).ToArray().All(v => v == 7), $"{kernel} 1x1 weight gradient (seed {seed}): wrote past the weights");
            }
    }

    /// <summary>
    /// The depth-wise 3x3 weight gradient of small planes (vectorised along the channels) at both widths: stride 1
    /// and 2, dilations up to beyond the map, channels below, at and past whole vectors, several runs of pixels.
    /// </summary>
    [Theory]
    [InlineData(128, 7, 7, 1, 1)]       // EESPNet's 7x7 branches
    [InlineData(64, 14, 14, 3, 1)]      // 196 pixels: four runs
    [InlineData(20, 9, 13, 16, 1)]      // dilation beyond the map, channels past one vector
    [InlineData(5, 31, 33, 2, 1)]       // the largest plane below the blocked kernel's, five channels
    [InlineData(16, 56, 56, 4, 2)]      // EESPNet's strided DownSampler branch
    [InlineData(12, 15, 10, 3, 2)]      // stride 2, odd height, odd dilation
    public void Narrow_depthwise_weight_gradient_matches_the_plain_kernel(int channels, int h, int w, int dilation, int stride)
    {
        int seed = HashCode.Combine(channels, h, w, dilation, stride, 17) & 0xffff;
        var rng = new Random(seed);
        int ho = (h - 1) / stride + 1, wo = (w - 1) / stride + 1;
        Assert.True(ho * wo < 1024, "the case should reach the narrow kernel");
        float[] Random(int n) => [.. Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1))];
        float[] x = Random(channels * h * w), dy = Random(channels * ho * wo);
        var plain = new float[channels * 9];
        Gradients.Conv2dWeight(x, channels, h, w, dy, channels, ho, wo, plain, 3, stride, dilation, channels);
        foreach (bool wide in new[] { false, true })
            using (KernelSettings.Width(wide))
            {
                var dw = new float[plain.Length + 3];
                dw.AsSpan(plain.Length).Fill(7);
                FastTraining.Conv2dWeight(x, channels, h, w, dy, channels, ho, wo, dw.AsSpan(0, plain.Length), 3, stride, dilation, channels);
                Check(dw[..plain.Length], plain, $"narrow depth-wise weight gradient {(wide ? 512 : 256)}-bit", seed);
                Assert.True(dw.AsSpan(plain.Length).ToArray().All(v => v == 7), $"narrow depth-wise weight gradient (seed {seed}): wrote past the weights");
            }
    }

    /// <summary>
    /// The parallel cross-entropy against the plain one: the same loss (to double rounding: the items' sums are added
    /// in another grouping) and gradient (to float rounding), ignored pixels zero, the same bits for 1 and 2 threads;
    /// several runs of pixels a sample, class weights, byte and int targets, and a target out of range named.
    /// </summary>
    [Theory]
    [InlineData(4, 20, 2048)]   // ESPNet-C's output at 256x512, batch 4
    [InlineData(3, 5, 1500)]    // runs of pixels ending mid-run
    [InlineData(8, 1000, 1)]    // a classifier: one pixel, 1,000 classes
    [InlineData(2, 2100, 3)]    // more classes than the stack keeps
    public void Parallel_cross_entropy_matches_the_plain_one(int batch, int classes, int plane)
    {
        int seed = HashCode.Combine(batch, classes, plane, 23) & 0xffff;
        var rng = new Random(seed);
        float[] z = [.. Enumerable.Range(0, batch * classes * plane).Select(_ => (float)(rng.NextDouble() * 8 - 4))];
        int[] t = [.. Enumerable.Range(0, batch * plane).Select(i => i % 7 == 3 ? 255 : rng.Next(classes))];
        float[] weights = [.. Enumerable.Range(0, classes).Select(_ => (float)(0.5 + rng.NextDouble()))];
        var plain = new float[z.Length];
        double expected = Gradients.CrossEntropy(z, t, batch, classes, plane, weights, 255, plain);
        float[]? first = null;
        foreach (int threads in new[] { 1, 2 })
            using (KernelSettings.Threads(threads))
            {
                var dz = Enumerable.Repeat(9f, z.Length).ToArray();
                double loss = FastTraining.CrossEntropy(z, t, batch, classes, plane, weights, 255, dz);
                Assert.True(Math.Abs(loss - expected) <= 1e-12 * Math.Abs(expected), $"loss (seed {seed}): {loss}, the plain one {expected}");
                Check(dz, plain, $"cross-entropy gradient, {threads} threads", seed);
                if (first is null) first = dz;
                else Assert.Equal(first, dz);
            }
        var bytes = t.Select(v => (byte)v).ToArray();
        if (classes <= 255)
        {
            var dzBytes = new float[z.Length];
            double loss = FastTraining.CrossEntropy(z, bytes, batch, classes, plane, weights, 255, dzBytes);
            Assert.True(Math.Abs(loss - expected) <= 1e-12 * Math.Abs(expected), $"loss from bytes (seed {seed})");
            Assert.Equal(first, dzBytes);
        }
        t[plane * (batch - 1) + plane / 2] = classes + 3;
        var e = Assert.Throws<ArgumentException>(() => FastTraining.CrossEntropy(z, t, batch, classes, plane, weights, 255, new float[z.Length]));
        Assert.Contains($"sample {batch - 1}, pixel {plane / 2} has target {classes + 3}, outside the {classes} classes", e.Message);
    }

    /// <summary>float32 sums of up to a few hundred terms against double ones: within 1e-5 of the largest value.</summary>
    private static void Check(float[] ours, float[] plain, string what, int seed)
    {
        double scale = Math.Max(1e-6, plain.Max(Math.Abs));
        Assert.True(plain.Any(v => v != 0), $"{what}: the plain kernel gave all zeros");
        for (int i = 0; i < ours.Length; i++)
            Assert.True(Math.Abs(ours[i] - plain[i]) <= 1e-5 * scale, $"{what} (seed {seed}): element {i} is {ours[i]}, the plain kernel {plain[i]}");
    }
}
