using Espnet.Compiled.Tests.Kernels;
using Espnet.Compiled.Tests.Support;
using Espnet.Compiled.Training;

namespace Espnet.Compiled.Tests.Training;

/// <summary>
/// BatchNorm frozen (EdgeNets' second stage: the running statistics normalise and are not updated): the forward
/// pass and its gradients against central differences of a double-precision loss L = sum(y * r).
/// </summary>
[Collection(nameof(KernelSettings))]
public sealed class FrozenBatchNormTests
{
    [Theory]
    [InlineData(1, 3, 7)]
    [InlineData(2, 4, 517)]
    public void Frozen_batch_norm_uses_and_keeps_the_running_statistics(int batch, int channels, int plane)
    {
        int seed = HashCode.Combine(batch, channels, plane, 17) & 0xffff;
        var rng = new Random(seed);
        int n = batch * channels * plane;
        const double eps = 1e-5;
        float[] x = Values(rng, n, 2, 0.5), r = Values(rng, n, 1, 0), gamma = Values(rng, channels, 1, 1), beta = Values(rng, channels, 1, 0);
        float[] runMean = Values(rng, channels, 0.5, 0), runVar = Values(rng, channels, 0.4, 1), dxStart = Values(rng, n, 1, 0);
        float[] meanBefore = (float[])runMean.Clone(), varBefore = (float[])runVar.Clone();
        var context = new TrainingContext(batch, 16, 16) { FreezeBatchNorm = true };
        float[] y = new float[n], savedMean = new float[channels], savedInvStd = new float[channels];
        float[] dx = (float[])dxStart.Clone(), dgamma = new float[channels], dbeta = new float[channels];
        using (KernelSettings.Threads(2))
        {
            context.BatchNorm(x, y, channels, plane, gamma, beta, runMean, runVar, eps, savedMean, savedInvStd);
            context.BatchNormBackward(x, r, channels, plane, gamma, savedMean, savedInvStd, dx, dgamma, dbeta);
        }
        Assert.Equal(meanBefore, runMean);
        Assert.Equal(varBefore, runVar);

        // y(x, gamma, beta) in double, and L = sum(y * r).
        double Y(double xv, int c, double g, double b) => (xv - runMean[c]) / Math.Sqrt(runVar[c] + eps) * g + b;
        int C(int i) => i / plane % channels;
        var expectedY = new double[n];
        for (int i = 0; i < n; i++) expectedY[i] = Y(x[i], C(i), gamma[C(i)], beta[C(i)]);
        Compare.AssertClose(y, expectedY, $"frozen BN forward (seed {seed})", 1e-5);

        const double h = 1e-3;
        var expectedDx = new double[n];
        for (int i = 0; i < n; i++)
        {
            int c = C(i);
            double up = Y(x[i] + h, c, gamma[c], beta[c]) * r[i], down = Y(x[i] - h, c, gamma[c], beta[c]) * r[i];
            expectedDx[i] = dxStart[i] + (up - down) / (2 * h);
        }
        var expectedDGamma = new double[channels];
        var expectedDBeta = new double[channels];
        for (int i = 0; i < n; i++)
        {
            int c = C(i);
            expectedDGamma[c] += (Y(x[i], c, gamma[c] + h, beta[c]) - Y(x[i], c, gamma[c] - h, beta[c])) * r[i] / (2 * h);
            expectedDBeta[c] += (Y(x[i], c, gamma[c], beta[c] + h) - Y(x[i], c, gamma[c], beta[c] - h)) * r[i] / (2 * h);
        }
        Compare.AssertClose(dx, expectedDx, $"frozen BN dx (seed {seed})", 1e-5);
        Compare.AssertClose(dgamma, expectedDGamma, $"frozen BN dgamma (seed {seed})", 1e-5 * Math.Sqrt(batch * plane));
        Compare.AssertClose(dbeta, expectedDBeta, $"frozen BN dbeta (seed {seed})", 1e-5 * Math.Sqrt(batch * plane));
    }

    private static float[] Values(Random rng, int n, double spread, double offset) =>
        [.. Enumerable.Range(0, n).Select(_ => (float)(offset + spread * (rng.NextDouble() * 2 - 1)))];
}
