namespace Espnet.Compiled.Imaging;

/// <summary>
/// OpenCV's <c>cv2.resize(img, (w, h))</c> (INTER_LINEAR) on float32 images, as ESPNet's test script
/// calls it on the normalised image: pixel centres aligned (<c>src = (dst + 0.5) * scale - 0.5</c>), two
/// taps per axis, clamped at the borders, the horizontal pass first. A shrink by exactly 2 in both axes
/// is OpenCV's area-average fast path (the mean of each 2x2 block), which it picks for INTER_LINEAR too.
/// </summary>
public static class OpenCvResize
{
    /// <summary>Resizes an interleaved float image (<paramref name="channels"/> per pixel, row-major).</summary>
    public static float[] Linear(ReadOnlySpan<float> source, int sourceWidth, int sourceHeight, int channels, int width, int height)
    {
        if (source.Length != sourceWidth * sourceHeight * channels) throw new ArgumentException("the span does not match the size given");
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        var result = new float[width * height * channels];
        if (sourceWidth == 2 * width && sourceHeight == 2 * height)
        {
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++)
                    for (int c = 0; c < channels; c++)
                    {
                        int top = ((2 * y) * sourceWidth + 2 * x) * channels + c, bottom = top + sourceWidth * channels;
                        result[(y * width + x) * channels + c] = (source[top] + source[top + channels] + source[bottom] + source[bottom + channels]) * 0.25f;
                    }
            return result;
        }
        var (xIndex, xWeight) = Taps(sourceWidth, width);
        var (yIndex, yWeight) = Taps(sourceHeight, height);
        var row0 = new float[width * channels];
        var row1 = new float[width * channels];
        for (int y = 0; y < height; y++)
        {
            Horizontal(source, sourceWidth, channels, yIndex[2 * y], xIndex, xWeight, row0);
            Horizontal(source, sourceWidth, channels, yIndex[2 * y + 1], xIndex, xWeight, row1);
            float b0 = yWeight[2 * y], b1 = yWeight[2 * y + 1];
            for (int i = 0; i < width * channels; i++) result[y * width * channels + i] = row0[i] * b0 + row1[i] * b1;
        }
        return result;
    }

    private static void Horizontal(ReadOnlySpan<float> source, int sourceWidth, int channels, int sourceRow, int[] index, float[] weight, float[] row)
    {
        var line = source.Slice(sourceRow * sourceWidth * channels, sourceWidth * channels);
        for (int x = 0; x < row.Length / channels; x++)
        {
            int i0 = index[2 * x] * channels, i1 = index[2 * x + 1] * channels;
            float a0 = weight[2 * x], a1 = weight[2 * x + 1];
            for (int c = 0; c < channels; c++) row[x * channels + c] = line[i0 + c] * a0 + line[i1 + c] * a1;
        }
    }

    /// <summary>The two source indices and weights of each output position (OpenCV computes the fraction in float).</summary>
    private static (int[] Index, float[] Weight) Taps(int inSize, int outSize)
    {
        double scale = 1.0 / ((double)outSize / inSize);
        var index = new int[2 * outSize];
        var weight = new float[2 * outSize];
        for (int d = 0; d < outSize; d++)
        {
            float f = (float)((d + 0.5) * scale - 0.5);
            int s = (int)MathF.Floor(f);
            f -= s;
            if (s < 0) { f = 0; s = 0; }
            if (s >= inSize - 1) { f = 0; s = inSize - 1; }
            index[2 * d] = s;
            index[2 * d + 1] = Math.Min(s + 1, inSize - 1);
            weight[2 * d] = 1f - f;
            weight[2 * d + 1] = f;
        }
        return (index, weight);
    }
}
