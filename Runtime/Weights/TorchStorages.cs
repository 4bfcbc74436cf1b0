using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;

namespace Espnet.Compiled.Weights;

/// <summary>torch's storage classes, the persistent ids that name storages, and decoding their raw bytes.</summary>
internal static class TorchStorages
{
    private static readonly Dictionary<string, StorageType> Types = new StorageType[]
    {
        new("FloatStorage", StoredDType.Float32), new("DoubleStorage", StoredDType.Float64),
        new("HalfStorage", StoredDType.Float16), new("BFloat16Storage", StoredDType.BFloat16),
        new("LongStorage", StoredDType.Int64), new("IntStorage", StoredDType.Int32),
        new("ShortStorage", StoredDType.Int16), new("CharStorage", StoredDType.Int8),
        new("ByteStorage", StoredDType.UInt8), new("BoolStorage", StoredDType.Bool),
    }.ToDictionary(t => t.Name, StringComparer.Ordinal);

    public static bool TryGetType(string name, [NotNullWhen(true)] out StorageType? type) => Types.TryGetValue(name, out type);

    public static int ElementSize(StoredDType dtype) => dtype switch
    {
        StoredDType.Float64 or StoredDType.Int64 => 8,
        StoredDType.Float32 or StoredDType.Int32 => 4,
        StoredDType.Float16 or StoredDType.BFloat16 or StoredDType.Int16 => 2,
        _ => 1,
    };

    /// <summary>
    /// Reads <paramref name="elements"/> little-endian values of <paramref name="dtype"/> and converts them to float.
    /// The caller has checked that the bytes exist, so the allocation is bounded by the file.
    /// </summary>
    public static float[] ReadData(Stream source, StoredDType dtype, int elements)
    {
        var values = new float[elements];
        if (dtype == StoredDType.Float32 && BitConverter.IsLittleEndian)
        {
            source.ReadExactly(MemoryMarshal.AsBytes(values.AsSpan()));
            return values;
        }
        int size = ElementSize(dtype);
        var buffer = new byte[size * Math.Min(elements, 16384)];
        for (int done = 0; done < elements;)
        {
            int count = Math.Min(elements - done, buffer.Length / size);
            Span<byte> chunk = buffer.AsSpan(0, count * size);
            source.ReadExactly(chunk);
            for (int i = 0; i < count; i++) values[done + i] = ToFloat(chunk.Slice(i * size, size), dtype);
            done += count;
        }
        return values;
    }

    private static float ToFloat(ReadOnlySpan<byte> b, StoredDType dtype) => dtype switch
    {
        StoredDType.Float32 => BinaryPrimitives.ReadSingleLittleEndian(b),
        StoredDType.Float64 => (float)BinaryPrimitives.ReadDoubleLittleEndian(b),
        StoredDType.Float16 => (float)BinaryPrimitives.ReadHalfLittleEndian(b),
        StoredDType.BFloat16 => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(b) << 16),
        StoredDType.Int64 => BinaryPrimitives.ReadInt64LittleEndian(b),
        StoredDType.Int32 => BinaryPrimitives.ReadInt32LittleEndian(b),
        StoredDType.Int16 => BinaryPrimitives.ReadInt16LittleEndian(b),
        StoredDType.Int8 => (sbyte)b[0],
        StoredDType.UInt8 => b[0],
        _ => b[0] != 0 ? 1f : 0f, // Bool
    };
}

/// <summary>
/// The storages one pickle names, by key. Resolves persistent ids
/// ('storage', storage class, key, location, numel[, view_metadata]); the location (e.g. 'cuda:0') is ignored.
/// </summary>
internal sealed class StorageTable
{
    private readonly Dictionary<string, StorageRef> _byKey = new(StringComparer.Ordinal);

    public IReadOnlyDictionary<string, StorageRef> ByKey => _byKey;

    public object Resolve(object? pid)
    {
        if (pid is object?[] { Length: > 0 } t && t[0] is "module")
            throw new WeightFormatException(
                "not a plain state_dict: it holds a whole pickled nn.Module — in Python, load it and save `model.state_dict()` with torch.save.");
        if (pid is not object?[] { Length: 5 or 6 } id || id[0] is not "storage")
            throw Bad($"unexpected persistent id ({Py.Describe(pid)})");
        if (id[1] is not StorageType type) throw Bad($"storage of type {Py.TypeName(id[1])}");
        if (id[2] is not string key) throw Bad($"storage key is {Py.Describe(id[2])}");
        if (id[4] is not long elements || elements < 0) throw Bad($"storage {Py.Quote(key)} has an invalid size");
        if (elements > Array.MaxLength)
            throw new WeightFormatException($"storage {Py.Quote(key)} has {elements} elements, more than this reader supports ({Array.MaxLength}).");

        if (!_byKey.TryGetValue(key, out StorageRef? root))
            _byKey[key] = root = new StorageRef(key, type.DType, elements);
        else if (root.DType != type.DType || root.Elements != elements)
            throw Bad($"storage {Py.Quote(key)} is declared twice with different types or sizes");

        if (id.Length == 5 || id[5] is null) return new StorageSlice(root, 0, elements);
        // Legacy storage views (torch < 0.4): (view_key, offset, size) within the root storage.
        if (id[5] is not object?[] { Length: 3 } view || view[1] is not long offset || view[2] is not long size
            || offset < 0 || size < 0 || offset > elements - size)
            throw Bad($"storage {Py.Quote(key)} has an invalid view");
        return new StorageSlice(root, offset, size);
    }

    private static WeightFormatException Bad(string problem) =>
        new($"damaged storage reference: {problem} — the file is corrupt; fetch or export it again.");
}
