using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace Espnet.Compiled.Weights;

/// <summary>
/// The native weight format: safetensors (the ecosystem's format for tensors without code): an 8-byte
/// little-endian header length, a JSON header naming each tensor's dtype, shape and byte range (and a
/// <c>__metadata__</c> map of strings), then the raw little-endian data. `espnet train` writes its checkpoints so;
/// <see cref="PthReader.Read(string, WeightBudget?)"/> recognises and reads it by content. Only F32 and F64 are
/// read (F64 converted), each range checked against the file and the budget before any memory is taken.
/// </summary>
public static class SafeTensors
{
    private const long MaxHeader = 100 << 20;

    /// <summary>Whether the first bytes are a safetensors header (a plausible length, then '{').</summary>
    public static bool Recognise(ReadOnlySpan<byte> head, long fileLength) =>
        head.Length >= 9 && head[8] == (byte)'{' && BinaryPrimitives.ReadUInt64LittleEndian(head) is var n && n >= 2 && fileLength > 8 && n <= (ulong)Math.Min(MaxHeader, fileLength - 8);

    public static void Write(Stream destination, IEnumerable<(string Key, int[] Shape, float[] Values)> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();
        var header = new Dictionary<string, object>();
        if (metadata is not null) header["__metadata__"] = metadata;
        long offset = 0;
        foreach (var (key, shape, values) in list)
        {
            header[key] = new Dictionary<string, object> { ["dtype"] = "F32", ["shape"] = shape, ["data_offsets"] = new[] { offset, offset + 4L * values.Length } };
            offset += 4L * values.Length;
        }
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(header);
        int padded = (json.Length + 7) / 8 * 8;
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)padded);
        destination.Write(length);
        destination.Write(json);
        for (int i = json.Length; i < padded; i++) destination.WriteByte((byte)' ');
        foreach (var (_, _, values) in list)
        {
            var bytes = new byte[4 * values.Length];
            for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * i), values[i]);
            destination.Write(bytes);
        }
    }

    /// <summary>The tensors and the metadata of a safetensors stream (seekable).</summary>
    public static (StateDict Tensors, IReadOnlyDictionary<string, string> Metadata) Read(Stream stream, WeightBudget? budget = null)
    {
        long start = stream.Position, length = stream.Length - start;
        Span<byte> head = stackalloc byte[8];
        if (stream.ReadAtLeast(head, 8, throwOnEndOfStream: false) < 8) throw new WeightFormatException("a safetensors file shorter than its header length");
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(head);
        if (n > (ulong)Math.Min(MaxHeader, length - 8)) throw new WeightFormatException($"the safetensors header claims {n} bytes; the file has {length - 8} after its length");
        var json = new byte[n];
        stream.ReadExactly(json);
        long dataStart = start + 8 + (long)n, dataLength = length - 8 - (long)n;
        var tensors = new StateDict();
        var metadata = new Dictionary<string, string>();
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new WeightFormatException($"the safetensors header is not valid JSON ({e.Message})");
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object) throw new WeightFormatException("the safetensors header is not a JSON object");
            long stored = 0;
            foreach (var entry in document.RootElement.EnumerateObject())
            {
                if (entry.Name == "__metadata__")
                {
                    if (entry.Value.ValueKind == JsonValueKind.Object)
                        foreach (var m in entry.Value.EnumerateObject()) metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()! : m.Value.GetRawText();
                    continue;
                }
                try
                {
                    string dtype = entry.Value.GetProperty("dtype").GetString() ?? "";
                    int[] shape = [.. entry.Value.GetProperty("shape").EnumerateArray().Select(d => checked((int)d.GetInt64()))];
                    long[] range = [.. entry.Value.GetProperty("data_offsets").EnumerateArray().Select(d => d.GetInt64())];
                    long elements = shape.Aggregate(1L, (a, b) => b < 0 ? throw new WeightFormatException($"tensor {entry.Name} has a negative dimension") : checked(a * b));
                    int size = dtype switch { "F32" => 4, "F64" => 8, _ => throw new WeightFormatException($"tensor {entry.Name} is {dtype}; this reader takes F32 and F64") };
                    if (range.Length != 2 || range[0] < 0 || range[1] < range[0] || range[1] > dataLength || range[1] - range[0] != elements * size)
                        throw new WeightFormatException($"tensor {entry.Name}: its byte range does not fit its shape or the file");
                    budget?.CheckTensor(entry.Name, elements);
                    budget?.CheckStored(entry.Name, stored, elements);
                    stored += elements;
                    var bytes = new byte[range[1] - range[0]];
                    stream.Position = dataStart + range[0];
                    stream.ReadExactly(bytes);
                    var values = new float[elements];
                    for (long i = 0; i < elements; i++)
                        values[i] = size == 4 ? BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan((int)(4 * i))) : (float)BinaryPrimitives.ReadDoubleLittleEndian(bytes.AsSpan((int)(8 * i)));
                    tensors.Add(entry.Name, new StoredTensor(shape, size == 4 ? StoredDType.Float32 : StoredDType.Float64, values));
                }
                catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException or OverflowException)
                {
                    throw new WeightFormatException($"tensor {entry.Name}: a malformed safetensors entry ({e.Message})");
                }
            }
        }
        return (tensors, metadata);
    }
}
