using Espnet.Compiled.Cpu;
using Espnet.Compiled.Cpu.Fast;
using Espnet.Compiled.Tests.Support;

namespace Espnet.Compiled.Tests.Kernels;

/// <summary>
/// The training pass's batched BatchNorm and PReLU (float vectors, one channel per work item) against the plain
/// double kernels in <see cref="Gradients"/>, over planes shorter than, equal to and longer than a vector and a
/// summing run, a batch of one and of three, channels with a large mean; and the same bits for 1 and 2 threads.
/// </summary>
[Collection(nameof(KernelSettings))]
public sealed class FastTrainingElementwiseTests
{
    [Theory]
    [InlineData(1, 3, 5)]
    [InlineData(3, 4, 8)]
    [InlineData(2, 5, 517)]
    [InlineData(3, 2, 4099)]
    [InlineData(4, 6, 128 * 96)]
    public void BatchNorm_forward_and_backward_match_the_plain_kernels(int batch, int channels, int plane)
    {
        int seed = HashCode.Combine(batch, channels, plane) & 0xffff;
        var rng = new Random(seed);
        int n = batch * channels * plane;
        // A large mean against a small spread (as after a sum of branches): the variance must survive it.
        float[] x = Values(rng, n, 1, 5), dy = Values(rng, n, 0.5, 0), gamma = Values(rng, channels, 2, 0), beta = Values(rng, channels, 1, 0);
        float[] dxStart = Values(rng, n, 1, 0);
        string what = $"batch {batch}, {channels} x {plane} (seed {seed})";

        var (y, mean, invStd, runMean, runVar, dx, dgamma, dbeta) = RunFast(x, dy, gamma, beta, dxStart, batch, channels, plane, threads: 1);
        var two = RunFast(x, dy, gamma, beta, dxStart, batch, channels, plane, threads: 2);
        Assert.Equal(y, two.Y);
        Assert.Equal(dx, two.Dx);
        Assert.Equal(dgamma, two.DGamma);

        float[] yRef = new float[n], meanRef = new float[channels], invRef = new float[channels], rmRef = Filled(channels, 0.5f), rvRef = Filled(channels, 2f);
        Gradients.BatchNormTraining(x, batch, channels, plane, gamma, beta, 1e-5, yRef, meanRef, invRef, rmRef, rvRef);
        float[] dxRef = new float[n], dgRef = new float[channels], dbRef = new float[channels];
        Gradients.BatchNormTrainingBackward(x, dy, batch, channels, plane, gamma, meanRef, invRef, dxRef, dgRef, dbRef);
        for (int i = 0; i < n; i++) dxRef[i] += dxStart[i];

        Compare.AssertClose(y, (ReadOnlySpan<float>)yRef, "bn forward " + what, 2e-5);
        Compare.AssertClose(mean, (ReadOnlySpan<float>)meanRef, "bn mean " + what, 1e-6);
        Compare.AssertClose(invStd, (ReadOnlySpan<float>)invRef, "bn 1/std " + what, 1e-5);
        Compare.AssertClose(runMean, (ReadOnlySpan<float>)rmRef, "running mean " + what, 1e-6);
        Compare.AssertClose(runVar, (ReadOnlySpan<float>)rvRef, "running variance " + what, 1e-5);
        Compare.AssertClose(dx, (ReadOnlySpan<float>)dxRef, "bn dx " + what, 2e-5);
        Compare.AssertClose(dgamma, (ReadOnlySpan<float>)dgRef, "bn dgamma " + what, 1e-5 * Math.Sqrt(batch * plane));
        Compare.AssertClose(dbeta, (ReadOnlySpan<float>)dbRef, "bn dbeta " + what, 1e-5 * Math.Sqrt(batch * plane));
    }

