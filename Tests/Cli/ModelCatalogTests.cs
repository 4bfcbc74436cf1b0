using Espnet.Compiled.Zoo;

namespace Espnet.Compiled.Tests.Cli;

/// <summary>The model-name grammar of design.md §4 and the declarations it maps to.</summary>
public sealed class ModelCatalogTests
{
    [Theory]
    [InlineData("espnet-c-p2-q8", ModelFamily.EspNetC, 20, EspNetDecoderSkip.Level1, 512, 1024)]
    [InlineData("espnet-p2-q3", ModelFamily.EspNet, 20, EspNetDecoderSkip.Level1, 512, 1024)]
    [InlineData("espnet-p2-q8-camvid", ModelFamily.EspNet, 12, EspNetDecoderSkip.Reinforced, 360, 480)]
    public void Names_resolve_to_the_published_configuration(string name, ModelFamily family, int classes, EspNetDecoderSkip skip, int height, int width)
    {
        var request = ModelCatalog.Parse(name);

        Assert.Equal(new ModelRequest(family, 2, name.Contains("q3") ? 3 : 8, classes, skip, height, width), request);
        Assert.Equal(name, request.Name);
        Assert.NotNull(ModelCatalog.CreatePrecompiled(request));
    }

    [Fact]
    public void A_request_the_zoo_lacks_has_a_declaration_for_the_generator_and_no_precompiled_class()
    {
        var request = ModelCatalog.Parse("espnet-p2-q3", height: 64, width: 128);

        Assert.Null(ModelCatalog.CreatePrecompiled(request));
        Assert.Equal("[global::Espnet.Compiled.EspNet(Classes = 20, P = 2, Q = 3, Height = 64, Width = 128, " +
                     "Skip = global::Espnet.Compiled.EspNetDecoderSkip.Level1)]", ModelCatalog.Declaration(request));
        Assert.Equal("EspNetP2Q3C20At64x128", ModelCatalog.ClassName(request));
    }

    [Fact]
    public void Classes_override_is_part_of_the_request()
    {
        var request = ModelCatalog.Parse("espnet-p2-q8-camvid", classes: 20);

        Assert.Equal(20, request.Classes);
        Assert.Equal(EspNetDecoderSkip.Reinforced, request.Skip);
        Assert.Null(ModelCatalog.CreatePrecompiled(request));
        Assert.Equal("espnet-p2-q8-camvid (20 classes) at 360x480", request.Label);
    }

    [Theory]
    [InlineData("espnet-p2")]
    [InlineData("espnet-c-p2-q8-camvid")]
    [InlineData("espnet-p2-q99999")]
    [InlineData("espnetv2")]
    [InlineData("espnetv2-s")]
    [InlineData("espnetv2-s1")]          // the contract spells 1.0
    [InlineData("espnetv2-s1.00")]
    [InlineData("espnetv2-s1.0-city")]   // the classifier takes no dataset
    [InlineData("espnetv2-seg-s1.0")]    // the EdgeNets head needs one
    [InlineData("espnetv2-seg-s1.0-camvid")]
    [InlineData("espnetv2-seg-old-s1.0-city")]
    [InlineData("espnetv2-seg-old")]
    public void Other_names_are_refused(string name) =>
        Assert.Throws<ModelNameException>(() => ModelCatalog.Parse(name));

    // ESPNetv2 (design.md §4): espnetv2-s{0.5,1.0,1.25,1.5,2.0}, espnetv2-seg-s{0.5,1.0,1.5,2.0}-{city,pascal},
    // espnetv2-seg-old-s{0.5,1.0,1.5}.

