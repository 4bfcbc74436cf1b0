using Espnet.Compiled.Weights;

namespace Espnet.Compiled.Tests.Numerics;

/// <summary>Seeded random state_dicts shaped like a model's parameter table, with values every parameter matters for.</summary>
public static class RandomWeights
{
    public static StateDict For(ICompiledNetwork model, int seed)
    {
        var rng = new Random(seed);
        var sd = new StateDict();
        foreach (var p in model.Parameters)
        {
            var v = new float[p.Elements];
            int fanIn = p.Shape.Length == 4 ? p.Shape[1] * p.Shape[2] * p.Shape[3] : 1;
            for (int i = 0; i < v.Length; i++)
            {
                double u = rng.NextDouble();
                v[i] = (float)(p.Role switch
                {
                    ParameterRole.RunningVar => 0.25 + 1.5 * u,
                    ParameterRole.RunningMean => u - 0.5,
                    ParameterRole.Bias => u - 0.5,
                    _ when p.Key.EndsWith("bn.weight") || p.Key.EndsWith(".1.weight") && p.Shape.Length == 1 => 0.5 + u,
                    _ when p.Shape.Length == 1 => 0.5 * u, // PReLU slope
                    _ => (2 * u - 1) * 1.7 / Math.Sqrt(fanIn),
                });
            }
            sd.Add(p.Key, new StoredTensor(p.Shape, StoredDType.Float32, v));
        }
        return sd;
    }

    public static float[] Input(int length, int seed)
    {
        var rng = new Random(seed);
        var x = new float[length];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(2 * rng.NextDouble() - 1);
        return x;
    }

    /// <summary>Looks a key up as double[], failing with the key's name (so a misnamed key is a clear failure).</summary>
    public static Func<string, double[]> Lookup(StateDict sd) => key =>
    {
        Assert.True(sd.TryGet(key, out var t), $"the generated model has no parameter '{key}'");
        return t.Values.Select(v => (double)v).ToArray();
    };
}
