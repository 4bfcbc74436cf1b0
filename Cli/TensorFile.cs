using System.Buffers.Binary;
using System.Text;
using System.Text.RegularExpressions;

namespace Espnet.Compiled.Cli;

/// <summary>Tensors on disk: raw float32 little-endian (any extension) or NumPy .npy (float32, C order).</summary>
internal static partial class TensorFile
{
    private static readonly byte[] NpyMagic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Most bytes an .npy header may take before the data (NumPy pads headers to 64 bytes; v2/v3 allow more).</summary>
    private const int NpyHeaderLimit = 1 << 16;

    /// <summary>
    /// The floats in a file, and for an .npy file the shape its header declares (null for raw float32). At most
    /// <paramref name="maxFloats"/> floats are read: a longer file (or a device or pipe that never ends) is
    /// refused before the memory is taken. The shape and count are otherwise checked by the caller.
    /// </summary>
    public static float[] Read(string path, long maxFloats, out int[]? shape)
    {
        string name = Path.GetFileName(path);
        long limit = NpyHeaderLimit + 4 * maxFloats;
        byte[] bytes;
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
        {
            if (stream.CanSeek && stream.Length > limit) throw TooLong(name, maxFloats);
            using var memory = new MemoryStream();
            var chunk = new byte[1 << 16];
            int n;
            while ((n = stream.Read(chunk, 0, chunk.Length)) > 0)
            {
                if (memory.Length + n > limit) throw TooLong(name, maxFloats);
                memory.Write(chunk, 0, n);
            }
            bytes = memory.ToArray();
        }
        shape = null;
        int start = bytes.AsSpan().StartsWith(NpyMagic) ? NpyDataOffset(bytes, name, out shape) : 0;
        int length = bytes.Length - start;
        if (length % 4 != 0)
            throw new InvalidDataException($"{name} holds {length} bytes of data, not a whole number of float32 values");
        if (length / 4 > maxFloats) throw TooLong(name, maxFloats);
        var values = new float[length / 4];
        for (int i = 0; i < values.Length; i++)
            values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(start + 4 * i, 4));
        return values;
    }

    private static InvalidDataException TooLong(string name, long maxFloats) =>
        new($"{name} holds more than the {maxFloats} floats the model takes (pass --height/--width to match the input, or check the file)");

    /// <summary>A shape as NumPy prints it: (1, 3, 64, 128), (5,) or ().</summary>
    public static string FormatShape(IReadOnlyList<int> shape) =>
        shape.Count == 1 ? $"({shape[0]},)" : $"({string.Join(", ", shape)})";

    /// <summary>Writes raw float32 little-endian, or .npy (header first) when <paramref name="npy"/>.</summary>
    public static void Write(Stream stream, ReadOnlySpan<float> values, int[] shape, bool npy)
    {
        if (npy) stream.Write(NpyHeader(shape));
        var buffer = new byte[4 * 4096];
        for (int i = 0; i < values.Length; i += 4096)
        {
            int n = Math.Min(4096, values.Length - i);
            for (int j = 0; j < n; j++) BinaryPrimitives.WriteSingleLittleEndian(buffer.AsSpan(4 * j), values[i + j]);
            stream.Write(buffer, 0, 4 * n);
        }
    }

    /// <summary>Whether a file name asks for .npy.</summary>
    public static bool IsNpy(string path) => path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase);

    private static int NpyDataOffset(byte[] bytes, string name, out int[] shape)
    {
        if (bytes.Length < 10) throw new InvalidDataException($"{name}: truncated .npy header");
        int major = bytes[6];
        if (major is < 1 or > 3) throw new InvalidDataException($"{name}: unsupported .npy format version {major}.{bytes[7]}");
        int headerStart = major == 1 ? 10 : 12;
        if (bytes.Length < headerStart) throw new InvalidDataException($"{name}: truncated .npy header");
        long headerLength = major == 1 ? BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8)) : BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8));
        long dataStart = headerStart + headerLength; // long: a v2/v3 length near 4 GiB must not wrap
        if (dataStart > bytes.Length) throw new InvalidDataException($"{name}: truncated .npy header");
        string header = Encoding.Latin1.GetString(bytes, headerStart, (int)headerLength);
        if (!DescrFloat32().IsMatch(header))
            throw new InvalidDataException($"{name}: only little-endian float32 .npy files are accepted (descr '<f4'); header is {header.Trim()}");
        if (!NotFortran().IsMatch(header))
            throw new InvalidDataException($"{name}: Fortran-order .npy is not accepted; save a C-order array (np.ascontiguousarray)");
        shape = ParseShape(header, name);
        return (int)dataStart;
    }

    private static int[] ParseShape(string header, string name)
    {
        var match = ShapeTuple().Match(header);
        if (!match.Success) throw new InvalidDataException($"{name}: .npy header has no readable 'shape'; header is {header.Trim()}");
        string[] parts = match.Groups[1].Value.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length > 0 && parts[^1].Length == 0) parts = parts[..^1]; // (5,) and ()
        var shape = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            string digits = parts[i].TrimEnd('L'); // Python 2 longs: (1L, 3L, ...)
            if (!int.TryParse(digits, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out shape[i]))
                throw new InvalidDataException($"{name}: .npy header has an unreadable shape ({match.Groups[1].Value})");
        }
        return shape;
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

    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapeTuple();
}
