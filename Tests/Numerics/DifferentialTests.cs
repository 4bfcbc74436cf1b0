using Espnet.Compiled.Tests.RealWeights;
using Espnet.Compiled.Tests.Support;

namespace Espnet.Compiled.Tests.Numerics;

/// <summary>Generated code against the independent double-precision reference, every layer, seeded inputs.</summary>
public sealed class DifferentialTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(20261129)]
    public void OddNet_matches_the_reference_at_every_layer(int seed)
    {
        var model = new OddNet();
        var sd = RandomWeights.For(model, seed);
        model.LoadWeights(sd);
        var input = RandomWeights.Input(OddNet.InputLength, seed + 1);
        var taps = new TapRecorder();
        var output = new float[OddNet.OutputLength];
        model.Forward(input, output, taps);

        var p = RandomWeights.Lookup(sd);
        var x = new T(3, 13, 19, input.Select(v => (double)v).ToArray());
        var expected = new Dictionary<string, T>();
        double e3 = 1e-3;
        T stem = expected["stem"] = Ref.PRelu(Ref.BatchNorm(Ref.Conv(x, p("stem.conv.weight"), 7, 3, stride: 2), p("stem.bn.weight"), p("stem.bn.bias"), p("stem.bn.running_mean"), p("stem.bn.running_var"), e3), p("stem.act.weight"));
        T img1 = expected["img1"] = Ref.AvgPool(x);
        T cat = expected["cat"] = Ref.Concat(stem, img1);
        T br = expected["br"] = Ref.PRelu(Ref.BatchNorm(cat, p("br.bn.weight"), p("br.bn.bias"), p("br.bn.running_mean"), p("br.bn.running_var"), e3), p("br.act.weight"));
        T down = expected["down"] = Ref.Esp(br, p, "down", 11, 3, new[] { 1, 2, 4 }, strided: true, residual: false, fusion: true, e3);
        T esp = expected["esp"] = Ref.Esp(down, p, "esp", 11, 4, new[] { 1, 3, 2, 5 }, strided: false, residual: true, fusion: true, e3);
        T flat = expected["flat"] = Ref.Esp(esp, p, "flat", 9, 2, new[] { 1, 2 }, strided: false, residual: false, fusion: false, e3);
        T grouped = expected["grouped"] = Ref.PRelu(Ref.Conv(flat, p("grouped.conv.weight"), 6, 3, dilation: 2, groups: 3, bias: p("grouped.conv.bias")), p("grouped.act.weight"));
        T head = expected["head"] = Ref.Conv(grouped, p("head.conv.weight"), 17, 1);
        T up = expected["up"] = Ref.ConvTranspose(head, p("up.weight"), 5, 2, 2);
        T side = expected["side"] = Ref.PRelu(Ref.BatchNorm(Ref.Conv(up, p("side.conv.weight"), 5, 3), p("side.bn.weight"), p("side.bn.bias"), p("side.bn.running_mean"), p("side.bn.running_var"), 0.01), p("side.act.weight"));
        T sum = expected["sum"] = Ref.Add(up, side);
        T bn = expected["bn"] = Ref.BatchNorm(sum, p("bn.weight"), p("bn.bias"), p("bn.running_mean"), p("bn.running_var"), e3);

        AssertAll(taps, expected, seed);
        Compare.AssertClose(output, bn.D, "output", seedNote: $"seed {seed}");
    }

    [Theory]
    [InlineData(7)]
    public void WideNet_matches_the_reference_for_every_sample_of_the_batch(int seed)
    {
        var model = new WideNet();
        var sd = RandomWeights.For(model, seed);
        model.LoadWeights(sd);
        var input = RandomWeights.Input(WideNet.InputLength, seed + 1);
        var output = new float[WideNet.OutputLength];
        var taps = new PerSampleRecorder();
        model.Forward(input, output, taps);
        var p = RandomWeights.Lookup(sd);

        int sampleLength = WideNet.InputLength / WideNet.BatchSize;
        for (int n = 0; n < WideNet.BatchSize; n++)
        {
            var x = new T(2, 24, 40, input.Skip(n * sampleLength).Take(sampleLength).Select(v => (double)v).ToArray());
            var expected = new Dictionary<string, T>();
            double e5 = 1e-5;
            T c1 = expected["c1"] = Ref.PRelu(Ref.BatchNorm(Ref.Conv(x, p("c1.0.weight"), 19, 5), p("c1.1.weight"), p("c1.1.bias"), p("c1.1.running_mean"), p("c1.1.running_var"), e5), p("c1.2.weight"));
            expected["p3"] = Ref.AvgPool(Ref.AvgPool(Ref.AvgPool(x)));
            T e1 = expected["e1"] = Ref.Esp(c1, p, "e1", 20, 5, new[] { 1, 2, 4, 8, 16 }, strided: true, residual: false, fusion: true, e5);
            T e2 = expected["e2"] = Ref.Esp(e1, p, "e2", 20, 5, new[] { 1, 2, 4, 8, 16 }, strided: false, residual: true, fusion: true, e5);
            expected["t"] = Ref.ConvTranspose(e2, p("t.weight"), 9, 3, 2);
            AssertAll(taps.Samples[n], expected, seed, $"sample {n}");
            int outLength = WideNet.OutputLength / WideNet.BatchSize;
            Compare.AssertClose(output.AsSpan(n * outLength, outLength), e2.D, $"output of sample {n}", seedNote: $"seed {seed}");
        }
    }

    [Theory]
    [InlineData(3)]
    [InlineData(20261130)]
    public void EespNet_matches_the_reference_at_every_layer(int seed)
    {
        var model = new EespNet();
        var sd = RandomWeights.For(model, seed);
        model.LoadWeights(sd);
        var input = RandomWeights.Input(EespNet.InputLength, seed + 1);
        var taps = new TapRecorder();
        var output = new float[EespNet.OutputLength];
        model.Forward(input, output, taps);

        var p = RandomWeights.Lookup(sd);
        var x = new T(3, 23, 29, input.Select(v => (double)v).ToArray());
        var expected = new Dictionary<string, T>();
        double e5 = 1e-5;
        T down0 = expected["down0"] = Ref.DownSampler(x, x, p, "down0", 12, 3, Ref.RLimDilations(3, 7), e5);
        T stem = expected["stem"] = Ref.PRelu(Ref.Bn(Ref.Conv(down0, p("stem.conv.weight"), 16, 3), p, "stem.bn.", e5), p("stem.act.weight"));
        T down = expected["down"] = Ref.DownSampler(stem, x, p, "down", 32, 4, Ref.RLimDilations(4, 9), e5);
        T e4 = expected["e4"] = Ref.Eesp(down, p, "e4", 32, 4, new[] { 1, 3, 2, 2 }, 1, e5);
        T e4b = expected["e4b"] = Ref.Eesp(e4, p, "e4b", 48, 4, Ref.RLimDilations(4, 11), 1, e5);
        T e3 = expected["e3"] = Ref.Eesp(e4b, p, "e3", 18, 3, Ref.RLimDilations(3, 5), 1, e5);
        T e3r = expected["e3r"] = Ref.Eesp(e3, p, "e3r", 18, 3, new[] { 2, 1, 3 }, 1, e5);
        T e3s = expected["e3s"] = Ref.Eesp(e3r, p, "e3s", 18, 3, Ref.RLimDilations(3, 7), 2, e5);
        T down2 = expected["down2"] = Ref.DownSampler(e3s, null, p, "down2", 27, 3, Ref.RLimDilations(3, 9), e5);
        T gap = expected["gap"] = Ref.GlobalAvgPool(down2);
        T fc = expected["fc"] = Ref.Linear(gap, p("fc.weight"), p("fc.bias"), 10);

        Assert.Equal(new[] { 1, 2, 3, 4 }, Ref.RLimDilations(4, 9));
        Assert.Equal(new[] { 1, 1, 2, 3 }, Ref.RLimDilations(4, 7));
        Assert.Equal(new[] { 1, 1, 1, 2 }, Ref.RLimDilations(4, 5));
        Assert.Equal((18, 6, 8), (e3.C, e3.H, e3.W));
        Assert.Equal((27, 2, 2), (down2.C, down2.H, down2.W));
        AssertAll(taps, expected, seed);
        Compare.AssertClose(output, fc.D, "output", seedNote: $"seed {seed}");
        // Every tensor of the store is used except down2's inp_reinf (declared, as the authors' level5_0 has it).
        Assert.Contains(model.Parameters, q => q.Key == "down2.inp_reinf.1.conv.weight");
    }

    private static void AssertAll(TapRecorder taps, Dictionary<string, T> expected, int seed, string where = "")
    {
        Assert.Equal(expected.Keys.Order(), taps.Values.Keys.Order());
        foreach (var (name, t) in expected)
            Compare.AssertClose(taps.Values[name], t.D, $"{name} {where}".Trim(), seedNote: $"seed {seed}");
    }

    private sealed class PerSampleRecorder : IActivationObserver
    {
        public Dictionary<int, TapRecorder> Samples { get; } = new();
        public void OnActivation(int sample, LayerInfo layer, ReadOnlySpan<float> values)
        {
            if (!Samples.TryGetValue(sample, out var r)) Samples[sample] = r = new TapRecorder();
            r.OnActivation(sample, layer, values);
        }
    }
}
