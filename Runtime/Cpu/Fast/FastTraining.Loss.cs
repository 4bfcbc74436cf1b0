using System.Runtime.CompilerServices;

namespace Espnet.Compiled.Cpu.Fast;

/// <summary>
/// Cross-entropy over the batch, spread over the threads. Each pixel's terms are computed exactly as
/// <see cref="Gradients.CrossEntropy(ReadOnlySpan{float}, ReadOnlySpan{int}, int, int, int, ReadOnlySpan{float}, int, Span{float})"/>
/// computes them (double softmax, its gradient rounded to float); a work item is one sample's run of
/// <see cref="LossPixels"/> pixels and sums its loss and weight in double, and the items' sums are added in item
/// order, so the result does not depend on the thread count. The gradient is then divided by the total weight.
/// </summary>
public static unsafe partial class FastTraining
{
    /// <summary>Pixels per work item of the loss.</summary>
    private const int LossPixels = 1024;

    /// <summary>Class counts up to this keep a pixel's exponentials on the stack; above, they are computed twice.</summary>
    private const int StackedClasses = 2048;

    [ThreadStatic] private static double[]? t_lossSums;
    [ThreadStatic] private static int[]? t_lossBad;

    private struct LossArgs
    {
        public float* Logits, DLogits, Weights;
        public byte* Bytes;
        public int* Ints;
        public double* Sums;
        public int* Bad;
        public int Classes, Plane, Ignore, Runs;
    }

    /// <summary>Per-pixel cross-entropy with byte class IDs (segmentation labels); see the class summary.</summary>
    public static double CrossEntropy(ReadOnlySpan<float> logits, ReadOnlySpan<byte> targets, int batch, int classes, int plane,
        ReadOnlySpan<float> classWeights, int ignore, Span<float> dlogits)
    {
        fixed (byte* pt = targets) return CrossEntropy(logits, pt, null, targets.Length, batch, classes, plane, classWeights, ignore, dlogits);
    }

    /// <summary>As above with class IDs of any size (image classification: plane 1, 1,000 classes).</summary>
    public static double CrossEntropy(ReadOnlySpan<float> logits, ReadOnlySpan<int> targets, int batch, int classes, int plane,
        ReadOnlySpan<float> classWeights, int ignore, Span<float> dlogits)
    {
        fixed (int* pt = targets) return CrossEntropy(logits, null, pt, targets.Length, batch, classes, plane, classWeights, ignore, dlogits);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double CrossEntropy(ReadOnlySpan<float> logits, byte* bytes, int* ints, int targetCount, int batch, int classes, int plane,
        ReadOnlySpan<float> classWeights, int ignore, Span<float> dlogits)
    {
        long n = (long)batch * classes * plane;
        if (logits.Length < n || dlogits.Length < n || targetCount < batch * plane || (!classWeights.IsEmpty && classWeights.Length < classes))
            throw new ArgumentException($"CrossEntropy: spans too short for {batch} x {classes} classes of {plane} pixels.");
        int runs = (plane + LossPixels - 1) / LossPixels, items = batch * runs;
        if (t_lossSums is null || t_lossSums.Length < 2 * items) t_lossSums = new double[2 * items];
        if (t_lossBad is null || t_lossBad.Length < items) t_lossBad = new int[items];
        double numerator = 0, weightSum = 0;
        fixed (float* pl = logits, pd = dlogits, pw = classWeights)
        fixed (double* ps = t_lossSums)
        fixed (int* pb = t_lossBad)
        {
            var a = new LossArgs
            {
                Logits = pl, DLogits = pd, Weights = classWeights.IsEmpty ? null : pw, Bytes = bytes, Ints = ints, Sums = ps, Bad = pb,
                Classes = classes, Plane = plane, Ignore = ignore, Runs = runs,
            };
            Workers.For(&a, &LossItem, items, 16L * n);
            for (int k = 0; k < items; k++)
                if (pb[k] > 0)
                {
                    int at = pb[k] - 1, t = ints != null ? ints[at] : bytes[at];
                    throw new ArgumentException($"CrossEntropy: sample {at / plane}, pixel {at % plane} has target {t}, outside the {classes} classes (and not the ignore index {ignore}).");
                }
            for (int k = 0; k < items; k++)
            {
                numerator += ps[2 * k];
                weightSum += ps[2 * k + 1];
            }
            if (weightSum == 0) return 0;
            var scale = new ScaleArgs { Values = pd, Length = n, Divisor = weightSum };
            Workers.For(&scale, &ScaleItem, (int)((n + LossPixels * 16 - 1) / (LossPixels * 16)), 4 * n);
        }
        return numerator / weightSum;
    }

    /// <summary>One sample's run of pixels: each pixel's loss term and gradient (unscaled), the run's two sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void LossItem(void* state, int item)
    {
        ref LossArgs a = ref *(LossArgs*)state;
        int sample = item / a.Runs, from = item % a.Runs * LossPixels, to = Math.Min(a.Plane, from + LossPixels), classes = a.Classes;
        nint z0 = (nint)sample * classes * a.Plane;
        float* logits = a.Logits + z0, dlogits = a.DLogits + z0;
        double* p = stackalloc double[Math.Min(classes, StackedClasses)];
        bool stacked = classes <= StackedClasses;
        double numerator = 0, weightSum = 0;
        a.Bad[item] = 0;
        for (int i = from; i < to; i++)
        {
            int at = sample * a.Plane + i, t = a.Ints != null ? a.Ints[at] : a.Bytes[at];
            if (t == a.Ignore)
            {
                for (int c = 0; c < classes; c++) dlogits[(nint)c * a.Plane + i] = 0;
                continue;
            }
            if ((uint)t >= (uint)classes)
            {
                a.Bad[item] = at + 1;
                return;
            }
            double max = double.NegativeInfinity;
            for (int c = 0; c < classes; c++) max = Math.Max(max, logits[(nint)c * a.Plane + i]);
            double z = 0;
            for (int c = 0; c < classes; c++)
            {
                double e = Math.Exp(logits[(nint)c * a.Plane + i] - max);
                if (stacked) p[c] = e;
                z += e;
            }
            double wt = a.Weights == null ? 1 : a.Weights[t];
            numerator += wt * -(logits[(nint)t * a.Plane + i] - max - Math.Log(z));
            weightSum += wt;
            for (int c = 0; c < classes; c++)
            {
                double e = stacked ? p[c] : Math.Exp(logits[(nint)c * a.Plane + i] - max);
                dlogits[(nint)c * a.Plane + i] = (float)(wt * (e / z - (c == t ? 1 : 0)));
            }
        }
        a.Sums[2 * item] = numerator;
        a.Sums[2 * item + 1] = weightSum;
    }

    private struct ScaleArgs
    {
        public float* Values;
        public long Length;
        public double Divisor;
    }

    /// <summary>values[k] = (float)(values[k] / divisor) over one chunk (the reference's rounding).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScaleItem(void* state, int chunk)
    {
        ref ScaleArgs a = ref *(ScaleArgs*)state;
        long from = (long)chunk * LossPixels * 16, to = Math.Min(a.Length, from + LossPixels * 16);
        for (long k = from; k < to; k++) a.Values[k] = (float)(a.Values[k] / a.Divisor);
    }
}
