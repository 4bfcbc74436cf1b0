namespace Espnet.Compiled.Imaging;

/// <summary>
/// An 8-bit RGB picture, rows top to bottom, pixels interleaved R, G, B: what every preprocessing here
/// starts from. Decoding files is the caller's (the `espnet` command decodes with SkiaSharp); an alpha
/// channel is dropped, as PIL's <c>convert("RGB")</c> and OpenCV's <c>imread</c> drop it.
/// </summary>
public sealed class RgbImage
{
    public RgbImage(int width, int height, byte[] pixels)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        ArgumentNullException.ThrowIfNull(pixels);
        if (pixels.LongLength != 3L * width * height)
            throw new ArgumentException($"a {width}x{height} RGB image holds {3L * width * height} bytes, not {pixels.LongLength}", nameof(pixels));
        Width = width;
        Height = height;
        Pixels = pixels;
    }

    public int Width { get; }
    public int Height { get; }

    /// <summary>R, G, B bytes, row-major, <c>3 * Width * Height</c> of them.</summary>
    public byte[] Pixels { get; }

    public override string ToString() => $"{Width}x{Height} RGB";
}
