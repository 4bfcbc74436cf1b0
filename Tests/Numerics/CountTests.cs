using Espnet.Compiled.Zoo;

namespace Espnet.Compiled.Tests.Numerics;

/// <summary>Parameter and multiply-accumulate counts against the authors' figures (espnet-reference.md §2).</summary>
public sealed class CountTests
{
    [Fact]
    public void Parameter_counts_equal_the_authors()
    {
        Assert.Equal(187_529, EspNetCP2Q3.ParameterTotal);
        Assert.Equal(252_297, EspNetCP2Q5.ParameterTotal);
        Assert.Equal(349_449, EspNetCP2Q8.ParameterTotal);
        Assert.Equal(202_649, EspNetP2Q3.ParameterTotal);
        Assert.Equal(267_417, EspNetP2Q5.ParameterTotal);
        Assert.Equal(364_569, EspNetP2Q8.ParameterTotal);
        Assert.Equal(354_517, EspNetP2Q8CamVid.ParameterTotal);
    }

    [Fact]
    public void Parameter_count_does_not_depend_on_the_input_size() =>
        Assert.Equal(EspNetP2Q8.ParameterTotal, EspNetP2Q8At224.ParameterTotal);

    [Theory]
    [InlineData("p2q8", 424.37, 0.005)]
    [InlineData("p2q5", 349.1, 0.05)]
    [InlineData("p2q3", 298.9, 0.05)]
    [InlineData("c-p2q8", 332.1, 0.05)]
    public void Conv_MACs_at_224_equal_the_authors(string model, double millions, double halfLastDigit)
    {
        long macs = model switch
        {
            "p2q8" => EspNetP2Q8At224.MacTotal,
            "p2q5" => EspNetP2Q5At224.MacTotal,
            "p2q3" => EspNetP2Q3At224.MacTotal,
            _ => EspNetCP2Q8At224.MacTotal,
        };
        Assert.InRange(macs / 1e6, millions - halfLastDigit, millions + halfLastDigit);
    }

    [Fact]
    public void Transposed_convolutions_are_counted_apart_as_the_authors_do() =>
        // espnet-reference.md §2.4: p2q8 at 224x224 has +26.3 M MACs in transposed convolutions.
        Assert.InRange(EspNetP2Q8At224.TransposedMacTotal / 1e6, 26.25, 26.35);

    [Fact]
    public void Conv_MACs_at_1024x512_equal_the_authors()
    {
        Assert.InRange(EspNetP2Q8.MacTotal / 1e6, 4433.5, 4434.5);
        Assert.InRange(EspNetCP2Q8.MacTotal / 1e6, 3469.5, 3470.5);
    }

    // espnet-reference.md §4.3: parameters and conv MACs at 224x224 (the fully-connected layer is not counted).
    [Theory]
    [InlineData("0.5", 1_241_332, 28.376)]
    [InlineData("1.0", 1_670_072, 85.720)]
    [InlineData("1.25", 1_965_440, 123.399)]
    [InlineData("1.5", 2_314_856, 168.605)]
    [InlineData("2.0", 3_498_136, 284.806)]
    public void EspNetV2_parameters_and_MACs_equal_the_authors(string scale, long parameters, double megaMacs)
    {
        (long p, long macs) = scale switch
        {
            "0.5" => (EspNetV2S05.ParameterTotal, EspNetV2S05.MacTotal),
            "1.0" => (EspNetV2S10.ParameterTotal, EspNetV2S10.MacTotal),
            "1.25" => (EspNetV2S125.ParameterTotal, EspNetV2S125.MacTotal),
            "1.5" => (EspNetV2S15.ParameterTotal, EspNetV2S15.MacTotal),
            _ => (EspNetV2S20.ParameterTotal, EspNetV2S20.MacTotal),
        };
        Assert.Equal(parameters, p);
        Assert.InRange(macs / 1e6, megaMacs - 0.0005, megaMacs + 0.0005);
    }

    [Fact]
    public void EspNetV2_per_level_parameters_equal_the_authors()
    {
        // espnet-reference.md §4.3, s = 1.0: level1, level2_0, level3_0, level3, level4_0, level4, level5_0, level5, classifier.
        var layers = new EspNetV2S10().Layers;
        long Level(string prefix) => layers.Where(l => l.Name == prefix || l.Name.StartsWith(prefix + ".")).Sum(l => l.Parameters);
        Assert.Equal(new long[] { 960, 1_298, 3_146, 21_408, 8_762, 171_584, 27_674, 410_240, 1_025_000 },
            new[] { "level1", "level2_0", "level3_0", "level3", "level4_0", "level4", "level5_0", "level5", "classifier" }.Select(Level).ToArray());
    }
}
