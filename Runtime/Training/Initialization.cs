namespace Espnet.Compiled.Training;

/// <summary>
/// Training from scratch: every parameter set as PyTorch initialises a fresh module (the authors' scripts keep
/// those defaults), from a seeded generator of our own. Convolution, transposed-convolution and linear weights
/// uniform in ±1/sqrt(fan_in) (PyTorch's kaiming_uniform with a = sqrt(5); fan_in from the weight's second
/// dimension on, as PyTorch computes it, for transposed convolutions too), their biases likewise; BatchNorm
/// weight 1, bias 0, running mean 0, variance 1; PReLU slopes 0.25.
/// </summary>
public static class Initialization
{
    public static void PyTorchDefaults(CompiledNetwork network, int seed) => PyTorchDefaults(network, seed, static _ => true);

    /// <summary>Only the parameters <paramref name="which"/> selects (re-initialising a classifier for another class count).</summary>
    public static void PyTorchDefaults(CompiledNetwork network, int seed, Func<ParameterInfo, bool> which)
    {
        var rng = new Random(seed);
        var keys = network.Parameters.ToDictionary(p => p.Key);
        foreach (var p in network.Parameters)
        {
            if (!which(p)) continue;
            var values = network.Mutable(p.Offset, p.Elements);
            string prefix = p.Key[..(p.Key.LastIndexOf('.') + 1)];
            bool batchNorm = keys.ContainsKey(prefix + "running_mean");
            switch (p.Role)
            {
                case ParameterRole.RunningMean: values.Clear(); break;
                case ParameterRole.RunningVar: values.Fill(1f); break;
                case ParameterRole.Weight when batchNorm: values.Fill(1f); break;
                case ParameterRole.Bias when batchNorm: values.Clear(); break;
                case ParameterRole.Weight when p.Shape.Length == 1: values.Fill(0.25f); break;    // PReLU
                case ParameterRole.Weight:
                    Uniform(values, FanIn(p.Shape), rng);
                    break;
                case ParameterRole.Bias:
                    int fanIn = keys.TryGetValue(prefix + "weight", out var weight) ? FanIn(weight.Shape) : p.Elements;
                    Uniform(values, fanIn, rng);
                    break;
            }
        }
        network.ParametersChanged();
    }

    private static int FanIn(int[] shape)
    {
        int fan = shape.Length > 1 ? shape[1] : 1;
        for (int d = 2; d < shape.Length; d++) fan *= shape[d];
        return Math.Max(fan, 1);
    }

    private static void Uniform(Span<float> values, int fanIn, Random rng)
    {
        double bound = 1 / Math.Sqrt(fanIn);
        for (int i = 0; i < values.Length; i++) values[i] = (float)((2 * rng.NextDouble() - 1) * bound);
    }
}