    [Theory]
    [InlineData("espnetv2-s0.5", 0.5, "EspNetV2S05")]
    [InlineData("espnetv2-s1.0", 1.0, "EspNetV2S10")]
    [InlineData("espnetv2-s1.25", 1.25, "EspNetV2S125")]
    [InlineData("espnetv2-s1.5", 1.5, "EspNetV2S15")]
    [InlineData("espnetv2-s2.0", 2.0, "EspNetV2S20")]
    public void Classifier_names_resolve_to_1000_classes_at_224_and_the_precompiled_zoo_class(string name, double scale, string zooClass)
    {
        var request = ModelCatalog.Parse(name);

        Assert.Equal(new ModelRequest(ModelFamily.EspNetV2, 0, 0, 1000, EspNetDecoderSkip.Level1, 224, 224) { Scale = scale }, request);
        Assert.Equal(name, request.Name);
        Assert.Equal($"{name} at 224x224", request.Label);
        Assert.Equal($"[global::Espnet.Compiled.EspNetV2(Scale = {name["espnetv2-s".Length..]}, Classes = 1000, Height = 224, Width = 224)]",
            ModelCatalog.Declaration(request));
        Assert.Equal("Espnet.Compiled.Zoo." + zooClass, ModelCatalog.PrecompiledType(request)?.FullName);
        Assert.IsType(ModelCatalog.PrecompiledType(request)!, ModelCatalog.CreatePrecompiled(request));
    }

    [Theory]
    [InlineData("espnetv2-seg-s0.5-city", 0.5, SegmentationDataset.City, 20, 512, 1024)]
    [InlineData("espnetv2-seg-s1.0-city", 1.0, SegmentationDataset.City, 20, 512, 1024)]
    [InlineData("espnetv2-seg-s1.5-city", 1.5, SegmentationDataset.City, 20, 512, 1024)]
    [InlineData("espnetv2-seg-s2.0-city", 2.0, SegmentationDataset.City, 20, 512, 1024)]
    [InlineData("espnetv2-seg-s0.5-pascal", 0.5, SegmentationDataset.Pascal, 21, 384, 384)]
    [InlineData("espnetv2-seg-s1.0-pascal", 1.0, SegmentationDataset.Pascal, 21, 384, 384)]
    [InlineData("espnetv2-seg-s1.5-pascal", 1.5, SegmentationDataset.Pascal, 21, 384, 384)]
    [InlineData("espnetv2-seg-s2.0-pascal", 2.0, SegmentationDataset.Pascal, 21, 384, 384)]
    public void EdgeNets_segmentation_names_resolve_to_their_dataset_defaults(string name, double scale, SegmentationDataset dataset,
        int classes, int height, int width)
    {
        var request = ModelCatalog.Parse(name);

        Assert.Equal(new ModelRequest(ModelFamily.EspNetV2Segmentation, 0, 0, classes, EspNetDecoderSkip.Level1, height, width)
        { Scale = scale, Head = EspNetV2Head.EdgeNets, Dataset = dataset }, request);
        Assert.Equal(name, request.Name);
        Assert.Equal(classes, request.DefaultClasses);
        string s = name.Split('-')[2][1..];
        Assert.Equal($"[global::Espnet.Compiled.EspNetV2Segmentation(Scale = {s}, Classes = {classes}, Height = {height}, Width = {width}, " +
                     "Head = global::Espnet.Compiled.EspNetV2Head.EdgeNets)]", ModelCatalog.Declaration(request));
        AssertPrecompiledMatches(request);
    }

    [Theory]
    [InlineData("espnetv2-seg-old-s0.5", 0.5)]
    [InlineData("espnetv2-seg-old-s1.0", 1.0)]
    [InlineData("espnetv2-seg-old-s1.5", 1.5)]
    public void Old_segmentation_names_resolve_to_the_psp_head_with_20_classes_at_512x1024(string name, double scale)
    {
        var request = ModelCatalog.Parse(name);

        Assert.Equal(new ModelRequest(ModelFamily.EspNetV2Segmentation, 0, 0, 20, EspNetDecoderSkip.Level1, 512, 1024)
        { Scale = scale, Head = EspNetV2Head.Psp }, request);
        Assert.Equal(name, request.Name);
        Assert.Equal($"[global::Espnet.Compiled.EspNetV2Segmentation(Scale = {name[^3..]}, Classes = 20, Height = 512, Width = 1024, " +
                     "Head = global::Espnet.Compiled.EspNetV2Head.Psp)]", ModelCatalog.Declaration(request));
        Assert.Equal($"EspNetV2SegOldS{name[^3..].Replace(".", "")}C20At512x1024", ModelCatalog.ClassName(request));
        AssertPrecompiledMatches(request);
    }

