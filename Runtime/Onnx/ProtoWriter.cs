using System.Buffers.Binary;
using System.Text;

namespace Espnet.Compiled.Onnx;

/// <summary>
/// The protocol-buffers wire format, as much of it as an ONNX model needs: varints, length-delimited
/// fields (strings, bytes, nested messages) and 32-bit floats. Repeated numbers are written unpacked,
/// which every parser accepts for proto2 files such as onnx.proto.
/// </summary>
internal sealed class ProtoWriter
{
    private readonly MemoryStream _buffer = new();

    public void Varint(int field, long value)
    {
        Tag(field, 0);
        Raw((ulong)value);
    }

    public void Float(int field, float value)
    {
        Tag(field, 5);
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteSingleLittleEndian(bytes, value);
        _buffer.Write(bytes);
    }

    public void Bytes(int field, ReadOnlySpan<byte> value)
    {
        Tag(field, 2);
        Raw((ulong)value.Length);
        _buffer.Write(value);
    }

    public void String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

    public void Message(int field, Action<ProtoWriter> write)
    {
        var inner = new ProtoWriter();
        write(inner);
        Bytes(field, inner._buffer.GetBuffer().AsSpan(0, (int)inner._buffer.Length));
    }

    public void CopyTo(Stream destination) => destination.Write(_buffer.GetBuffer(), 0, (int)_buffer.Length);

    private void Tag(int field, int wireType) => Raw((ulong)((field << 3) | wireType));

    private void Raw(ulong value)
    {
        while (value >= 0x80)
        {
            _buffer.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        _buffer.WriteByte((byte)value);
    }
}
