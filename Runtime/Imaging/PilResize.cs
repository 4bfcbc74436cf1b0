namespace Espnet.Compiled.Imaging;

/// <summary>
/// Pillow's <c>Image.resize</c> for 8-bit images, byte for byte: what EdgeNets' preprocessing and
/// torchvision's <c>Resize</c> on PIL images compute. Bilinear is a triangle filter widened by the scale
/// when shrinking (so it averages, unlike OpenCV's), with coefficients normalised per output pixel and
/// rounded to 22-bit fixed point; the horizontal pass is rounded to 8 bits before the vertical pass.
/// Nearest picks the source pixel under each output pixel's centre. Checked against Pillow 9.4 by
/// Tests/Fixtures/scripts/make_resize_fixture.py.
/// </summary>
public static class PilResize
{
    // Pillow keeps 8 bits of headroom for the sum and one for the sign: 32 - 8 - 2 fractional bits.
    private const int PrecisionBits = 32 - 8 - 2;

    /// <summary>Bilinear resize of an RGB image to <paramref name="width"/> x <paramref name="height"/>.</summary>
    public static RgbImage Bilinear(RgbImage source, int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        byte[] rows = source.Pixels;
        int rowWidth = source.Width;
        if (width != source.Width)
        {
            var (bounds, weights, taps) = Coefficients(source.Width, width);
            var horizontal = new byte[3L * width * source.Height];
            for (int y = 0; y < source.Height; y++)
                for (int x = 0; x < width; x++)
                {
                    int first = bounds[2 * x], count = bounds[2 * x + 1];
                    for (int c = 0; c < 3; c++)
                    {
                        int sum = 1 << (PrecisionBits - 1);
                        for (int k = 0; k < count; k++)
                            sum += rows[(y * (long)source.Width + first + k) * 3 + c] * weights[x * taps + k];
                        horizontal[(y * (long)width + x) * 3 + c] = Clip8(sum);
                    }
                }
            rows = horizontal;
            rowWidth = width;
        }
        if (height != source.Height)
        {
            var (bounds, weights, taps) = Coefficients(source.Height, height);
            var vertical = new byte[3L * width * height];
            for (int y = 0; y < height; y++)
            {
                int first = bounds[2 * y], count = bounds[2 * y + 1];
                for (int i = 0; i < 3 * width; i++)
                {
                    int sum = 1 << (PrecisionBits - 1);
                    for (int k = 0; k < count; k++)
                        sum += rows[(first + k) * 3L * rowWidth + i] * weights[y * taps + k];
                    vertical[y * 3L * width + i] = Clip8(sum);
                }
            }
            rows = vertical;
        }
        return new RgbImage(width, height, rows == source.Pixels ? (byte[])rows.Clone() : rows);
    }

    /// <summary>
    /// Nearest-neighbour resize of a one-byte-per-pixel map (labels): output pixel x reads source pixel
    /// floor((x + 0.5) * sourceWidth / width), as Pillow's NEAREST does.
    /// </summary>
    public static void Nearest(ReadOnlySpan<byte> source, int sourceWidth, int sourceHeight, Span<byte> destination, int width, int height)
    {
        if (source.Length != sourceWidth * sourceHeight || destination.Length != width * height)
            throw new ArgumentException("the spans do not match the sizes given");
        double scaleX = (double)sourceWidth / width, scaleY = (double)sourceHeight / height;
        for (int y = 0; y < height; y++)
        {
            int sy = Math.Min(sourceHeight - 1, (int)((y + 0.5) * scaleY));
            for (int x = 0; x < width; x++)
                destination[y * width + x] = source[sy * sourceWidth + Math.Min(sourceWidth - 1, (int)((x + 0.5) * scaleX))];
        }
    }

    /// <summary>Per output pixel: the first source pixel and how many, and fixed-point weights, <c>taps</c> per pixel.</summary>
    private static (int[] Bounds, int[] Weights, int Taps) Coefficients(int inSize, int outSize)
    {
        double scale = (double)inSize / outSize;
        double filterScale = Math.Max(scale, 1.0);
        double support = 1.0 * filterScale;                 // the triangle reaches 1 source pixel, widened when shrinking
        int taps = (int)Math.Ceiling(support) * 2 + 1;
        var bounds = new int[2 * outSize];
        var weights = new int[outSize * taps];
        var w = new double[taps];
        for (int x = 0; x < outSize; x++)
        {
            double center = (x + 0.5) * scale;
            int min = Math.Max(0, (int)(center - support + 0.5));
            int max = Math.Min(inSize, (int)(center + support + 0.5)) - min;
            double total = 0;
            for (int k = 0; k < max; k++)
            {
                double t = Math.Abs((k + min - center + 0.5) / filterScale);
                w[k] = t < 1.0 ? 1.0 - t : 0.0;
                total += w[k];
            }
            for (int k = 0; k < max; k++)
            {
                double normalised = total != 0.0 ? w[k] / total : w[k];
                weights[x * taps + k] = (int)(normalised < 0 ? -0.5 + normalised * (1 << PrecisionBits) : 0.5 + normalised * (1 << PrecisionBits));
            }
            bounds[2 * x] = min;
            bounds[2 * x + 1] = max;
        }
        return (bounds, weights, taps);
    }

    private static byte Clip8(int sum) =>
        sum >= 1 << PrecisionBits << 8 ? (byte)255 : sum <= 0 ? (byte)0 : (byte)(sum >> PrecisionBits);
}