    [Theory]
    [InlineData(1, 3, 5)]
    [InlineData(3, 4, 8)]
    [InlineData(2, 5, 517)]
    [InlineData(4, 6, 128 * 96)]
    public void PRelu_forward_and_backward_match_the_plain_kernels(int batch, int channels, int plane)
    {
        int seed = HashCode.Combine(batch, channels, plane, 7) & 0xffff;
        var rng = new Random(seed);
        int n = batch * channels * plane, s = channels * plane;
        float[] x = Values(rng, n, 1, 0), dy = Values(rng, n, 1, 0), slope = Values(rng, channels, 0.5, 0), dxStart = Values(rng, n, 1, 0);
        string what = $"batch {batch}, {channels} x {plane} (seed {seed})";
        float[] y = new float[n], dx = (float[])dxStart.Clone(), dslope = Filled(channels, 0.25f);
        using (KernelSettings.Threads(2))
        {
            FastTrainingElementwise.PRelu(x, y, batch, channels, plane, slope);
            FastTrainingElementwise.PReluBackward(x, dy, batch, channels, plane, slope, dx, dslope);
        }
        float[] yRef = (float[])x.Clone(), dxRef = (float[])dxStart.Clone(), dsRef = Filled(channels, 0.25f), dxs = new float[s], ds = new float[channels];
        for (int b = 0; b < batch; b++)
        {
            Elementwise.PRelu(yRef.AsSpan(b * s, s), channels, plane, slope);
            Gradients.PRelu(x.AsSpan(b * s, s), dy.AsSpan(b * s, s), channels, plane, slope, dxs, ds);
            for (int i = 0; i < s; i++) dxRef[b * s + i] += dxs[i];
            for (int c = 0; c < channels; c++) dsRef[c] += ds[c];
        }
        Assert.Equal(yRef, y);
        Compare.AssertClose(dx, (ReadOnlySpan<float>)dxRef, "prelu dx " + what, 1e-6);
        Compare.AssertClose(dslope, (ReadOnlySpan<float>)dsRef, "prelu dslope " + what, 1e-5 * Math.Sqrt(batch * plane));
    }

    [Theory]
    [InlineData(1, 2, 5, 7)]
    [InlineData(3, 4, 16, 16)]
    [InlineData(2, 3, 13, 37)]
    [InlineData(2, 1, 1, 2)]
    public void AvgPool_backward_matches_the_plain_kernel(int batch, int channels, int h, int w)
    {
        int seed = HashCode.Combine(batch, channels, h, w, 13) & 0xffff;
        var rng = new Random(seed);
        int ho = (h - 1) / 2 + 1, wo = (w - 1) / 2 + 1, xs = channels * h * w, ys = channels * ho * wo;
        float[] dy = Values(rng, batch * ys, 1, 0), dxStart = Values(rng, batch * xs, 1, 0);
        var dx = (float[])dxStart.Clone();
        using (KernelSettings.Threads(2)) FastTrainingElementwise.AvgPool3x3S2Backward(dy, batch, channels, h, w, ho, wo, dx);
        var expected = (float[])dxStart.Clone();
        var one = new float[xs];
        for (int b = 0; b < batch; b++)
        {
            Gradients.AvgPool3x3S2(dy.AsSpan(b * ys, ys), channels, h, w, ho, wo, one);
            for (int i = 0; i < xs; i++) expected[b * xs + i] += one[i];
        }
        Compare.AssertClose(dx, (ReadOnlySpan<float>)expected, $"avgpool backward batch {batch}, {channels}x{h}x{w} (seed {seed})", 1e-6);
    }

    private static (float[] Y, float[] Mean, float[] InvStd, float[] RunMean, float[] RunVar, float[] Dx, float[] DGamma, float[] DBeta) RunFast(
        float[] x, float[] dy, float[] gamma, float[] beta, float[] dxStart, int batch, int channels, int plane, int threads)
    {
        int n = batch * channels * plane;
        float[] y = new float[n], mean = new float[channels], invStd = new float[channels], rm = Filled(channels, 0.5f), rv = Filled(channels, 2f);
        float[] dx = (float[])dxStart.Clone(), dg = new float[channels], db = new float[channels];
        using (KernelSettings.Threads(threads))
        {
            FastTrainingElementwise.BatchNormTraining(x, batch, channels, plane, gamma, beta, 1e-5, y, mean, invStd, rm, rv);
            FastTrainingElementwise.BatchNormTrainingBackward(x, dy, batch, channels, plane, gamma, mean, invStd, dx, dg, db);
        }
        return (y, mean, invStd, rm, rv, dx, dg, db);
    }

