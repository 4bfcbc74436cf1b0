using System.Buffers.Binary;

namespace Espnet.Compiled.Weights;

/// <summary>
/// Reads a seekable stream whose length is known, so every length field can be checked against the bytes
/// that are really left before anything is allocated. A short read becomes a "truncated" message naming
/// <see cref="Context"/>, the part of the file being read.
/// </summary>
internal sealed class PthInput(Stream stream)
{
    private readonly Stream _stream = stream;

    public long Length { get; } = stream.Length;
    public long Position => _stream.Position;
    public long Remaining => Length - _stream.Position;
    public Stream Stream => _stream;

    /// <summary>What is being read, for messages: "the state-dict pickle", "storage '94'".</summary>
    public string Context { get; set; } = "the file";

    /// <summary>Fails unless <paramref name="count"/> more bytes are available.</summary>
    public void Need(long count)
    {
        if (count < 0 || count > Remaining)
            throw Truncated(count);
    }

    public WeightFormatException Truncated(long count) => new(
        $"truncated: {Context} needs {count} byte{(count == 1 ? "" : "s")} at byte {Position} but the file ends after {Length} " +
        "— the download is incomplete; fetch the file again.");

    public byte ReadByte()
    {
        int b = _stream.ReadByte();
        if (b < 0) throw Truncated(1);
        return (byte)b;
    }

    public byte[] ReadBytes(long count)
    {
        Need(count);
        if (count > Array.MaxLength)
            throw new WeightFormatException($"{Context} holds a {count}-byte value, more than this reader supports.");
        var bytes = new byte[count];
        _stream.ReadExactly(bytes);
        return bytes;
    }

    public void ReadExactly(Span<byte> into)
    {
        Need(into.Length);
        _stream.ReadExactly(into);
    }

    public ushort ReadUInt16() { Span<byte> b = stackalloc byte[2]; ReadExactly(b); return BinaryPrimitives.ReadUInt16LittleEndian(b); }
    public int ReadInt32() { Span<byte> b = stackalloc byte[4]; ReadExactly(b); return BinaryPrimitives.ReadInt32LittleEndian(b); }
    public uint ReadUInt32() { Span<byte> b = stackalloc byte[4]; ReadExactly(b); return BinaryPrimitives.ReadUInt32LittleEndian(b); }
    public long ReadInt64() { Span<byte> b = stackalloc byte[8]; ReadExactly(b); return BinaryPrimitives.ReadInt64LittleEndian(b); }
    public double ReadDoubleBigEndian() { Span<byte> b = stackalloc byte[8]; ReadExactly(b); return BinaryPrimitives.ReadDoubleBigEndian(b); }

    public void Skip(long count)
    {
        Need(count);
        _stream.Seek(count, SeekOrigin.Current);
    }
}
