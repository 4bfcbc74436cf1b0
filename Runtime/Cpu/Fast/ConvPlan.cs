namespace Espnet.Compiled.Cpu.Fast;

/// <summary>
/// How the fast kernels run a convolution, and the scratch that needs: compiled into both the runtime (which
/// dispatches on it) and the generator (which plans the scratch), so the two cannot disagree.
/// </summary>
internal static class ConvPlan
{
    public enum Method { Pointwise, Dense, Depthwise }

    /// <summary>1x1 stride 1 convolutions are matrix products; depth-wise ones run per channel; the rest directly.</summary>
    public static Method Choose(int cin, int cout, int kernel, int stride, int groups) =>
        kernel == 1 && stride == 1 ? Method.Pointwise
        : groups == cin && groups == cout ? Method.Depthwise
        : Method.Dense;

    /// <summary>
    /// Floats of the zero-padded copy of the input a spatial kernel reads (no bounds checks in its loops):
    /// each channel padded by (k-1)/2*d on every side, plus one row of slack for vector over-reads; a strided
    /// kernel stores each padded row split into its even then odd columns, the same size.
    /// </summary>
    public static long PaddedFloats(int cin, int h, int w, int kernel, int stride, int dilation, int groups)
    {
        if (kernel == 1 && stride == 1 || PadsPerItem(cin, h, w, kernel, stride, dilation)) return 0;
        int pad = (kernel - 1) / 2 * dilation;
        long rowLength = w + 2L * pad;
        return cin * (h + 2L * pad) * rowLength + System.Math.Max(rowLength, 64);
    }

    /// <summary>
    /// Large spatial convolutions (the whole padded input over <see cref="BandFloats"/>) pad their own input, per
    /// work item (one group's channels for a few output rows) into a per-thread buffer: no scratch, and none of the
    /// padding passes and waits of a shared band at a time; only the halo rows are copied twice. Small ones are
    /// padded once, in cache, and may share that copy with the convolutions beside them.
    /// </summary>
    public static bool PadsPerItem(int cin, int h, int w, int kernel, int stride, int dilation)
    {
        if (kernel == 1 && stride == 1) return false;
        int pad = (kernel - 1) / 2 * dilation;
        return (long)cin * (h + 2L * pad) * (w + 2L * pad) > BandFloats;
    }

    /// <summary>Floats of padded input a grouped convolution's work item aims to hold (64 KB: it stays in L2 while read).</summary>
    public const int ItemFloats = 1 << 14;

    /// <summary>About 1 MB: a padded copy larger than this is not made whole (see <see cref="PadsPerItem"/>).</summary>
    public const long BandFloats = 1 << 18;

    /// <summary>
    /// Floats of c channels padded by <paramref name="halo"/> on every side, plus slack: a kernel computes a row's
    /// last columns as one whole vector (up to 16 floats) and may read that far past the last row.
    /// </summary>
    public static long PaddedFloats(int c, int h, int w, int halo)
    {
        long rowLength = w + 2L * halo;
        return (long)c * (h + 2L * halo) * rowLength + System.Math.Max(rowLength, 64);
    }
}
