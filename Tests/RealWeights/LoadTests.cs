using Espnet.Compiled.Tests.Numerics;
using Espnet.Compiled.Tests.Support;
using Espnet.Compiled.Weights;
using Espnet.Compiled.Zoo;

namespace Espnet.Compiled.Tests.RealWeights;

/// <summary>The authors' released ESPNet files load strictly into their models; misfits are named, not half-loaded.</summary>
public sealed class LoadTests
{
    private const string Decoder = "weights/ESPNet/pretrained/decoder/";
    private const string Encoder = "weights/ESPNet/pretrained/encoder/";

    public static TheoryData<string, string> Releases => new()
    {
        { Decoder + "espnet_p_2_q_3.pth", nameof(EspNetP2Q3) },
        { Decoder + "espnet_p_2_q_5.pth", nameof(EspNetP2Q5) },
        { Decoder + "espnet_p_2_q_8.pth", nameof(EspNetP2Q8) },
        { Decoder + "espnet_p_2_q_8_camvid.pth", nameof(EspNetP2Q8CamVid) },
        { Encoder + "espnet_p_2_q_3.pth", nameof(EspNetCP2Q3) },
        { Encoder + "espnet_p_2_q_5.pth", nameof(EspNetCP2Q5) },
        { Encoder + "espnet_p_2_q_8.pth", nameof(EspNetCP2Q8) },
    };

    private static ICompiledNetwork Create(string name) => name switch
    {
        nameof(EspNetP2Q3) => new EspNetP2Q3(),
        nameof(EspNetP2Q5) => new EspNetP2Q5(),
        nameof(EspNetP2Q8) => new EspNetP2Q8(),
        nameof(EspNetP2Q8CamVid) => new EspNetP2Q8CamVid(),
        nameof(EspNetCP2Q3) => new EspNetCP2Q3(),
        nameof(EspNetCP2Q5) => new EspNetCP2Q5(),
        _ => new EspNetCP2Q8(),
    };

    [Theory]
    [MemberData(nameof(Releases))]
    public void Every_released_file_loads_with_no_missing_or_unexpected_key(string file, string model)
    {
        var network = Create(model);
        var sd = PthReader.Read(SharedData.Require(file));
        network.LoadWeights(sd);
        Assert.Equal(network.Parameters.Count, sd.Count);
        var first = network.Parameters[0];
        Assert.Contains(sd[first.Key].Values, v => v != 0);
    }

    [Fact]
    public void The_CamVid_file_does_not_fit_the_Cityscapes_variant_and_says_so()
    {
        var sd = PthReader.Read(SharedData.Require(Decoder + "espnet_p_2_q_8_camvid.pth"));
        var error = Assert.Throws<WeightLoadException>(() => new EspNetP2Q8().LoadWeights(sd));
        Assert.Contains("36 wrong shape (encoder.classifier.conv.weight (model [20, 256, 1, 1], file [12, 256, 1, 1])", error.Message);
        Assert.Contains("class count and variant", error.Message);
    }

    [Fact]
    public void A_file_for_another_depth_names_missing_and_unexpected_keys_and_changes_nothing()
    {
        var model = new EspNetP2Q3();
        var before = model.Store.ToArray();
        var sd = PthReader.Read(SharedData.Require(Decoder + "espnet_p_2_q_8.pth"));
        var error = Assert.Throws<WeightLoadException>(() => model.LoadWeights(sd));
        Assert.Contains("unexpected (encoder.level3.3.", error.Message);
        Assert.DoesNotContain("missing", error.Message);
        Assert.Equal(before, model.Store.ToArray());

        var encoderOnly = PthReader.Read(SharedData.Require(Encoder + "espnet_p_2_q_3.pth"));
        error = Assert.Throws<WeightLoadException>(() => model.LoadWeights(encoderOnly));
        Assert.Contains("missing (encoder.level1.conv.weight", error.Message);
    }

    [Fact]
    public void A_data_parallel_module_prefix_is_accepted()
    {
        var model = new OddNet();
        var plain = RandomWeights.For(model, 5);
        var wrapped = new StateDict();
        foreach (string key in plain.Keys) wrapped.Add("module." + key, plain[key]);
        model.LoadWeights(wrapped);
        var slot = model.Parameters[^1];
        Assert.Equal(plain[slot.Key].Values, model.Store.Slice(slot.Offset, slot.Elements).ToArray());
    }

    [Fact]
    public void BatchNorm_step_counters_are_accepted_where_a_BatchNorm_exists()
    {
        var model = new OddNet();
        var sd = RandomWeights.For(model, 6);
        sd.Add("stem.bn.num_batches_tracked", new StoredTensor(Array.Empty<int>(), StoredDType.Int64, new float[] { 3 }));
        model.LoadWeights(sd);
        sd.Add("stem.conv.num_batches_tracked", new StoredTensor(Array.Empty<int>(), StoredDType.Int64, new float[] { 3 }));
        var error = Assert.Throws<WeightLoadException>(() => model.LoadWeights(sd));
        Assert.Contains("1 unexpected (stem.conv.num_batches_tracked)", error.Message);
    }
}
