using Espnet.Compiled.Tests.RealWeights;
using Espnet.Compiled.Tests.Support;

namespace Espnet.Compiled.Tests.Numerics;

/// <summary>The segmentation-head blocks against the independent double-precision reference, every layer.</summary>
public sealed class HeadDifferentialTests
{
    [Theory]
    [InlineData(21)]
    [InlineData(20261129)]
    public void HeadNet_matches_the_reference_at_every_layer(int seed)
    {
        var model = new HeadNet();
        var sd = RandomWeights.For(model, seed);
        model.LoadWeights(sd);
        var input = RandomWeights.Input(HeadNet.InputLength, seed + 1);
        var taps = new TapRecorder();
        model.Forward(input, new float[HeadNet.OutputLength], taps);

        var p = RandomWeights.Lookup(sd);
        const double eps = 1e-5;
        var x = new T(6, 12, 20, input.Select(v => (double)v).ToArray());
        var expected = new Dictionary<string, T>();
        var psp = expected["psp"] = RefHeads.PspPool(x, p, "psp", 7, 4, eps);
        var gate = expected["gate"] = RefHeads.GatedConv(psp, p, "gate", 14, eps);
        var pyr = expected["pyr"] = RefHeads.PyramidPool(gate, p, "pyr", 3, 9, lastBr: true, eps);
        var up = expected["up"] = RefHeads.Bilinear(pyr, 24, 40);
        var last = expected["last"] = RefHeads.PyramidPool(up, p, "last", 2, 5, lastBr: false, eps);
        expected["out"] = RefHeads.Bilinear(last, 12, 20);
        foreach (var (name, t) in expected)
            Compare.AssertClose(taps.Values[name], t.D, name, seedNote: $"seed {seed}");
    }
}

/// <summary>Rows wider than one stack chunk of the convolution and resize kernels.</summary>
public sealed class WideRowTests
{
    [Fact]
    public void Rows_wider_than_4096_columns_match_the_reference()
    {
        const int seed = 5;
        var model = new WideRowNet();
        var sd = RandomWeights.For(model, seed);
        model.LoadWeights(sd);
        var input = RandomWeights.Input(WideRowNet.InputLength, seed + 1);
        var taps = new TapRecorder();
        model.Forward(input, new float[WideRowNet.OutputLength], taps);
        var p = RandomWeights.Lookup(sd);
        var x = new T(2, 3, 9001, input.Select(v => (double)v).ToArray());
        var wide = Ref.PRelu(Ref.Bn(Ref.Conv(x, p("wide.conv.weight"), 3, 3, dilation: 2), p, "wide.bn.", 1e-3), p("wide.act.weight"));
        var half = Ref.Conv(wide, p("half.conv.weight"), 2, 3, stride: 2);
        Compare.AssertClose(taps.Values["wide"], wide.D, "wide", seedNote: $"seed {seed}");
        Compare.AssertClose(taps.Values["half"], half.D, "half", seedNote: $"seed {seed}");
        Compare.AssertClose(taps.Values["back"], RefHeads.Bilinear(half, 3, 9001).D, "back", seedNote: $"seed {seed}");
    }
}
