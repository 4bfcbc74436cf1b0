using Espnet.Compiled.Tests.Support;
using Espnet.Compiled.Weights;

namespace Espnet.Compiled.Tests.Weights;

/// <summary>
/// The authors' released weights and the reference fixture under shared/data. Expected counts, keys and raw
/// values come from an independent standard-library reading: Tests/Fixtures/scripts/pth_stdlib_summary.py.
/// </summary>
public class RealPthFileTests
{
    private const string P2Q3 = "weights/ESPNet/pretrained/decoder/espnet_p_2_q_3.pth";
    private const string EdgeNetsS2City = "weights/EdgeNets/model/segmentation/model_zoo/espnetv2/espnetv2_s_2.0_city_1024x512.pth";
    private const string EespnetFixture = "reference/eespnet_s1.0_random_weights_legacy.pth";
    private const string OldEspnetv2 = "weights/ESPNetv2/segmentation/pretrained_models/espnetv2_segmentation_s_0.5.pth";

    private static long Elements(StateDict sd, StoredDType dtype) =>
        sd.Keys.Where(k => sd[k].DType == dtype).Sum(k => (long)sd[k].Elements);

    private static uint[] FirstBits(StoredTensor t, int count = 4) =>
        t.Values.Take(count).Select(BitConverter.SingleToUInt32Bits).ToArray();

    [Fact]
    public void Espnet_decoder_p2q3_matches_the_file()
    {
        StateDict sd = PthReader.Read(SharedData.Require(P2Q3));

        Assert.Equal(134, sd.Count);
        Assert.Equal(205_141, Elements(sd, StoredDType.Float32));
        Assert.All(sd.Keys, k => Assert.Equal(StoredDType.Float32, sd[k].DType));
        Assert.Equal(["encoder.level1.conv.weight", "encoder.level1.bn.weight", "encoder.level1.bn.bias"], sd.Keys.Take(3));
        Assert.Equal("classifier.weight", sd.Keys[^1]);
        Assert.Equal([16, 3, 3, 3], sd["encoder.level1.conv.weight"].Shape);
        Assert.Equal([20, 36, 3, 3], sd["conv.conv.weight"].Shape);
        Assert.Equal([20, 20, 2, 2], sd["up_l3.0.weight"].Shape);
        Assert.All(sd.Keys, k => Assert.Equal(sd[k].Shape.Aggregate(1, (a, b) => a * b), sd[k].Elements));

        float[] conv1 = sd["encoder.level1.conv.weight"].Values;
        Assert.All(conv1, v => Assert.True(float.IsFinite(v)));
        Assert.Contains(conv1, v => v != 0);
        // -0.061461996, -0.18011270, -0.098448060, -0.10882071 (storage 1162613472, data at byte 32828).
        Assert.Equal([0xBD7BBF93u, 0xBE386F77u, 0xBDC99F23u, 0xBDDEDD64u], FirstBits(sd["encoder.level1.conv.weight"]));
        // The final transposed conv's weights are subnormal (about 4e-41) in the released file: kept bit for bit.
        Assert.Equal([0x0000776Fu, 0x00003616u, 0x800052B7u, 0x0000493Eu], FirstBits(sd["classifier.weight"]));
    }

    [Fact]
    public void Every_shared_weight_file_reads()
    {
        SharedData.Require(P2Q3); // skips (fails under CI) without shared data
        string weights = Path.Combine(SharedData.RootOrNull!, "weights");
        string[] files = Directory.GetFiles(weights, "*.pth", SearchOption.AllDirectories)
            .Append(SharedData.Require(EespnetFixture)).Order(StringComparer.Ordinal).ToArray();

        Assert.Equal(27, files.Length); // 26 released files and the EESPNet fixture
        foreach (string file in files)
        {
            StateDict sd = PthReader.Read(file);
            Assert.True(sd.Count > 90, $"{file}: only {sd.Count} tensors");
            foreach (string key in sd.Keys)
            {
                StoredTensor t = sd[key];
                Assert.Equal(t.Shape.Aggregate(1L, (a, b) => a * b), t.Elements);
                Assert.True(t.DType is StoredDType.Float32 or StoredDType.Int64, $"{file}: {key} is {t.DType}");
                Assert.True(t.DType == StoredDType.Float32 || key.EndsWith(".num_batches_tracked"), $"{file}: {key} is {t.DType}");
            }
        }
    }

    [Fact]
    public void EdgeNets_s2_city_has_526_tensors_with_0_dim_counters()
    {
        StateDict sd = PthReader.Read(SharedData.Require(EdgeNetsS2City));

        Assert.Equal(526, sd.Count);
        Assert.Equal(814_284, Elements(sd, StoredDType.Float32));
        string[] counters = sd.Keys.Where(k => sd[k].DType == StoredDType.Int64).ToArray();
        Assert.Equal(67, counters.Length);
        Assert.All(counters, k =>
        {
            Assert.EndsWith(".num_batches_tracked", k);
            Assert.Empty(sd[k].Shape);
            Assert.Single(sd[k].Values);
            Assert.True(sd[k].Values[0] >= 0 && float.IsInteger(sd[k].Values[0]));
        });
        // This tensor's storage is last in the file's data section: reading by key, not by position.
        Assert.Equal([0x3BF70E17u, 0x3E7BAA1Au, 0xBDEBB1A5u, 0xBEA409F8u], FirstBits(sd["base_net.level1.conv.weight"]));
        Assert.Equal("bu_br_l4.1.weight", sd.Keys[^1]);
    }

    [Fact]
    public void Eespnet_fixture_has_487_tensors()
    {
        StateDict sd = PthReader.Read(SharedData.Require(EespnetFixture));

        Assert.Equal(487, sd.Count);
        Assert.Equal(1_694_016, Elements(sd, StoredDType.Float32));
        Assert.Equal(62, sd.Keys.Count(k => sd[k].DType == StoredDType.Int64));
        Assert.Equal([1000, 1024], sd["classifier.weight"].Shape);
        Assert.Equal([1024, 128, 1, 1], sd["level5.4.conv.weight"].Shape);
        Assert.Equal([0x3DBA5432u, 0x3D8CFED1u, 0xBC02D62Au, 0xBD7B4F77u], FirstBits(sd["level1.conv.weight"]));
    }

    [Fact]
    public void Old_espnetv2_keys_carry_the_data_parallel_prefix()
    {
        StateDict sd = PthReader.Read(SharedData.Require(OldEspnetv2));

        Assert.Equal(418, sd.Count);
        Assert.All(sd.Keys, k => Assert.StartsWith("module.", k));
        Assert.Equal([0x3C3CF626u, 0xBDE686F6u, 0xBE048EB3u, 0xBD81C69Cu], FirstBits(sd["module.net.level1.conv.weight"]));
    }
}
