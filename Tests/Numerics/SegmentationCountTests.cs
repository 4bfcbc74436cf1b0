using Espnet.Compiled.Zoo;

namespace Espnet.Compiled.Tests.Numerics;

/// <summary>ESPNetv2 segmentation parameter and MAC counts against the authors' figures (espnet-reference.md §5).</summary>
public sealed class SegmentationCountTests
{
    [Fact]
    public void EdgeNets_parameter_counts_equal_the_authors()
    {
        Assert.Equal(80_342, EspNetV2SegS05City.ParameterTotal);
        Assert.Equal(234_010, EspNetV2SegS10City.ParameterTotal);
        Assert.Equal(468_362, EspNetV2SegS15City.ParameterTotal);
        Assert.Equal(789_242, EspNetV2SegS20City.ParameterTotal);
        // PASCAL: 21 classes, 11 more parameters each (one more output of the last 1x1, its bias).
        Assert.Equal(80_353, EspNetV2SegS05Pascal.ParameterTotal);
        Assert.Equal(234_021, EspNetV2SegS10Pascal.ParameterTotal);
        Assert.Equal(468_373, EspNetV2SegS15Pascal.ParameterTotal);
        Assert.Equal(789_253, EspNetV2SegS20Pascal.ParameterTotal);
    }

    [Fact]
    public void Older_PSP_head_parameter_counts_equal_the_authors()
    {
        Assert.Equal(99_418, EspNetV2SegOldS05.ParameterTotal);
        Assert.Equal(340_782, EspNetV2SegOldS10.ParameterTotal);
        Assert.Equal(725_166, EspNetV2SegOldS15.ParameterTotal);
    }

    [Fact]
    public void EdgeNets_MACs_equal_the_authors_counter()
    {
        // The authors' counter adds one MAC per output element for the last conv's bias (§5.1.3).
        Assert.InRange(EdgeNetsS20At256x512.MacTotal / 1e6, 675.105, 675.115);
        Assert.InRange(EdgeNetsS05At256x512.MacTotal / 1e6, 149.725, 149.735);
        Assert.InRange(EspNetV2SegS20City.MacTotal / 1e6, 2700.355, 2700.365);
    }

    [Fact]
    public void Older_PSP_head_MACs_at_224_equal_the_authors()
    {
        Assert.InRange(PspHeadS05At224.MacTotal / 1e6, 54.005, 54.015);
        Assert.InRange(PspHeadS15At224.MacTotal / 1e6, 321.675, 321.685);
    }
}
