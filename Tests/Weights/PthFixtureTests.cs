using System.Text.Json;
using Espnet.Compiled.Weights;

namespace Espnet.Compiled.Tests.Weights;

/// <summary>
/// Tiny files written by torch itself (Tests/Fixtures/scripts/make_zip_fixture.py) against the values torch
/// reported for them, plus hand-written pickles for layouts torch no longer writes.
/// </summary>
public class PthFixtureTests
{
    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "weights", name);

    private sealed record Expected(string Key, string DType, int[] Shape, float[] Values);

    private static List<Expected> ExpectedTensors()
    {
        using JsonDocument json = JsonDocument.Parse(File.ReadAllText(Fixture("tiny_expected.json")));
        return json.RootElement.GetProperty("tensors").EnumerateObject().Select(p => new Expected(
            p.Name,
            p.Value.GetProperty("dtype").GetString()!,
            p.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
            p.Value.GetProperty("values").EnumerateArray().Select(e => (float)e.GetDouble()).ToArray())).ToList();
    }

    private static string TorchName(StoredDType dtype) => dtype switch
    {
        StoredDType.Float32 => "float32",
        StoredDType.Float64 => "float64",
        StoredDType.Float16 => "float16",
        StoredDType.BFloat16 => "bfloat16",
        StoredDType.Int64 => "int64",
        StoredDType.Int32 => "int32",
        _ => dtype.ToString(),
    };

    [Theory]
    [InlineData("tiny_zip.pth")]
    [InlineData("tiny_legacy.pth")]
    [InlineData("tiny_zip_proto4.pth")]
    [InlineData("tiny_wrapped_zip.pth")]
    public void Reads_torch_written_fixture_exactly(string file)
    {
        StateDict sd = PthReader.Read(Fixture(file));

        List<Expected> expected = ExpectedTensors();
        Assert.Equal(expected.Select(e => e.Key), sd.Keys);
        foreach (Expected e in expected)
        {
            StoredTensor t = sd[e.Key];
            Assert.True(e.Shape.SequenceEqual(t.Shape), $"{e.Key}: shape {t.ShapeText}, expected [{string.Join(", ", e.Shape)}]");
            Assert.Equal(e.DType, TorchName(t.DType));
            Assert.Equal(e.Values, t.Values);
        }
    }

    [Fact]
    public void Reads_a_stream_that_cannot_seek()
    {
        byte[] bytes = File.ReadAllBytes(Fixture("tiny_zip.pth"));
        StateDict sd = PthReader.Read(new ForwardOnlyStream(bytes), "tiny_zip.pth");
        Assert.Equal([-2f, 1f, 4f, 7f], sd["linear.column"].Values);
    }

    [Fact]
    public void Honours_legacy_storage_views_and_offsets()
    {
        // Storage 'k' holds 0..7; the view ('v', 2, 5) covers 2..6; the tensor starts 1 into it with stride 2.
        byte[] file = PickleWriter.LegacyHeader()
            .Proto().OrderedDict().Mark()
            .Str("w").Tensor("FloatStorage", "k", 8, offset: 1, size: [2], stride: [2], view: ("v", 2, 5))
            .Str("all").Tensor("FloatStorage", "k", 8, offset: 0, size: [2, 4], stride: [4, 1])
            .SetItems().Stop()
            .LegacyStorages(("k", [0, 1, 2, 3, 4, 5, 6, 7]))
            .ToArray();

        StateDict sd = PthReader.Read(new MemoryStream(file), "views.pth");

        Assert.Equal([3f, 5f], sd["w"].Values);
        Assert.Equal([0f, 1f, 2f, 3f, 4f, 5f, 6f, 7f], sd["all"].Values);
        Assert.Equal([2, 4], sd["all"].Shape);
    }

    [Fact]
    public void Accepts_a_plain_dict_and_a_model_wrapper()
    {
        byte[] pickle = new PickleWriter()
            .Proto().EmptyDict().Mark()
            .Str("epoch").Int(3)
            .Str("model").EmptyDict().Mark()
            .Str("bias").Tensor("FloatStorage", "0", 2, offset: 0, size: [2], stride: [1])
            .SetItems()
            .SetItems().Stop().ToArray();
        byte[] file = PickleWriter.Zip(pickle, ("0", [.. BitConverter.GetBytes(1.5f), .. BitConverter.GetBytes(-2f)]));

        StateDict sd = PthReader.Read(new MemoryStream(file), "wrapped.pth");

        Assert.Equal(["bias"], sd.Keys);
        Assert.Equal([1.5f, -2f], sd["bias"].Values);
    }

    /// <summary>A read-only stream without Seek or Length, like a network response.</summary>
    private sealed class ForwardOnlyStream(byte[] bytes) : Stream
    {
        private readonly MemoryStream _inner = new(bytes);
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
