namespace Espnet.Compiled.Tests.Cli;

public sealed class CliInfoTests
{
    [Fact]
    public void Info_for_a_precompiled_model_reports_the_published_parameter_count()
    {
        var result = CliHarness.Run("info", "--model", "espnet-p2-q3");

        Assert.Equal(0, result.Code);
        Assert.Equal("", result.Err);
        Assert.Contains("parameters   202,649", result.Out);
        Assert.Contains("1x3x512x1024", result.Out);
        Assert.Contains("1x20x512x1024", result.Out);
        Assert.Contains("precompiled (Espnet.Compiled.Zoo.EspNetP2Q3)", result.Out);
        Assert.Contains("Skip = EspNetDecoderSkip.Level1", result.Out);
        Assert.Contains("encoder.level3.2", result.Out); // the layer table
    }

    [Fact]
    public void Info_at_a_size_the_zoo_lacks_compiles_it_through_the_generator_and_caches_it()
    {
        var result = CliHarness.Run("info", "--model", "espnet-c-p2-q8", "--height", "64", "--width", "128");

        Assert.True(result.Code == 0, result.Err);
        Assert.Contains("parameters   349,449", result.Out);
        Assert.Contains("1x3x64x128", result.Out);
        Assert.Contains("1x20x8x16", result.Out);
        Assert.Contains("compiling espnet-c-p2-q8 for 64x128 (first use, cached afterwards)...", result.Err);
        Assert.Single(Directory.GetFiles(CliHarness.CacheDirectory, "EspNetCP2Q8C20At64x128-*.dll"));
    }

    [Theory]
    [InlineData("espnet-c-p2-q3")]
    [InlineData("espnet-p2-q8")]
    [InlineData("espnet-p2-q8-camvid")]
    public void Every_published_default_is_served_precompiled(string model)
    {
        var result = CliHarness.Run("info", "--model", model);

        Assert.True(result.Code == 0, result.Err);
        Assert.Contains("precompiled (Espnet.Compiled.Zoo.", result.Out);
        Assert.Equal("", result.Err);
    }
}
