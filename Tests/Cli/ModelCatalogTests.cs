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
    [InlineData("espnetv2-s1.0")]
    [InlineData("espnet-p2-q99999")]
    public void Other_names_are_refused(string name) =>
        Assert.Throws<ModelNameException>(() => ModelCatalog.Parse(name));
}
