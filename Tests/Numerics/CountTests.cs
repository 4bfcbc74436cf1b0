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
}
