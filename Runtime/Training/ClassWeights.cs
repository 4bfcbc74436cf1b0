namespace Espnet.Compiled.Training;

/// <summary>Class weights for the segmentation losses, as the authors' training scripts make them.</summary>
public static class ClassWeights
{
    /// <summary>
    /// ESPNet's (ENet-style) weights from a labelled training set: w_c = 1 / ln(normVal + p_c), where p is the
    /// normalised sum of per-image histograms. Like the authors' loader, each image's histogram has
    /// <paramref name="classes"/> equal bins spanning that image's own smallest to largest label (NumPy's
    /// histogram with bins = classes and no range), not one bin per class — kept so the weights match theirs.
    /// </summary>
    public static float[] EspNet(IEnumerable<byte[]> labelImages, int classes, double normVal = 1.10)
    {
        var histogram = new double[classes];
        foreach (byte[] labels in labelImages)
        {
            if (labels.Length == 0) continue;
            AddNumPyHistogram(labels, classes, histogram);
        }
        double total = histogram.Sum();
        if (total == 0) throw new ArgumentException("ClassWeights.EspNet: no labelled pixels.");
        return histogram.Select(h => (float)(1 / Math.Log(normVal + h / total))).ToArray();
    }

    /// <summary>EdgeNets' fixed Cityscapes weights (19 classes and the ignored 20th at 0).</summary>
    public static IReadOnlyList<float> EdgeNetsCityscapes { get; } =
        [2.8149f, 6.9850f, 3.7890f, 9.9428f, 9.7702f, 9.5111f, 10.3114f, 10.0265f, 4.6323f, 9.5608f, 7.8698f, 9.5169f, 10.3737f, 6.6616f, 10.2605f, 10.2879f, 10.2898f, 10.4054f, 10.1381f, 0.0f];

    /// <summary>
    /// numpy.histogram(values, bins) with no range: bins equal-width bins from min to max (min - 0.5 to max + 0.5
    /// when they are equal), the last bin closed; edges as numpy.linspace makes them.
    /// </summary>
    internal static void AddNumPyHistogram(byte[] values, int bins, double[] histogram)
    {
        double first = values.Min(), last = values.Max();
        if (first == last)
        {
            first -= 0.5;
            last += 0.5;
        }
        var edges = new double[bins + 1];
        double step = (last - first) / bins;
        for (int i = 0; i <= bins; i++) edges[i] = first + i * step;
        edges[bins] = last;
        double norm = bins / (last - first);
        foreach (byte v in values)
        {
            int k = (int)((v - first) * norm);
            if (k >= bins) k = bins - 1;
            // numpy's corrections where the computed index and the edges disagree by rounding.
            if (v < edges[k]) k--;
            else if (k != bins - 1 && v >= edges[k + 1]) k++;
            histogram[k]++;
        }
    }
}
