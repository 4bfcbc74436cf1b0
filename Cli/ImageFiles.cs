using System.Runtime.InteropServices;
using Espnet.Compiled.Imaging;
using SkiaSharp;

namespace Espnet.Compiled.Cli;

/// <summary>
/// Image files for `segment`, `classify` and `eval`: decoded by content (PNG, JPEG, BMP, GIF, WebP; the
/// extension is not trusted), the size read from the header and bounded before any pixel is decoded, an
/// incomplete decode refused rather than returned half grey; masks and overlays written as PNG.
/// Pixels are taken as stored: like Pillow (EdgeNets' preprocessing), EXIF orientation is not applied.
/// </summary>
internal static class ImageFiles
{
    /// <summary>Pixels one decode may hold (about 1.2 GB of RGBA at this bound); a 2048x1024 frame is 2 M.</summary>
    public const long MaxPixels = 300_000_000;
    public const int MaxSide = 65_535;

    public static RgbImage Read(string path)
    {
        if (!LooksLikeImage(path)) throw new InvalidDataException($"{Path.GetFileName(path)} is not an image this command reads (PNG, JPEG, BMP, GIF or WebP)");
        using var file = File.OpenRead(path);
        return Read(file, Path.GetFileName(path));
    }

    public static RgbImage Read(Stream stream, string name)
    {
        using var codec = SKCodec.Create(stream, out var opened);
        if (codec is null)
            throw new InvalidDataException(opened == SKCodecResult.IncompleteInput
                ? $"{name} is truncated: its header is incomplete"
                : $"{name} is not an image this command reads (PNG, JPEG, BMP, GIF or WebP)");
        var info = codec.Info;
        if (info.Width < 1 || info.Height < 1 || info.Width > MaxSide || info.Height > MaxSide || (long)info.Width * info.Height > MaxPixels)
            throw new InvalidDataException($"{name} is {info.Width}x{info.Height}: larger than this command decodes " +
                                           $"({MaxPixels / 1_000_000} megapixels, {MaxSide} per side); shrink it first");
        var target = new SKImageInfo(info.Width, info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var rgba = new byte[4L * info.Width * info.Height];
        var result = codec.GetPixels(target, rgba);
        if (result != SKCodecResult.Success)
            throw new InvalidDataException(result == SKCodecResult.IncompleteInput
                ? $"{name} is truncated: the {codec.EncodedFormat} data ends before the last row"
                : $"{name}: the {codec.EncodedFormat} data is damaged ({result})");
        var rgb = new byte[3L * info.Width * info.Height];
        for (long i = 0, n = (long)info.Width * info.Height; i < n; i++)
        {
            rgb[3 * i] = rgba[4 * i];
            rgb[3 * i + 1] = rgba[4 * i + 1];
            rgb[3 * i + 2] = rgba[4 * i + 2];
        }
        return new RgbImage(info.Width, info.Height, rgb);
    }

    /// <summary>An 8-bit grayscale PNG of the values (a label or train-ID map).</summary>
    public static void WriteGray(Stream destination, ReadOnlySpan<byte> values, int width, int height) =>
        Encode(destination, values, new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque), width);

    /// <summary>An opaque RGB PNG.</summary>
    public static void WriteRgb(Stream destination, RgbImage image)
    {
        var rgba = new byte[4L * image.Width * image.Height];
        for (long i = 0, n = (long)image.Width * image.Height; i < n; i++)
        {
            rgba[4 * i] = image.Pixels[3 * i];
            rgba[4 * i + 1] = image.Pixels[3 * i + 1];
            rgba[4 * i + 2] = image.Pixels[3 * i + 2];
            rgba[4 * i + 3] = 255;
        }
        Encode(destination, rgba, new SKImageInfo(image.Width, image.Height, SKColorType.Rgba8888, SKAlphaType.Opaque), 4 * image.Width);
    }

    private static unsafe void Encode(Stream destination, ReadOnlySpan<byte> pixels, SKImageInfo info, int rowBytes)
    {
        fixed (byte* p = pixels)
        {
            using var pixmap = new SKPixmap(info, (nint)p, rowBytes);
            if (!pixmap.Encode(destination, new SKPngEncoderOptions(SKPngEncoderFilterFlags.AllFilters, 6)))
                throw new IOException("the PNG encoder failed");
        }
    }

    /// <summary>Whether a file's first bytes are one of the image formats read here (a folder's non-images are skipped by this).</summary>
    public static bool LooksLikeImage(string path)
    {
        Span<byte> head = stackalloc byte[12];
        int n;
        using (var file = File.OpenRead(path)) n = file.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        head = head[..n];
        return head.StartsWith((ReadOnlySpan<byte>)[0x89, (byte)'P', (byte)'N', (byte)'G'])
            || head.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xD8, 0xFF])
            || head.StartsWith("BM"u8) || head.StartsWith("GIF8"u8)
            || (head.StartsWith("RIFF"u8) && n >= 12 && head[8..12].SequenceEqual("WEBP"u8));
    }
}
