using Espnet.Compiled.Tests.Support;
using Espnet.Compiled.Weights;
using Espnet.Compiled.Zoo;

namespace Espnet.Compiled.Tests.RealWeights;

/// <summary>Every released ESPNetv2 / EdgeNets file loads strictly into its model; a file for another model is named as such.</summary>
public sealed class SegmentationLoadTests
{
    private const string Zoo = "weights/EdgeNets/model/segmentation/model_zoo/espnetv2/";
    private const string Old = "weights/ESPNetv2/segmentation/pretrained_models/";

    public static TheoryData<string> Files()
    {
        var data = new TheoryData<string>();
        foreach (string s in new[] { "0.5", "1.0", "1.5", "2.0" })
            foreach (string set in new[] { "city_512x256", "city_1024x512", "pascal_256x256", "pascal_384x384" })
                data.Add(Zoo + $"espnetv2_s_{s}_{set}.pth");
        foreach (string s in new[] { "0.5", "1.0", "1.5" }) data.Add(Old + $"espnetv2_segmentation_s_{s}.pth");
        return data;
    }

    private static ICompiledNetwork ModelFor(string file) => Path.GetFileName(file) switch
    {
        var f when f.StartsWith("espnetv2_segmentation_s_0.5") => new EspNetV2SegOldS05(),
        var f when f.StartsWith("espnetv2_segmentation_s_1.0") => new EspNetV2SegOldS10(),
        var f when f.StartsWith("espnetv2_segmentation_s_1.5") => new EspNetV2SegOldS15(),
        var f when f.Contains("0.5_city") => new EspNetV2SegS05City(),
        var f when f.Contains("1.0_city") => new EspNetV2SegS10City(),
        var f when f.Contains("1.5_city") => new EspNetV2SegS15City(),
        var f when f.Contains("2.0_city") => new EspNetV2SegS20City(),
        var f when f.Contains("0.5_pascal") => new EspNetV2SegS05Pascal(),
        var f when f.Contains("1.0_pascal") => new EspNetV2SegS10Pascal(),
        var f when f.Contains("1.5_pascal") => new EspNetV2SegS15Pascal(),
        _ => new EspNetV2SegS20Pascal(),
    };

    [Theory]
    [MemberData(nameof(Files))]
    public void Every_released_file_loads_with_no_missing_or_unexpected_key(string file)
    {
        var model = ModelFor(file);
        var stateDict = PthReader.Read(SharedData.Require(file));
        model.LoadWeights(stateDict);
        int counters = stateDict.Keys.Count(k => k.EndsWith("num_batches_tracked"));
        Assert.Equal(model.Parameters.Count, stateDict.Count - counters);
    }

    [Fact]
    public void A_file_for_another_scale_names_the_expected_and_found_shapes_and_loads_nothing()
    {
        var model = new EspNetV2SegS10City();
        var before = model.Store.ToArray();
        var other = PthReader.Read(SharedData.Require(Zoo + "espnetv2_s_2.0_city_1024x512.pth"));
        var error = Assert.Throws<WeightLoadException>(() => model.LoadWeights(other));
        Assert.Contains("wrong shape (base_net.level2_0.eesp.proj_1x1.conv.weight (model [8, 8, 1, 1], file [24, 8, 1, 1])", error.Message);
        Assert.Contains("(model [", error.Message);
        Assert.Contains(", file [", error.Message);
        Assert.Equal(before, model.Store.ToArray());
    }

    [Fact]
    public void A_file_for_another_dataset_is_named_by_its_class_count()
    {
        var pascal = PthReader.Read(SharedData.Require(Zoo + "espnetv2_s_1.0_pascal_384x384.pth"));
        var error = Assert.Throws<WeightLoadException>(() => new EspNetV2SegS10City().LoadWeights(pascal));
        Assert.Contains("bu_dec_l4.merge_layer.3.weight (model [20, 10, 1, 1], file [21, 10, 1, 1])", error.Message);
    }
}
