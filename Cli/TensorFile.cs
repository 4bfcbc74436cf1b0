using System.Buffers.Binary;
using System.Text;
using System.Text.RegularExpressions;

namespace Espnet.Compiled.Cli;

/// <summary>Tensors on disk: raw float32 little-endian (any extension) or NumPy .npy (float32, C order).</summary>
internal static partial class TensorFile
{
    private static readonly byte[] NpyMagic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>The floats in a file; an .npy file's shape is checked for sanity, its count is checked by the caller.</summary>
    public static float[] Read(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        string name = Path.GetFileName(path);
        int start = bytes.AsSpan().StartsWith(NpyMagic) ? NpyDataOffset(bytes, name) : 0;
        int length = bytes.Length - start;
        if (length % 4 != 0)
            throw new InvalidDataException($"{name} holds {length} bytes of data, not a whole number of float32 values");
        var values = new float[length / 4];
        for (int i = 0; i < values.Length; i++)
            values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(start + 4 * i, 4));
        return values;
    }

    /// <summary>Writes raw float32 little-endian, or .npy when the path ends in .npy.</summary>
    public static void Write(string path, ReadOnlySpan<float> values, int[] shape)
    {
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        if (path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase)) stream.Write(NpyHeader(shape));
        var buffer = new byte[4 * 4096];
        for (int i = 0; i < values.Length; i += 4096)
        {
            int n = Math.Min(4096, values.Length - i);
            for (int j = 0; j < n; j++) BinaryPrimitives.WriteSingleLittleEndian(buffer.AsSpan(4 * j), values[i + j]);
            stream.Write(buffer, 0, 4 * n);
        }
    }

    private static int NpyDataOffset(byte[] bytes, string name)
    {
        if (bytes.Length < 10) throw new InvalidDataException($"{name}: truncated .npy header");
        int major = bytes[6];
        int headerLength = major == 1 ? BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8)) : (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8));
        int headerStart = major == 1 ? 10 : 12;
        if (headerLength < 0 || headerStart + headerLength > bytes.Length) throw new InvalidDataException($"{name}: truncated .npy header");
        string header = Encoding.Latin1.GetString(bytes, headerStart, headerLength);
        if (!DescrFloat32().IsMatch(header))
            throw new InvalidDataException($"{name}: only little-endian float32 .npy files are accepted (descr '<f4'); header is {header.Trim()}");
        if (!NotFortran().IsMatch(header))
            throw new InvalidDataException($"{name}: Fortran-order .npy is not accepted; save a C-order array (np.ascontiguousarray)");
        return headerStart + headerLength;
    }

    private static byte[] NpyHeader(int[] shape)
    {
        string dims = shape.Length == 1 ? $"{shape[0]}," : string.Join(", ", shape);
        string dict = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({dims}), }}";
        int total = 10 + dict.Length + 1;
        string padded = dict + new string(' ', (64 - total % 64) % 64) + "\n";
        var header = new byte[10 + padded.Length];
        NpyMagic.CopyTo(header, 0);
        header[6] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(8), (ushort)padded.Length);
        Encoding.Latin1.GetBytes(padded, header.AsSpan(10));
        return header;
    }

    [GeneratedRegex(@"'descr'\s*:\s*'(<|=)f4'")]
    private static partial Regex DescrFloat32();

    [GeneratedRegex(@"'fortran_order'\s*:\s*False")]
    private static partial Regex NotFortran();
}
