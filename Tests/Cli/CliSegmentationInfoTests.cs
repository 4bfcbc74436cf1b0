using System.Globalization;
using System.Text.RegularExpressions;
using Espnet.Compiled.Tests.Support;
using Espnet.Compiled.Weights;

namespace Espnet.Compiled.Tests.Cli;

/// <summary>`espnet info` for the ESPNetv2 segmentation names: the published shapes, and as many parameters as
/// the authors' released file has learnable values (BN running statistics are buffers, not parameters).</summary>
public sealed class CliSegmentationInfoTests
{
    private const string EdgeNets = "weights/EdgeNets/model/segmentation/model_zoo/espnetv2/";
    private const string Old = "weights/ESPNetv2/segmentation/pretrained_models/";

    [Theory]
    [InlineData("espnetv2-seg-s0.5-city", EdgeNets + "espnetv2_s_0.5_city_1024x512.pth", "1x3x512x1024", "1x20x512x1024", "EdgeNets")]
    [InlineData("espnetv2-seg-s1.0-city", EdgeNets + "espnetv2_s_1.0_city_1024x512.pth", "1x3x512x1024", "1x20x512x1024", "EdgeNets")]
    [InlineData("espnetv2-seg-s1.5-city", EdgeNets + "espnetv2_s_1.5_city_1024x512.pth", "1x3x512x1024", "1x20x512x1024", "EdgeNets")]
    [InlineData("espnetv2-seg-s2.0-city", EdgeNets + "espnetv2_s_2.0_city_1024x512.pth", "1x3x512x1024", "1x20x512x1024", "EdgeNets")]
    [InlineData("espnetv2-seg-s0.5-pascal", EdgeNets + "espnetv2_s_0.5_pascal_384x384.pth", "1x3x384x384", "1x21x384x384", "EdgeNets")]
    [InlineData("espnetv2-seg-s1.0-pascal", EdgeNets + "espnetv2_s_1.0_pascal_384x384.pth", "1x3x384x384", "1x21x384x384", "EdgeNets")]
    [InlineData("espnetv2-seg-s1.5-pascal", EdgeNets + "espnetv2_s_1.5_pascal_384x384.pth", "1x3x384x384", "1x21x384x384", "EdgeNets")]
    [InlineData("espnetv2-seg-s2.0-pascal", EdgeNets + "espnetv2_s_2.0_pascal_384x384.pth", "1x3x384x384", "1x21x384x384", "EdgeNets")]
    [InlineData("espnetv2-seg-old-s0.5", Old + "espnetv2_segmentation_s_0.5.pth", "1x3x512x1024", "1x20x512x1024", "Psp")]
    [InlineData("espnetv2-seg-old-s1.0", Old + "espnetv2_segmentation_s_1.0.pth", "1x3x512x1024", "1x20x512x1024", "Psp")]
    [InlineData("espnetv2-seg-old-s1.5", Old + "espnetv2_segmentation_s_1.5.pth", "1x3x512x1024", "1x20x512x1024", "Psp")]
    public void Info_reports_the_published_shapes_and_the_released_files_parameter_count(
        string model, string weights, string input, string output, string head)
    {
        // espnetv2-seg-s0.5-city -> EspNetV2SegS05City, espnetv2-seg-old-s1.5 -> EspNetV2SegOldS15 (the zoo's names).
        string zooClass = "EspNetV2Seg" + string.Concat(model["espnetv2-seg-".Length..].Split('-')
            .Select(part => char.ToUpperInvariant(part[0]) + part[1..].Replace(".", "")));
        long expected = LearnableValues(SharedData.Require(weights));

        var result = CliHarness.Run("info", "--model", model);

        Assert.True(result.Code == 0, result.Err);
        Assert.Equal("", result.Err);
        Assert.Contains($"model        {model}: ESPNetv2 segmentation", result.Out);
        Assert.Contains($"compiled     precompiled (Espnet.Compiled.Zoo.{zooClass})", result.Out);
        Assert.Contains($"Head = EspNetV2Head.{head})]", result.Out);
        Assert.Contains($"input        {input} ", result.Out);
        Assert.Contains($"output       {output} ", result.Out);
        Assert.Contains($"parameters   {expected.ToString("N0", CultureInfo.InvariantCulture)}" + "\n", result.Out.Replace("\r\n", "\n"));
    }

    [Theory]
    [InlineData("espnetv2-seg-s1.0-pascal", "EspNetV2SegS10C21At96x160", "1x21x96x160", "EdgeNets")]
    [InlineData("espnetv2-seg-old-s0.5", "EspNetV2SegOldS05C20At96x160", "1x20x96x160", "Psp")]
    public void A_segmentation_model_at_another_size_is_compiled_on_first_use(string model, string className, string output, string head)
    {
        var result = CliHarness.Run("info", "--model", model, "--height", "96", "--width", "160");

        Assert.True(result.Code == 0, result.Err);
        Assert.Contains($"compiling {model} for 96x160 (first use, cached afterwards)...", result.Err);
        Assert.Contains($"Height = 96, Width = 160, Head = EspNetV2Head.{head})]", result.Out);
        Assert.Contains($"output       {output} ", result.Out);
        Assert.Single(Directory.GetFiles(CliHarness.CacheDirectory, className + "-*.dll"));
    }

    [Fact]
    public void City_with_21_classes_at_384x384_is_served_by_the_pascal_zoo_class()
    {
        var result = CliHarness.Run("info", "--model", "espnetv2-seg-s2.0-city", "--classes", "21", "--height", "384", "--width", "384");

        Assert.True(result.Code == 0, result.Err);
        Assert.Equal("", result.Err);
        Assert.Contains("model        espnetv2-seg-s2.0-city: ESPNetv2 segmentation, scale 2.0, EdgeNets head (EfficientPyrPool decoder), Cityscapes, 21 classes", result.Out);
        Assert.Contains("precompiled (Espnet.Compiled.Zoo.EspNetV2SegS20Pascal)", result.Out);
    }

    private static long LearnableValues(string path)
    {
        var state = PthReader.Read(path);
        return state.Keys.Where(k => !Regex.IsMatch(k, @"\.(running_mean|running_var|num_batches_tracked)$"))
                         .Sum(k => (long)state[k].Elements);
    }
}
