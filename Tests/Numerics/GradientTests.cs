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
        int seed = ((((cin * 31 + cout) * 31 + h) * 31 + w) * 31 + kernel * 7 + stride) * 31 + dilation * 5 + groups; // fixed, unlike HashCode
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
        for (int o = 0; o < cout; o++) AssertClose(r.Skip(o * ho * wo).Take(ho * wo).Sum(v => (double)v), db[o], "conv db");
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
        AssertClose(Loss(x, gamma, beta), Dot(r, y.Select(v => (double)v).ToArray()), "batchnorm forward");

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
            AssertClose(0.9 * startMean[ch] + 0.1 * m, runningMean[ch], "running mean");
            AssertClose(0.9 * startVar[ch] + 0.1 * unbiased, runningVar[ch], "running variance");
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

    [Theory]
    [InlineData(3, 4, 3, 5, 2, 2)]
    [InlineData(2, 3, 4, 3, 3, 2)]
    public void ConvTranspose_input_and_weight_gradients(int cin, int cout, int h, int w, int kernel, int stride)
    {
        var rng = new Random(cin * 31 + kernel);
        int ho = (h - 1) * stride + kernel, wo = (w - 1) * stride + kernel;
        float[] x = Random(rng, cin * h * w), weight = Random(rng, cin * cout * kernel * kernel), r = Random(rng, cout * ho * wo);
        double Loss(float[] xs, float[] ws) =>
            Dot(r, Ref.ConvTranspose(new T(cin, h, w, xs.Select(v => (double)v).ToArray()), ws.Select(v => (double)v).ToArray(), cout, kernel, stride).D);
        var dx = new float[x.Length];
        Gradients.ConvTranspose2dInput(r, cout, ho, wo, weight, dx, cin, h, w, kernel, stride);
        AssertNumeric(dx, x, v => Loss(v, weight), $"convT dx k{kernel} s{stride}");
        var dw = new float[weight.Length];
        Gradients.ConvTranspose2dWeight(x, cin, h, w, r, cout, ho, wo, dw, kernel, stride);
        AssertNumeric(dw, weight, v => Loss(x, v), $"convT dW k{kernel} s{stride}");
    }

    [Theory]
    [InlineData(5, 7, 13, 9)]     // up, aligned corners
    [InlineData(9, 8, 4, 3)]      // down
    [InlineData(4, 5, 1, 1)]      // to one pixel
    public void Bilinear_and_adaptive_pooling_gradients(int h, int w, int ho, int wo)
    {
        var rng = new Random(h * 100 + ho);
        int c = 2;
        float[] x = Random(rng, c * h * w), r = Random(rng, c * ho * wo);
        var dx = new float[x.Length];
        Gradients.BilinearAlignCorners(r, c, h, w, ho, wo, dx);
        AssertNumeric(dx, x, v => Dot(r, RefHeads.Bilinear(new T(c, h, w, v.Select(q => (double)q).ToArray()), ho, wo).D), $"bilinear {h}x{w}->{ho}x{wo}");
        Gradients.AdaptiveAvgPool(r, c, h, w, ho, wo, dx);
        AssertNumeric(dx, x, v => Dot(r, RefHeads.AdaptiveAvgPool(new T(c, h, w, v.Select(q => (double)q).ToArray()), ho, wo).D), $"adaptive pool {h}x{w}->{ho}x{wo}");
    }

    [Fact]
    public void Global_pooling_shuffle_and_gate_gradients()
    {
        var rng = new Random(7);
        int c = 6, h = 3, w = 4, plane = h * w;
        float[] x = Random(rng, c * plane), rPooled = Random(rng, c), r = Random(rng, c * plane), gate = Random(rng, c);

        var dx = new float[x.Length];
        Gradients.GlobalAvgPool(rPooled, c, plane, dx);
        AssertNumeric(dx, x, v => Dot(rPooled, Ref.GlobalAvgPool(new T(c, h, w, v.Select(q => (double)q).ToArray())).D), "global pool");

        Gradients.ChannelShuffle(r, c, plane, 3, dx);
        AssertNumeric(dx, x, v => Dot(r, RefHeads.Shuffle(new T(c, h, w, v.Select(q => (double)q).ToArray()), 3).D), "shuffle");

        // y = x * sigmoid(gate[c]), in double.
        double Gated(float[] xs, float[] g)
        {
            double s = 0;
            for (int i = 0; i < xs.Length; i++) s += (double)r[i] * xs[i] / (1 + Math.Exp(-g[i / plane]));
            return s;
        }
        var dgate = new float[c];
        Gradients.SigmoidGate(x, r, c, plane, gate, dx, dgate);
        AssertNumeric(dx, x, v => Gated(v, gate), "gate dx");
        AssertNumeric(dgate, gate, v => Gated(x, v), "gate dg");
    }

    [Fact]
    public void Cross_entropy_with_class_weights_and_an_ignore_index()
    {
        var rng = new Random(99);
        int batch = 2, classes = 4, plane = 9;
        float[] z = Random(rng, batch * classes * plane).Select(v => 3 * v).ToArray();
        byte[] t = Enumerable.Range(0, batch * plane).Select(i => (byte)(i % 5 == 4 ? 255 : rng.Next(classes))).ToArray();
        float[] weights = [0.5f, 2f, 1f, 1.5f];

        // PyTorch's definition, in double: sum w[t] * -log softmax(z)[t] / sum w[t] over the pixels not ignored.
        double Loss(float[] logits)
        {
            double numerator = 0, denominator = 0;
            for (int n = 0; n < batch; n++)
                for (int i = 0; i < plane; i++)
                {
                    int target = t[n * plane + i];
                    if (target == 255) continue;
                    double sum = Enumerable.Range(0, classes).Sum(k => Math.Exp(logits[(n * classes + k) * plane + i]));
                    numerator += weights[target] * -(logits[(n * classes + target) * plane + i] - Math.Log(sum));
                    denominator += weights[target];
                }
            return numerator / denominator;
        }

        var dz = new float[z.Length];
        double loss = Gradients.CrossEntropy(z, t, batch, classes, plane, weights, 255, dz);
        AssertClose(Loss(z), loss, "cross-entropy loss");
        AssertNumeric(dz, z, Loss, "cross-entropy dz");
        for (int n = 0; n < batch; n++)
            for (int i = 0; i < plane; i++)
                if (t[n * plane + i] == 255)
                    for (int k = 0; k < classes; k++) Assert.Equal(0f, dz[(n * classes + k) * plane + i]);

        t[3] = 7;
        var e = Assert.Throws<ArgumentException>(() => Gradients.CrossEntropy(z, t, batch, classes, plane, weights, 255, dz));
        Assert.Contains("pixel 3 has target 7, outside the 4 classes", e.Message);
    }

    [Fact]
    public void Dropout_is_seeded_scaled_and_its_gradient_follows_the_mask()
    {
        var rng = new Random(3);
        float[] x = Random(rng, 4000), y = new float[4000], again = new float[4000], other = new float[4000];
        bool[] keep = new bool[4000], keepAgain = new bool[4000], keepOther = new bool[4000];
        Gradients.DropoutForward(x, y, 0.2, seed: 1882, step: 7, keep);
        Gradients.DropoutForward(x, again, 0.2, seed: 1882, step: 7, keepAgain);
        Gradients.DropoutForward(x, other, 0.2, seed: 1882, step: 8, keepOther);
        Assert.Equal(y, again);                                    // the same step replays exactly
        Assert.NotEqual(keep, keepOther);                          // another step draws another mask
        double kept = keep.Count(k => k) / 4000.0;
        Assert.InRange(kept, 0.77, 0.83);                          // 1 - p, within a few standard deviations
        for (int i = 0; i < x.Length; i++) Assert.Equal(keep[i] ? x[i] * 1.25f : 0f, y[i]);

        float[] r = Random(rng, 4000), dx = new float[4000];
        Gradients.Dropout(r, keep, 0.2, dx);
        // y is linear in x for a fixed mask: the central difference is exact.
        AssertNumeric(dx.Take(200).ToArray(), x.Take(200).ToArray(), v =>
        {
            double s = 0;
            for (int i = 0; i < 200; i++) s += (double)r[i] * (keep[i] ? v[i] * 1.25 : 0);
            return s;
        }, "dropout dx");
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

    private static void AssertClose(double expected, double actual, string what) =>
        Assert.True(Math.Abs(actual - expected) <= 1e-5 * Math.Max(1, Math.Abs(expected)), $"{what}: {actual} but expected {expected}");

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