    [Theory]
    [InlineData("espnetv2-s1.75", "valid scales: 0.5, 1.0, 1.25, 1.5, 2.0")]
    [InlineData("espnetv2-seg-s1.25-city", "valid scales: 0.5, 1.0, 1.5, 2.0")]
    [InlineData("espnetv2-seg-s1.25-pascal", "valid scales: 0.5, 1.0, 1.5, 2.0")]
    [InlineData("espnetv2-seg-old-s2.0", "valid scales: 0.5, 1.0, 1.5")]
    [InlineData("espnetv2-seg-old-s1.25", "valid scales: 0.5, 1.0, 1.5")]
    [InlineData("espnetv2-s1", "valid scales: 0.5, 1.0, 1.25, 1.5, 2.0")]
    public void A_scale_outside_the_family_is_refused_with_the_valid_ones(string name, string expected)
    {
        var e = Assert.Throws<ModelNameException>(() => ModelCatalog.Parse(name));
        Assert.Contains(expected, e.Message);
        Assert.Contains($"'{name}'", e.Message);
    }

    [Fact]
    public void Names_are_case_insensitive_and_come_back_canonical()
    {
        Assert.Equal("espnetv2-seg-s2.0-pascal", ModelCatalog.Parse("ESPNetv2-Seg-S2.0-Pascal").Name);
        Assert.Equal("espnetv2-seg-old-s1.0", ModelCatalog.Parse("  ESPNETV2-SEG-OLD-S1.0 ").Name);
    }

    [Fact]
    public void The_name_is_no_part_of_the_network_city_with_21_classes_at_384_is_pascal()
    {
        var city = ModelCatalog.Parse("espnetv2-seg-s2.0-city", classes: 21, height: 384, width: 384);
        var pascal = ModelCatalog.Parse("espnetv2-seg-s2.0-pascal");

        Assert.NotEqual(city, pascal); // the names differ ...
        Assert.Equal(ModelCatalog.Declaration(pascal), ModelCatalog.Declaration(city)); // ... the network does not
        Assert.Equal(ModelCatalog.ClassName(pascal), ModelCatalog.ClassName(city));     // so it is compiled and cached once
        Assert.Equal(ModelCatalog.PrecompiledType(pascal), ModelCatalog.PrecompiledType(city));
        Assert.Equal("espnetv2-seg-s2.0-city (21 classes) at 384x384", city.Label);
        Assert.Equal("espnetv2-seg-s2.0-pascal at 384x384", pascal.Label);
    }

    [Fact]
    public void Classifier_overrides_leave_the_zoo_and_name_a_class_of_their_own()
    {
        var request = ModelCatalog.Parse("espnetv2-s1.25", classes: 10, height: 96, width: 160);

        Assert.Null(ModelCatalog.CreatePrecompiled(request));
        Assert.Equal("[global::Espnet.Compiled.EspNetV2(Scale = 1.25, Classes = 10, Height = 96, Width = 160)]", ModelCatalog.Declaration(request));
        Assert.Equal("EspNetV2S125C10At96x160", ModelCatalog.ClassName(request));
        Assert.Equal("espnetv2-s1.25 (10 classes) at 96x160", request.Label);
    }

    // Every released segmentation model is in the zoo (Definitions/EspNetV2/EspNetV2SegZoo.cs), declared exactly as
    // the request: scale, classes, size, head.
    private static void AssertPrecompiledMatches(ModelRequest request)
    {
        var type = ModelCatalog.PrecompiledType(request);
        Assert.True(type is not null, $"no zoo class for {ModelCatalog.Declaration(request)}");
        Assert.IsType(type, ModelCatalog.CreatePrecompiled(request));
        var a = (EspNetV2SegmentationAttribute)Attribute.GetCustomAttribute(type, typeof(EspNetV2SegmentationAttribute))!;
        Assert.Equal((request.Scale, request.Classes, request.Height, request.Width, request.Head, 1),
                     (a.Scale, a.Classes, a.Height, a.Width, a.Head, a.Batch));
    }
}