    /// <summary>
    /// The fused BatchNorm + PReLU (the training graph's node for a BatchNorm only a PReLU reads) gives, bit for bit,
    /// what the BatchNorm kernel then the PReLU kernel give, forward (activation, statistics, running statistics) and
    /// backward (dx added or written, dgamma, dbeta, dslope), with and without an input gradient, for 1 and 2 threads:
    /// planes with scalar tails and several summing runs, negative slopes and values either side of zero.
    /// </summary>
    [Theory]
    [InlineData(1, 3, 5)]
    [InlineData(2, 5, 517)]
    [InlineData(3, 4, 1100)]
    [InlineData(4, 6, 64 * 40)]
    public void Fused_BatchNorm_PReLU_is_the_two_kernels_in_turn(int batch, int channels, int plane)
    {
        int seed = HashCode.Combine(batch, channels, plane, 7) & 0xffff;
        var rng = new Random(seed);
        int n = batch * channels * plane;
        float[] x = Values(rng, n, 1, 0.3), dy = Values(rng, n, 0.5, 0), gamma = Values(rng, channels, 2, 0), beta = Values(rng, channels, 1, 0);
        float[] slope = Values(rng, channels, 0.5, 0), dxStart = Values(rng, n, 1, 0);
        foreach (int threads in new[] { 1, 2 })
            foreach (bool overwrite in new[] { false, true })
                foreach (bool withDx in new[] { true, false })
                    using (KernelSettings.Threads(threads))
                    {
                        string what = $"batch {batch}, {channels} x {plane}, {threads} threads, overwrite {overwrite}, dx {withDx} (seed {seed})";
                        // The two kernels in turn.
                        float[] bn = new float[n], y = new float[n], mean = new float[channels], inv = new float[channels];
                        float[] rm = Filled(channels, 0.5f), rv = Filled(channels, 2f);
                        FastTrainingElementwise.BatchNormTraining(x, batch, channels, plane, gamma, beta, 1e-5, bn, mean, inv, rm, rv);
                        FastTrainingElementwise.PRelu(bn, y, batch, channels, plane, slope);
                        float[] g = new float[n], dx = (float[])dxStart.Clone(), dg = Filled(channels, 0.25f), db = Filled(channels, -0.5f), ds = Filled(channels, 1f);
                        FastTrainingElementwise.PReluBackward(bn, dy, batch, channels, plane, slope, g, ds, overwrite: true);
                        FastTrainingElementwise.BatchNormTrainingBackward(x, g, batch, channels, plane, gamma, mean, inv, withDx ? dx : default, dg, db, overwrite);
                        // Fused.
                        float[] y2 = new float[n], mean2 = new float[channels], inv2 = new float[channels], scale2 = new float[channels];
                        float[] rm2 = Filled(channels, 0.5f), rv2 = Filled(channels, 2f);
                        FastTrainingElementwise.BatchNormPReluTraining(x, batch, channels, plane, gamma, beta, 1e-5, slope, y2, mean2, inv2, scale2, rm2, rv2);
                        float[] dx2 = (float[])dxStart.Clone(), dg2 = Filled(channels, 0.25f), db2 = Filled(channels, -0.5f), ds2 = Filled(channels, 1f);
                        FastTrainingElementwise.BatchNormPReluTrainingBackward(x, dy, batch, channels, plane, gamma, beta, slope, mean2, inv2, scale2,
                            withDx ? dx2 : default, dg2, db2, ds2, overwrite);
                        AssertBits(y, y2, "activation", what);
                        AssertBits(mean, mean2, "mean", what);
                        AssertBits(inv, inv2, "1/std", what);
                        AssertBits(rm, rm2, "running mean", what);
                        AssertBits(rv, rv2, "running variance", what);
                        AssertBits(dx, dx2, "dx", what);
                        AssertBits(dg, dg2, "dgamma", what);
                        AssertBits(db, db2, "dbeta", what);
                        AssertBits(ds, ds2, "dslope", what);
                    }
    }

    private static void AssertBits(float[] expected, float[] actual, string name, string what)
    {
        for (int i = 0; i < expected.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]),
                $"{name}[{i}]: {actual[i]} vs {expected[i]}, {what}");
    }

    private static float[] Values(Random rng, int n, double spread, double offset) =>
        [.. Enumerable.Range(0, n).Select(_ => (float)(offset + spread * (rng.NextDouble() * 2 - 1)))];

    private static float[] Filled(int n, float value)
    {
        var v = new float[n];
        Array.Fill(v, value);
        return v;
    }
}
