using Espnet.Compiled.Cpu;

namespace Espnet.Compiled.Tests.Numerics;

/// <summary>
/// The plain backward kernels against central differences of the independent double-precision forward
/// (<see cref="Ref"/>): for a loss L = sum(r * f(inputs)) with random r, every gradient coordinate of small
/// seeded tensors — stride 1 and 2, dilation, groups, depth-wise, kernel 1 and 3, odd sizes, batch 2 for
/// BatchNorm. Tolerance 1e-5 * max(1, |g|) (float32 results of double sums; the differences are exact for the
/// linear ops and O(h^2) = 1e-10 for BatchNorm).
/// </summary>
public sealed class GradientTests
{
    [Theory]
    [InlineData(4, 6, 7, 9, 3, 1, 1, 1)]
    [InlineData(4, 6, 7, 9, 3, 2, 1, 1)]
    [InlineData(4, 6, 9, 8, 3, 1, 2, 2)]
    [InlineData(6, 6, 7, 7, 3, 2, 3, 6)]   // depth-wise, stride 2, dilation 3
    [InlineData(5, 3, 6, 5, 1, 1, 1, 1)]   // 1x1
    public void Conv2d_input_and_weight_gradients(int cin, int cout, int h, int w, int kernel, int stride, int dilation, int groups)
    {
        int seed = HashCode.Combine(cin, cout, h, w, kernel, stride, dilation, groups) & 0x7fffffff;
        var rng = new Random(seed);
        int pad = (kernel - 1) / 2 * dilation;
        int ho = (h + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1, wo = (w + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1;
        float[] x = Random(rng, cin * h * w), weight = Random(rng, cout * (cin / groups) * kernel * kernel), r = Random(rng, cout * ho * wo);

        double Loss(float[] xs, float[] ws) =>
            Dot(r, Ref.Conv(new T(cin, h, w, xs.Select(v => (double)v).ToArray()), ws.Select(v => (double)v).ToArray(), cout, kernel, stride, dilation, groups).D);

        var dx = new float[x.Length];
        Gradients.Conv2dInput(r, cout, ho, wo, weight, dx, cin, h, w, kernel, stride, dilation, groups);
        AssertNumeric(dx, x, v => Loss(v, weight), $"conv dx {cin}->{cout} {h}x{w} k{kernel} s{stride} d{dilation} g{groups} (seed {seed})");

        var dw = new float[weight.Length];
        Gradients.Conv2dWeight(x, cin, h, w, r, cout, ho, wo, dw, kernel, stride, dilation, groups);
        AssertNumeric(dw, weight, v => Loss(x, v), $"conv dW {cin}->{cout} {h}x{w} k{kernel} s{stride} d{dilation} g{groups} (seed {seed})");

        var db = new float[cout];
        Gradients.Bias(r, cout, ho * wo, db);
        for (int o = 0; o < cout; o++) Assert.Equal(r.Skip(o * ho * wo).Take(ho * wo).Sum(v => (double)v), db[o], 5);
    }

    [Fact]
    public void PRelu_input_and_slope_gradients()
    {
        var rng = new Random(41);
        int c = 3, plane = 20;
        // Away from the kink at 0, where the derivative is not defined.
        float[] x = Random(rng, c * plane).Select(v => v + MathF.Sign(v) * 0.01f).ToArray(), slope = Random(rng, c), r = Random(rng, c * plane);
        double Loss(float[] xs, float[] a) => Dot(r, Ref.PRelu(new T(c, 1, plane, xs.Select(v => (double)v).ToArray()), a.Select(v => (double)v).ToArray()).D);

        var dx = new float[x.Length];
        var da = new float[c];
        Gradients.PRelu(x, r, c, plane, slope, dx, da);
        AssertNumeric(dx, x, v => Loss(v, slope), "prelu dx");
        AssertNumeric(da, slope, v => Loss(x, v), "prelu da");
    }

    [Fact]
    public void BatchNorm_training_gradients_and_running_statistics()
    {
        var rng = new Random(42);
        int batch = 2, c = 3, plane = 10;
        float[] x = Random(rng, batch * c * plane), gamma = Random(rng, c), beta = Random(rng, c), r = Random(rng, batch * c * plane);
        const double eps = 1e-3;

        // Training-mode BatchNorm in double, from its definition.
        double Loss(float[] xs, float[] g, float[] b)
        {
            double total = 0;
            for (int ch = 0; ch < c; ch++)
            {
                var values = Enumerable.Range(0, batch).SelectMany(n => Enumerable.Range(0, plane).Select(i => (n * c + ch) * plane + i)).ToList();
                double mean = values.Average(i => (double)xs[i]);
                double variance = values.Average(i => ((double)xs[i] - mean) * ((double)xs[i] - mean));
                foreach (int i in values) total += r[i] * (((double)xs[i] - mean) / Math.Sqrt(variance + eps) * g[ch] + b[ch]);
            }
            return total;
        }

        var y = new float[x.Length];
        float[] mean = new float[c], invStd = new float[c], runningMean = [0.5f, -1f, 2f], runningVar = [1f, 2f, 0.5f];
        float[] startMean = (float[])runningMean.Clone(), startVar = (float[])runningVar.Clone();
        Gradients.BatchNormTraining(x, batch, c, plane, gamma, beta, eps, y, mean, invStd, runningMean, runningVar);
        Assert.Equal(Loss(x, gamma, beta), Dot(r, y.Select(v => (double)v).ToArray()), 4);

        var dx = new float[x.Length];
        float[] dgamma = new float[c], dbeta = new float[c];
        Gradients.BatchNormTrainingBackward(x, r, batch, c, plane, gamma, mean, invStd, dx, dgamma, dbeta);
        AssertNumeric(dx, x, v => Loss(v, gamma, beta), "batchnorm dx");
        AssertNumeric(dgamma, gamma, v => Loss(x, v, beta), "batchnorm dgamma");
        AssertNumeric(dbeta, beta, v => Loss(x, gamma, v), "batchnorm dbeta");

        // Running statistics: momentum 0.1, the unbiased variance (PyTorch's update).
        for (int ch = 0; ch < c; ch++)
        {
            var values = Enumerable.Range(0, batch).SelectMany(n => Enumerable.Range(0, plane).Select(i => (double)x[(n * c + ch) * plane + i])).ToList();
            double m = values.Average(), unbiased = values.Sum(v => (v - m) * (v - m)) / (values.Count - 1);
            Assert.Equal(0.9 * startMean[ch] + 0.1 * m, runningMean[ch], 5);
            Assert.Equal(0.9 * startVar[ch] + 0.1 * unbiased, runningVar[ch], 5);
        }
    }

    [Theory]
    [InlineData(2, 7, 9)]
    [InlineData(3, 8, 6)]
    public void AvgPool_3x3_stride_2_gradient(int c, int h, int w)
    {
        var rng = new Random(c * 100 + h);
        int ho = (h - 1) / 2 + 1, wo = (w - 1) / 2 + 1;
        float[] x = Random(rng, c * h * w), r = Random(rng, c * ho * wo);
        var dx = new float[x.Length];
        Gradients.AvgPool3x3S2(r, c, h, w, ho, wo, dx);
        AssertNumeric(dx, x, v => Dot(r, Ref.AvgPool(new T(c, h, w, v.Select(q => (double)q).ToArray())).D), $"avgpool dx {c}x{h}x{w}");
    }

    /// <summary>Each coordinate of <paramref name="analytic"/> against a central difference of <paramref name="loss"/> at <paramref name="at"/>.</summary>
    private static void AssertNumeric(float[] analytic, float[] at, Func<float[], double> loss, string what)
    {
        Assert.Equal(at.Length, analytic.Length);
        const float h = 1e-3f;
        bool varies = false;
        for (int i = 0; i < at.Length; i++)
        {
            float keep = at[i];
            at[i] = keep + h;
            double plus = loss(at);
            at[i] = keep - h;
            double minus = loss(at);
            at[i] = keep;
            // The step actually taken, in float: keep +- h is rounded.
            double numeric = (plus - minus) / ((double)(keep + h) - (keep - h));
            double error = Math.Abs(analytic[i] - numeric) / Math.Max(1, Math.Abs(numeric));
            Assert.True(error <= 1e-5, $"{what}: element {i} is {analytic[i]} but the central difference is {numeric} (relative error {error:E2})");
            if (Math.Abs(numeric) > 1e-6) varies = true;
        }
        Assert.True(varies, $"{what}: every gradient is zero: the check would prove nothing");
    }

    private static double Dot(float[] a, double[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }

    private static float[] Random(Random rng, int n)
    {
        var v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float)(2 * rng.NextDouble() - 1);
        return v;
    }
}
