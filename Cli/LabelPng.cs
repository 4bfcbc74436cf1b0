using System.Buffers.Binary;
using System.IO.Compression;

namespace Espnet.Compiled.Cli;

/// <summary>
/// Reads a label mask: an 8-bit grayscale PNG (Cityscapes' <c>*_labelTrainIds.png</c>, what `segment` writes) or an
/// 8-bit palette PNG (PASCAL VOC's <c>SegmentationClass</c>), returning the stored values, never colours. Its own
/// small decoder: general image libraries expand palettes into colours and lose the class indices. Sizes are
/// checked before inflating and the inflated data is bounded by what the header promises.
/// </summary>
internal static class LabelPng
{
    private static ReadOnlySpan<byte> Signature => [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    public static (int Width, int Height, byte[] Values) Read(string path)
    {
        string name = Path.GetFileName(path);
        using var file = File.OpenRead(path);
        var head = new byte[8];
        if (file.ReadAtLeast(head, 8, throwOnEndOfStream: false) < 8 || !head.AsSpan().SequenceEqual(Signature))
            throw new InvalidDataException($"{name} is not a PNG: masks are 8-bit PNGs of class IDs (255 = ignore)");
        int width = 0, height = 0;
        var compressed = new MemoryStream();
        bool ended = false;
        while (!ended)
        {
            var header = new byte[8];
            if (file.ReadAtLeast(header, 8, throwOnEndOfStream: false) < 8) throw new InvalidDataException($"{name} is truncated: no IEND chunk");
            int length = BinaryPrimitives.ReadInt32BigEndian(header);
            string type = System.Text.Encoding.ASCII.GetString(header, 4, 4);
            if (length < 0 || length > file.Length - file.Position) throw new InvalidDataException($"{name} is truncated: chunk {type} runs past the end");
            var body = new byte[length];
            file.ReadExactly(body);
            file.ReadExactly(new byte[4]);                                   // CRC: a damaged body shows as a failed inflate or a wrong size
            switch (type)
            {
                case "IHDR":
                    if (length != 13) throw new InvalidDataException($"{name}: damaged PNG header");
                    width = BinaryPrimitives.ReadInt32BigEndian(body);
                    height = BinaryPrimitives.ReadInt32BigEndian(body.AsSpan(4));
                    byte depth = body[8], colour = body[9], interlace = body[12];
                    if (width < 1 || height < 1 || width > ImageFiles.MaxSide || height > ImageFiles.MaxSide || (long)width * height > ImageFiles.MaxPixels)
                        throw new InvalidDataException($"{name} is {width}x{height}: larger than this command decodes");
                    if (depth != 8 || colour is not (0 or 3))
                        throw new InvalidDataException($"{name} is a {(colour is 2 or 6 ? "colour" : $"{depth}-bit")} PNG: masks must be 8-bit grayscale (or palette) PNGs of class IDs, 255 = ignore");
                    if (interlace != 0) throw new InvalidDataException($"{name} is an interlaced PNG: save the mask without interlacing");
                    break;
                case "IDAT":
                    if (width == 0) throw new InvalidDataException($"{name}: image data before the PNG header");
                    compressed.Write(body);
                    break;
                case "IEND":
                    ended = true;
                    break;
            }
        }
        if (width == 0) throw new InvalidDataException($"{name}: no PNG header");
        var raw = new byte[(long)height * (width + 1)];
        compressed.Position = 0;
        using (var inflate = new ZLibStream(compressed, CompressionMode.Decompress))
        {
            try
            {
                if (inflate.ReadAtLeast(raw, raw.Length, throwOnEndOfStream: false) < raw.Length)
                    throw new InvalidDataException($"{name} is truncated: its data ends before the last row");
            }
            catch (InvalidDataException e) when (!e.Message.StartsWith(name, StringComparison.Ordinal))
            {
                throw new InvalidDataException($"{name}: the PNG data is damaged ({e.Message})");
            }
        }
        var values = new byte[(long)width * height];
        Unfilter(raw, values, width, height, name);
        return (width, height, values);
    }

    /// <summary>Undoes PNG's per-row filters (none, sub, up, average, Paeth) for one byte per pixel.</summary>
    private static void Unfilter(byte[] raw, byte[] values, int width, int height, string name)
    {
        for (int y = 0; y < height; y++)
        {
            int filter = raw[(long)y * (width + 1)];
            var row = raw.AsSpan((int)((long)y * (width + 1) + 1), width);
            var output = values.AsSpan((int)((long)y * width), width);
            ReadOnlySpan<byte> up = y > 0 ? values.AsSpan((int)((long)(y - 1) * width), width) : new byte[width];
            for (int x = 0; x < width; x++)
            {
                int a = x > 0 ? output[x - 1] : 0, b = up[x], c = x > 0 ? up[x - 1] : 0;
                int predictor = filter switch
                {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => (a + b) >> 1,
                    4 => Paeth(a, b, c),
                    _ => throw new InvalidDataException($"{name}: the PNG data is damaged (row filter {filter})"),
                };
                output[x] = (byte)(row[x] + predictor);
            }
        }
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
}
