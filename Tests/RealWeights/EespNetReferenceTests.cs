using Espnet.Compiled.Tests.Support;
using Espnet.Compiled.Weights;
using Espnet.Compiled.Zoo;

namespace Espnet.Compiled.Tests.RealWeights;

[EspNetV2(Scale = 1.0, Classes = 1000, Height = 224, Width = 224)]
public sealed partial class EespNetS10At224;

/// <summary>
/// ESPNetv2 (EESPNet, s = 1.0) with the seeded random weights of espnet-reference.md §11.2 against the authors'
/// PyTorch logits and DownSampler outputs on the 224x224 synthetic input.
/// </summary>
public sealed class EespNetReferenceTests(ITestOutputHelper output)
{
    private const string Prefix = "reference/eespnet_s1.0_random__synth224__";

    public static TheoryData<string> Intermediates => new() { "level1", "level2_0", "level3_0", "level4_0", "level5_0" };

    private static readonly Lazy<(Dictionary<string, float[]> Taps, float[] Logits, int FileTensors)> Run = new(() =>
    {
        var model = new EespNetS10At224();
        var sd = PthReader.Read(SharedData.Require("reference/eespnet_s1.0_random_weights_legacy.pth"));
        model.LoadWeights(sd);
        float[] input = SharedData.ReadF32(SharedData.Require("reference/synth_input_1x3x224x224.f32"));
        var taps = new TapRecorder();
        var logits = new float[EespNetS10At224.OutputLength];
        model.Forward(input, logits, taps);
        return (taps.Values, logits, sd.Count);
    });

    [Fact]
    public void The_weights_file_loads_strictly_into_every_slot()
    {
        var (_, _, fileTensors) = Run.Value;
        var model = new EespNetS10At224();
        int batchNorms = model.Parameters.Count(p => p.Role == ParameterRole.RunningMean);
        // 487 tensors = our slots + one num_batches_tracked per BatchNorm (espnet-reference.md §11.2).
        Assert.Equal(487, fileTensors);
        Assert.Equal(fileTensors, model.Parameters.Count + batchNorms);
        Assert.Equal(1_694_016, model.Parameters.Sum(p => (long)p.Elements));
    }

    [Fact]
    public void A_file_for_another_scale_names_the_misshaped_keys_and_changes_nothing()
    {
        var model = new EspNetV2S05();
        var before = model.Store.ToArray();
        var sd = PthReader.Read(SharedData.Require("reference/eespnet_s1.0_random_weights_legacy.pth"));
        var error = Assert.Throws<WeightLoadException>(() => model.LoadWeights(sd));
        Assert.Contains("level1.conv.weight (model [16, 3, 3, 3], file [32, 3, 3, 3])", error.Message);
        Assert.DoesNotContain("missing", error.Message);
        Assert.Equal(before, model.Store.ToArray());
    }

    [Theory]
    [MemberData(nameof(Intermediates))]
    public void Matches_the_authors_intermediate(string layer)
    {
        float[] expected = SharedData.ReadF32(SharedData.Require(Prefix + layer + ".f32"));
        var (taps, _, _) = Run.Value;
        Assert.True(taps.ContainsKey(layer), $"no layer named {layer}");
        double worst = Compare.AssertClose(taps[layer], expected, layer);
        output.WriteLine($"{layer}: max relative error {worst:E2} over {expected.Length} values");
    }

    [Fact]
    public void Logits_match_the_authors_and_the_top_class_agrees()
    {
        float[] expected = SharedData.ReadF32(SharedData.Require(Prefix + "logits.f32"));
        var (taps, logits, _) = Run.Value;
        double worst = Compare.AssertClose(logits, expected, "logits");
        Assert.Equal(taps["classifier"], logits);
        Assert.Equal(Array.IndexOf(expected, expected.Max()), Array.IndexOf(logits, logits.Max()));
        output.WriteLine($"logits: max relative error {worst:E2} over {expected.Length} values");
    }
}
