using Espnet.Compiled.Tests.Support;
using Espnet.Compiled.Weights;

namespace Espnet.Compiled.Tests.RealWeights;

/// <summary>EdgeNets ESPNetv2 segmentation s=2.0 with its released Cityscapes weights against the authors' PyTorch tensors.</summary>
public sealed class EdgeNetsReferenceTests(ITestOutputHelper output)
{
    private const string Prefix = "reference/edgenets_espnetv2seg_s2.0_city_1024x512__synth64x128__";

    public static TheoryData<string> Tensors => new()
    {
        "base_net.level1", "base_net.level2_0", "base_net.level3_0", "base_net.level4_0",
        "bu_dec_l1", "merge_enc_dec_l2", "bu_dec_l2", "merge_enc_dec_l3", "bu_dec_l3", "merge_enc_dec_l4", "bu_dec_l4", "out",
    };

    private static readonly Lazy<Dictionary<string, float[]>> Run = new(() =>
    {
        var model = new EdgeNetsS20CityAt64x128();
        model.LoadWeights(PthReader.Read(SharedData.Require("weights/EdgeNets/model/segmentation/model_zoo/espnetv2/espnetv2_s_2.0_city_1024x512.pth")));
        float[] input = SharedData.ReadF32(SharedData.Require("reference/synth_input_1x3x64x128.f32"));
        var taps = new TapRecorder();
        var result = new float[EdgeNetsS20CityAt64x128.OutputLength];
        model.Forward(input, result, taps);
        Assert.Equal(result, taps.Values["out"]);
        return taps.Values;
    });

    [Theory]
    [MemberData(nameof(Tensors))]
    public void Matches_the_authors_tensor(string name)
    {
        float[] expected = SharedData.ReadF32(SharedData.Require(Prefix + name + ".f32"));
        Assert.True(Run.Value.ContainsKey(name), $"no layer named {name}");
        double worst = Compare.AssertClose(Run.Value[name], expected, name);
        output.WriteLine($"{name}: max relative error {worst:E2} over {expected.Length} values");
    }
}
