namespace Espnet.Compiled.Imaging;

/// <summary>From logits to what a user looks at: the label map, its size, colours and an overlay.</summary>
public static class SegmentationMaps
{
    /// <summary>Per pixel, the class with the largest logit (the first on a tie, as torch.argmax); NaN never wins.</summary>
    public static void Argmax(ReadOnlySpan<float> logits, int classes, Span<byte> labels)
    {
        int plane = labels.Length;
        if (classes is < 1 or > 256) throw new ArgumentOutOfRangeException(nameof(classes), classes, "a byte label map holds 1 to 256 classes");
        if (logits.Length != classes * plane) throw new ArgumentException($"{classes} x {plane} logits expected, not {logits.Length}", nameof(logits));
        for (int i = 0; i < plane; i++)
        {
            float best = logits[i];
            int label = 0;
            for (int c = 1; c < classes; c++)
            {
                float v = logits[c * plane + i];
                if (v > best || float.IsNaN(best)) { best = v; label = c; }
            }
            labels[i] = (byte)label;
        }
    }

    /// <summary>
    /// The photo with every labelled pixel blended half and half with its class colour (ESPNet's demo
    /// weights the two 0.5 / 0.5); pixels of the void class keep the photo's colour.
    /// </summary>
    public static RgbImage Overlay(RgbImage photo, ReadOnlySpan<byte> labels, LabelSet set, float opacity = 0.5f)
    {
        if (labels.Length != photo.Width * photo.Height) throw new ArgumentException("the label map is not the photo's size", nameof(labels));
        var blended = (byte[])photo.Pixels.Clone();
        for (int i = 0; i < labels.Length; i++)
        {
            if (labels[i] == set.VoidClass) continue;
            var (r, g, b) = set.Color(labels[i]);
            blended[3 * i] = Blend(blended[3 * i], r, opacity);
            blended[3 * i + 1] = Blend(blended[3 * i + 1], g, opacity);
            blended[3 * i + 2] = Blend(blended[3 * i + 2], b, opacity);
        }
        return new RgbImage(photo.Width, photo.Height, blended);
    }

    /// <summary>The label map painted in its classes' colours.</summary>
    public static RgbImage Colorize(ReadOnlySpan<byte> labels, int width, int height, LabelSet set)
    {
        var pixels = new byte[3 * width * height];
        for (int i = 0; i < labels.Length; i++) (pixels[3 * i], pixels[3 * i + 1], pixels[3 * i + 2]) = set.Color(labels[i]);
        return new RgbImage(width, height, pixels);
    }

    private static byte Blend(byte photo, byte color, float opacity) => (byte)MathF.Round(photo * (1 - opacity) + color * opacity);
}
