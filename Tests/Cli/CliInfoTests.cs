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

    [Fact]
    public void Info_for_the_espnetv2_classifier_reports_the_published_parameters_and_macs()
    {
        var result = CliHarness.Run("info", "--model", "espnetv2-s1.0");

        Assert.Equal(0, result.Code);
        Assert.Equal("", result.Err);
        Assert.Contains("model        espnetv2-s1.0: ESPNetv2 image classifier (EESPNet, scale 1.0, ImageNet), 1000 classes", result.Out);
        Assert.Contains("declaration  [EspNetV2(Scale = 1.0, Classes = 1000, Height = 224, Width = 224)]", result.Out);
        Assert.Contains("precompiled (Espnet.Compiled.Zoo.EspNetV2S10)", result.Out);
        Assert.Contains("input        1x3x224x224 (150,528 floats)", result.Out);
        Assert.Contains("output       1x1000x1x1 (1,000 floats)", result.Out);
        Assert.Contains("parameters   1,670,072", result.Out);
        Assert.Contains("conv MACs    85.7 M", result.Out);
        Assert.Contains("level5_0", result.Out); // the layer table
    }

    [Fact]
    public void An_espnetv2_classifier_at_another_size_and_class_count_is_compiled_on_first_use()
    {
        var result = CliHarness.Run("info", "--model", "espnetv2-s0.5", "--height", "96", "--width", "160", "--classes", "10");

        Assert.True(result.Code == 0, result.Err);
        Assert.Contains("compiling espnetv2-s0.5 for 96x160 with 10 classes (first use, cached afterwards)...", result.Err);
        Assert.Contains("declaration  [EspNetV2(Scale = 0.5, Classes = 10, Height = 96, Width = 160)]", result.Out);
        Assert.Contains("1x3x96x160", result.Out);
        Assert.Contains("output       1x10x1x1 (10 floats)", result.Out);
        Assert.Single(Directory.GetFiles(CliHarness.CacheDirectory, "EspNetV2S05C10At96x160-*.dll"));
    }

    [Theory]
    [InlineData("espnet-c-p2-q3")]
    [InlineData("espnet-p2-q8")]
    [InlineData("espnet-p2-q8-camvid")]
    [InlineData("espnetv2-s0.5")]
    [InlineData("espnetv2-s1.0")]
    [InlineData("espnetv2-s1.25")]
    [InlineData("espnetv2-s1.5")]
    [InlineData("espnetv2-s2.0")]
    public void Every_published_default_is_served_precompiled(string model)
    {
        var result = CliHarness.Run("info", "--model", model);

        Assert.True(result.Code == 0, result.Err);
        Assert.Contains("precompiled (Espnet.Compiled.Zoo.", result.Out);
        Assert.Equal("", result.Err);
    }
}
