using Espnet.Compiled.Training;

namespace Espnet.Compiled.Tests.Training;

/// <summary>SGD and Adam against their update rules written out in double (PyTorch's documented algorithms), several steps.</summary>
public sealed class OptimizerTests
{
    [Theory]
    [InlineData(0.9, false, 0.0)]
    [InlineData(0.9, true, 4e-5)]
    [InlineData(0.0, false, 1e-3)]
    public void Sgd_follows_PyTorch(double momentum, bool nesterov, double weightDecay)
    {
        var rng = new Random(5);
        int n = 7;
        float[] p = Random(rng, n);
        double[] expected = p.Select(v => (double)v).ToArray(), buffer = new double[n];
        var sgd = new Sgd(n, momentum, nesterov, weightDecay);
        for (int step = 0; step < 4; step++)
        {
            float[] g = Random(rng, n);
            double lr = 0.1 / (step + 1);
            sgd.Step(p, g, lr);
            for (int i = 0; i < n; i++)
            {
                double d = g[i] + weightDecay * expected[i];
                if (momentum != 0)
                {
                    buffer[i] = step == 0 ? d : momentum * buffer[i] + d;
                    d = nesterov ? d + momentum * buffer[i] : buffer[i];
                }
                expected[i] -= lr * d;
            }
            for (int i = 0; i < n; i++) Assert.True(Math.Abs(p[i] - expected[i]) <= 1e-6, $"step {step}, element {i}: {p[i]} vs {expected[i]}");
        }
    }

    [Fact]
    public void Adam_follows_PyTorch_with_L2_weight_decay()
    {
        var rng = new Random(6);
        int n = 5;
        float[] p = Random(rng, n);
        double[] expected = p.Select(v => (double)v).ToArray(), m = new double[n], v = new double[n];
        var adam = new Adam(n, weightDecay: 5e-4);
        for (int t = 1; t <= 5; t++)
        {
            float[] g = Random(rng, n);
            adam.Step(p, g, 5e-4);
            for (int i = 0; i < n; i++)
            {
                double gi = g[i] + 5e-4 * expected[i];
                m[i] = 0.9 * m[i] + 0.1 * gi;
                v[i] = 0.999 * v[i] + 0.001 * gi * gi;
                double mHat = m[i] / (1 - Math.Pow(0.9, t)), vHat = v[i] / (1 - Math.Pow(0.999, t));
                expected[i] -= 5e-4 * mHat / (Math.Sqrt(vHat) + 1e-8);
            }
            for (int i = 0; i < n; i++) Assert.True(Math.Abs(p[i] - expected[i]) <= 1e-6, $"step {t}, element {i}: {p[i]} vs {expected[i]}");
        }
    }

    [Fact]
    public void A_gradient_of_another_length_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => new Sgd(3).Step(new float[3], new float[4], 0.1));
        Assert.Contains("3 parameters and 4 gradients", e.Message);
    }

    private static float[] Random(Random rng, int n) => Enumerable.Range(0, n).Select(_ => (float)(2 * rng.NextDouble() - 1)).ToArray();
}
