using System.Runtime.CompilerServices;

namespace Espnet.Compiled.Cpu;

/// <summary>
/// Plain backward kernels, float in and out with double accumulation: the oracle for training, as
/// <see cref="Conv"/> and <see cref="Elementwise"/> are for inference. Each takes the gradient of a scalar loss
/// with respect to an op's output (dy) and gives it with respect to the op's inputs and parameters, with
/// PyTorch's semantics (padding (k-1)/2*d, contiguous groups, weights [cout, cin/g, k, k]; PReLU's slope taken
/// where x &lt;= 0; BatchNorm in training mode normalises with the biased batch variance). Tensors are NCHW;
/// "plane" is H*W.
/// </summary>
public static class Gradients
{
    // Per-thread scratch that only grows: a steady-state training step allocates nothing (a shared pool may trim).
    [ThreadStatic] private static double[]? t_doubles;
    [ThreadStatic] private static int[]? t_targets;

    private static double[] ScratchDoubles(int length)
    {
        if (t_doubles is null || t_doubles.Length < length) t_doubles = new double[length];
        return t_doubles;
    }

    /// <summary>dx of a convolution: every input pixel collects w * dy over the outputs whose taps read it (overwrites dx).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Conv2dInput(ReadOnlySpan<float> dy, int cout, int ho, int wo, ReadOnlySpan<float> weight,
        Span<float> dx, int cin, int h, int w, int kernel, int stride, int dilation, int groups)
    {
        CheckConv(dy.Length, dx.Length, weight.Length, cin, h, w, cout, ho, wo, kernel, groups);
        int pad = (kernel - 1) / 2 * dilation, cinG = cin / groups, coutG = cout / groups;
        var rented = ScratchDoubles(dx.Length);
        var sum = rented.AsSpan(0, dx.Length);
        sum.Clear();
        for (int o = 0; o < cout; o++)
        {
            int g = o / coutG;
            for (int oy = 0; oy < ho; oy++)
                for (int ox = 0; ox < wo; ox++)
                {
                    double d = dy[(o * ho + oy) * wo + ox];
                    if (d == 0) continue;
                    for (int c = 0; c < cinG; c++)
                        for (int ky = 0; ky < kernel; ky++)
                        {
                            int iy = oy * stride - pad + ky * dilation;
                            if ((uint)iy >= (uint)h) continue;
                            for (int kx = 0; kx < kernel; kx++)
                            {
                                int ix = ox * stride - pad + kx * dilation;
                                if ((uint)ix >= (uint)w) continue;
                                sum[((g * cinG + c) * h + iy) * w + ix] += d * weight[((o * cinG + c) * kernel + ky) * kernel + kx];
                            }
                        }
                }
        }
        for (int i = 0; i < sum.Length; i++) dx[i] = (float)sum[i];
    }

    /// <summary>dW of a convolution: each weight collects x * dy over every output it contributed to (overwrites dweight).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Conv2dWeight(ReadOnlySpan<float> x, int cin, int h, int w, ReadOnlySpan<float> dy, int cout, int ho, int wo,
        Span<float> dweight, int kernel, int stride, int dilation, int groups)
    {
        CheckConv(dy.Length, x.Length, dweight.Length, cin, h, w, cout, ho, wo, kernel, groups);
        int pad = (kernel - 1) / 2 * dilation, cinG = cin / groups, coutG = cout / groups;
        for (int o = 0; o < cout; o++)
        {
            int g = o / coutG;
            for (int c = 0; c < cinG; c++)
                for (int ky = 0; ky < kernel; ky++)
                    for (int kx = 0; kx < kernel; kx++)
                    {
                        double s = 0;
                        for (int oy = 0; oy < ho; oy++)
                        {
                            int iy = oy * stride - pad + ky * dilation;
                            if ((uint)iy >= (uint)h) continue;
                            for (int ox = 0; ox < wo; ox++)
                            {
                                int ix = ox * stride - pad + kx * dilation;
                                if ((uint)ix >= (uint)w) continue;
                                s += (double)x[((g * cinG + c) * h + iy) * w + ix] * dy[(o * ho + oy) * wo + ox];
                            }
                        }
                        dweight[((o * cinG + c) * kernel + ky) * kernel + kx] = (float)s;
                    }
        }
    }

    /// <summary>db of a per-channel bias: the sum of dy over each channel's plane (overwrites dbias).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Bias(ReadOnlySpan<float> dy, int channels, int plane, Span<float> dbias)
    {
        for (int c = 0; c < channels; c++)
        {
            double s = 0;
            foreach (float v in dy.Slice(c * plane, plane)) s += v;
            dbias[c] = (float)s;
        }
    }

    /// <summary>
    /// PReLU, y = x &gt; 0 ? x : a * x: dx = x &gt; 0 ? dy : a * dy, and da[c] = the sum of x * dy where x &lt;= 0
    /// (overwrites dx and dslope).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PRelu(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, int channels, int plane, ReadOnlySpan<float> slope,
        Span<float> dx, Span<float> dslope)
    {
        for (int c = 0; c < channels; c++)
        {
            double s = 0;
            float a = slope[c];
            for (int i = c * plane; i < (c + 1) * plane; i++)
            {
                if (x[i] > 0) dx[i] = dy[i];
                else
                {
                    dx[i] = a * dy[i];
                    s += (double)x[i] * dy[i];
                }
            }
            dslope[c] = (float)s;
        }
    }

    /// <summary>
    /// BatchNorm in training mode over a batch (NCHW): y = (x - mean) / sqrt(var + eps) * gamma + beta with the
    /// batch's mean and biased variance per channel; saves mean and 1/sqrt(var + eps) for the backward pass and
    /// moves the running statistics by <paramref name="momentum"/> (PyTorch's 0.1 by default), the running
    /// variance with the unbiased estimate, as PyTorch does.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BatchNormTraining(ReadOnlySpan<float> x, int batch, int channels, int plane, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        double eps, Span<float> y, Span<float> savedMean, Span<float> savedInvStd, Span<float> runningMean, Span<float> runningVar, double momentum = 0.1)
    {
        long count = (long)batch * plane;
        for (int c = 0; c < channels; c++)
        {
            double sum = 0;
            for (int n = 0; n < batch; n++)
                foreach (float v in x.Slice((n * channels + c) * plane, plane)) sum += v;
            double mean = sum / count, squares = 0;
            for (int n = 0; n < batch; n++)
                foreach (float v in x.Slice((n * channels + c) * plane, plane)) squares += (v - mean) * (v - mean);
            double variance = squares / count, invStd = 1 / Math.Sqrt(variance + eps);
            for (int n = 0; n < batch; n++)
            {
                int at = (n * channels + c) * plane;
                for (int i = 0; i < plane; i++) y[at + i] = (float)((x[at + i] - mean) * invStd * gamma[c] + beta[c]);
            }
            savedMean[c] = (float)mean;
            savedInvStd[c] = (float)invStd;
            double unbiased = count > 1 ? squares / (count - 1) : variance;
            runningMean[c] = (float)((1 - momentum) * runningMean[c] + momentum * mean);
            runningVar[c] = (float)((1 - momentum) * runningVar[c] + momentum * unbiased);
        }
    }

    /// <summary>
    /// Backward of <see cref="BatchNormTraining"/>: with xhat = (x - mean) * invStd over the m values of a
    /// channel, dgamma = sum(dy * xhat), dbeta = sum(dy), dx = gamma * invStd / m * (m * dy - dbeta - xhat * dgamma)
    /// (overwrites dx, dgamma and dbeta).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BatchNormTrainingBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, int batch, int channels, int plane,
        ReadOnlySpan<float> gamma, ReadOnlySpan<float> savedMean, ReadOnlySpan<float> savedInvStd, Span<float> dx, Span<float> dgamma, Span<float> dbeta)
    {
        long m = (long)batch * plane;
        for (int c = 0; c < channels; c++)
        {
            double mean = savedMean[c], invStd = savedInvStd[c], sumDy = 0, sumDyXhat = 0;
            for (int n = 0; n < batch; n++)
            {
                int at = (n * channels + c) * plane;
                for (int i = 0; i < plane; i++)
                {
                    sumDy += dy[at + i];
                    sumDyXhat += dy[at + i] * (x[at + i] - mean) * invStd;
                }
            }
            double k = gamma[c] * invStd / m;
            for (int n = 0; n < batch; n++)
            {
                int at = (n * channels + c) * plane;
                for (int i = 0; i < plane; i++)
                    dx[at + i] = (float)(k * (m * dy[at + i] - sumDy - (x[at + i] - mean) * invStd * sumDyXhat));
            }
            dgamma[c] = (float)sumDyXhat;
            dbeta[c] = (float)sumDy;
        }
    }

    /// <summary>
    /// Backward of 3x3, stride 2, pad 1 average pooling with the padding counted (divisor 9): each input pixel
    /// collects dy / 9 from every window it lies in (overwrites dx).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AvgPool3x3S2(ReadOnlySpan<float> dy, int channels, int h, int w, int ho, int wo, Span<float> dx)
    {
        if (ho != (h - 1) / 2 + 1 || wo != (w - 1) / 2 + 1)
            throw new ArgumentException("Gradients.AvgPool3x3S2: the output size does not follow from the input size.");
        var rented = ScratchDoubles(channels * h * w);
        var sum = rented.AsSpan(0, channels * h * w);
        sum.Clear();
        for (int c = 0; c < channels; c++)
            for (int oy = 0; oy < ho; oy++)
                for (int ox = 0; ox < wo; ox++)
                {
                    double d = dy[(c * ho + oy) * wo + ox] / 9.0;
                    for (int iy = Math.Max(0, 2 * oy - 1); iy <= Math.Min(h - 1, 2 * oy + 1); iy++)
                        for (int ix = Math.Max(0, 2 * ox - 1); ix <= Math.Min(w - 1, 2 * ox + 1); ix++)
                            sum[(c * h + iy) * w + ix] += d;
                }
        for (int i = 0; i < sum.Length; i++) dx[i] = (float)sum[i];
    }

    /// <summary>
    /// dx of a transposed convolution (kernel k, stride s, no padding, weights [cin, cout, k, k]): input pixel
    /// (i, j) fed outputs (i*s + a, j*s + b), so it collects w[c, o, a, b] * dy there (overwrites dx).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ConvTranspose2dInput(ReadOnlySpan<float> dy, int cout, int ho, int wo, ReadOnlySpan<float> weight,
        Span<float> dx, int cin, int h, int w, int kernel, int stride)
    {
        CheckTranspose(dy.Length, dx.Length, weight.Length, cin, h, w, cout, ho, wo, kernel, stride);
        for (int c = 0; c < cin; c++)
            for (int i = 0; i < h; i++)
                for (int j = 0; j < w; j++)
                {
                    double s = 0;
                    for (int o = 0; o < cout; o++)
                        for (int a = 0; a < kernel; a++)
                            for (int b = 0; b < kernel; b++)
                                s += (double)weight[((c * cout + o) * kernel + a) * kernel + b] * dy[(o * ho + i * stride + a) * wo + j * stride + b];
                    dx[(c * h + i) * w + j] = (float)s;
                }
    }

    /// <summary>dW of a transposed convolution: w[c, o, a, b] collects x[c, i, j] * dy[o, i*s + a, j*s + b] (overwrites dweight).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ConvTranspose2dWeight(ReadOnlySpan<float> x, int cin, int h, int w, ReadOnlySpan<float> dy, int cout, int ho, int wo,
        Span<float> dweight, int kernel, int stride)
    {
        CheckTranspose(dy.Length, x.Length, dweight.Length, cin, h, w, cout, ho, wo, kernel, stride);
        for (int c = 0; c < cin; c++)
            for (int o = 0; o < cout; o++)
                for (int a = 0; a < kernel; a++)
                    for (int b = 0; b < kernel; b++)
                    {
                        double s = 0;
                        for (int i = 0; i < h; i++)
                            for (int j = 0; j < w; j++)
                                s += (double)x[(c * h + i) * w + j] * dy[(o * ho + i * stride + a) * wo + j * stride + b];
                        dweight[((c * cout + o) * kernel + a) * kernel + b] = (float)s;
                    }
    }

    /// <summary>Global average pooling: every pixel of channel c gets dy[c] / plane (overwrites dx).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void GlobalAvgPool(ReadOnlySpan<float> dy, int channels, int plane, Span<float> dx)
    {
        for (int c = 0; c < channels; c++) dx.Slice(c * plane, plane).Fill((float)((double)dy[c] / plane));
    }

    /// <summary>
    /// Aligned-corners bilinear resize, backward: each output scatters dy to its four sources with the forward's
    /// weights (positions computed exactly as <see cref="Resampling.BilinearAlignCorners"/> does; overwrites dx).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BilinearAlignCorners(ReadOnlySpan<float> dy, int channels, int h, int w, int ho, int wo, Span<float> dx)
    {
        float sx = wo > 1 ? (float)(w - 1) / (wo - 1) : 0f;
        float sy = ho > 1 ? (float)(h - 1) / (ho - 1) : 0f;
        var rented = ScratchDoubles(channels * h * w);
        var sum = rented.AsSpan(0, channels * h * w);
        sum.Clear();
        for (int c = 0; c < channels; c++)
            for (int i = 0; i < ho; i++)
            {
                float src = sy * i;
                int y0 = Math.Min((int)src, h - 1), y1 = Math.Min(y0 + 1, h - 1);
                double ly = src - y0;
                for (int j = 0; j < wo; j++)
                {
                    float srcX = sx * j;
                    int a = Math.Min((int)srcX, w - 1), b = Math.Min(a + 1, w - 1);
                    double fx = srcX - a, d = dy[(c * ho + i) * wo + j];
                    int top = c * h * w + y0 * w, bottom = c * h * w + y1 * w;
                    sum[top + a] += (1 - ly) * (1 - fx) * d;
                    sum[top + b] += (1 - ly) * fx * d;
                    sum[bottom + a] += ly * (1 - fx) * d;
                    sum[bottom + b] += ly * fx * d;
                }
            }
        for (int k = 0; k < sum.Length; k++) dx[k] = (float)sum[k];
    }

    /// <summary>Adaptive average pooling, backward: each cell spreads dy over its window, divided by the window's size (overwrites dx).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AdaptiveAvgPool(ReadOnlySpan<float> dy, int channels, int h, int w, int ho, int wo, Span<float> dx)
    {
        var rented = ScratchDoubles(channels * h * w);
        var sum = rented.AsSpan(0, channels * h * w);
        sum.Clear();
        for (int i = 0; i < ho; i++)
        {
            int r0 = (int)((long)i * h / ho), r1 = (int)(((long)(i + 1) * h + ho - 1) / ho);
            for (int j = 0; j < wo; j++)
            {
                int c0 = (int)((long)j * w / wo), c1 = (int)(((long)(j + 1) * w + wo - 1) / wo);
                double area = (double)(r1 - r0) * (c1 - c0);
                for (int c = 0; c < channels; c++)
                {
                    double d = dy[(c * ho + i) * wo + j] / area;
                    for (int r = r0; r < r1; r++)
                        for (int q = c0; q < c1; q++) sum[(c * h + r) * w + q] += d;
                }
            }
        }
        for (int k = 0; k < sum.Length; k++) dx[k] = (float)sum[k];
    }

    /// <summary>Channel shuffle, backward: the inverse permutation (old channel k*(C/g) + j takes new channel j*g + k).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ChannelShuffle(ReadOnlySpan<float> dy, int channels, int plane, int groups, Span<float> dx)
    {
        int perGroup = channels / groups;
        for (int k = 0; k < groups; k++)
            for (int j = 0; j < perGroup; j++)
                dy.Slice((j * groups + k) * plane, plane).CopyTo(dx.Slice((k * perGroup + j) * plane, plane));
    }

    /// <summary>
    /// The sigmoid gate y = x * sigmoid(g[c]): dx = dy * sigmoid(g[c]), dg[c] = sigmoid'(g[c]) * sum(dy * x)
    /// (x is the input before gating; overwrites dx and dgate).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void SigmoidGate(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, int channels, int plane, ReadOnlySpan<float> gate,
        Span<float> dx, Span<float> dgate)
    {
        for (int c = 0; c < channels; c++)
        {
            double s = 1 / (1 + Math.Exp(-gate[c])), sum = 0;
            for (int i = c * plane; i < (c + 1) * plane; i++)
            {
                dx[i] = (float)(dy[i] * s);
                sum += (double)dy[i] * x[i];
            }
            dgate[c] = (float)(s * (1 - s) * sum);
        }
    }

    /// <summary>
    /// Per-pixel cross-entropy over C classes with PyTorch's mean reduction and class weights: the loss is the
    /// sum over pixels of w[t] * -log softmax(z)[t], divided by the sum of w[t], over the whole batch; pixels
    /// whose target is <paramref name="ignore"/> are left out. dz = w[t] * (softmax(z) - onehot(t)) / that sum,
    /// 0 at ignored pixels. Logits are [N, C, plane], targets [N, plane]; no weights means 1 for every class.
    /// Returns the loss (0 when every pixel is ignored) and overwrites dlogits. A target outside [0, C) that is
    /// not the ignore index is an error naming the pixel and the value.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static double CrossEntropy(ReadOnlySpan<float> logits, ReadOnlySpan<byte> targets, int batch, int classes, int plane,
        ReadOnlySpan<float> classWeights, int ignore, Span<float> dlogits)
    {
        if (t_targets is null || t_targets.Length < targets.Length) t_targets = new int[targets.Length];
        for (int i = 0; i < targets.Length; i++) t_targets[i] = targets[i];
        return CrossEntropy(logits, t_targets.AsSpan(0, targets.Length), batch, classes, plane, classWeights, ignore, dlogits);
    }

    /// <summary>As above with class IDs of any size (image classification: plane 1, 1,000 classes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static double CrossEntropy(ReadOnlySpan<float> logits, ReadOnlySpan<int> targets, int batch, int classes, int plane,
        ReadOnlySpan<float> classWeights, int ignore, Span<float> dlogits)
    {
        double numerator = 0, weightSum = 0;
        var rentedP = ScratchDoubles(classes);
        var p = rentedP.AsSpan(0, classes);
        dlogits.Slice(0, batch * classes * plane).Clear();
        for (int n = 0; n < batch; n++)
        {
            int z0 = n * classes * plane;
            for (int i = 0; i < plane; i++)
            {
                int t = targets[n * plane + i];
                if (t == ignore) continue;
                if ((uint)t >= (uint)classes)
                    throw new ArgumentException($"CrossEntropy: sample {n}, pixel {i} has target {t}, outside the {classes} classes (and not the ignore index {ignore}).");
                double max = double.NegativeInfinity;
                for (int c = 0; c < classes; c++) max = Math.Max(max, logits[z0 + c * plane + i]);
                double z = 0;
                for (int c = 0; c < classes; c++) z += p[c] = Math.Exp(logits[z0 + c * plane + i] - max);
                double wt = classWeights.IsEmpty ? 1 : classWeights[t];
                numerator += wt * -(logits[z0 + t * plane + i] - max - Math.Log(z));
                weightSum += wt;
                for (int c = 0; c < classes; c++) dlogits[z0 + c * plane + i] = (float)(wt * (p[c] / z - (c == t ? 1 : 0)));
            }
        }
        if (weightSum == 0) return 0;
        for (int k = 0; k < batch * classes * plane; k++) dlogits[k] = (float)(dlogits[k] / weightSum);
        return numerator / weightSum;
    }

    /// <summary>
    /// Dropout in training mode (PyTorch's nn.Dropout): each element is kept with probability 1 - p and scaled by
    /// 1 / (1 - p), or zeroed. The mask comes from <paramref name="seed"/> and <paramref name="step"/> alone
    /// (a SplitMix64 stream), so a step replays exactly; <paramref name="keep"/> records it for the backward pass.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void DropoutForward(ReadOnlySpan<float> x, Span<float> y, double p, ulong seed, ulong step, Span<bool> keep)
    {
        if (p < 0 || p >= 1) throw new ArgumentOutOfRangeException(nameof(p), p, "a dropout probability is in [0, 1)");
        ulong state = seed ^ (step * 0x9E3779B97F4A7C15UL);
        float scale = (float)(1 / (1 - p));
        for (int i = 0; i < x.Length; i++)
        {
            // SplitMix64, then the top 53 bits as a uniform double in [0, 1).
            ulong z = state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
            bool kept = (z >> 11) * (1.0 / (1UL << 53)) >= p;
            keep[i] = kept;
            y[i] = kept ? x[i] * scale : 0f;
        }
    }

    /// <summary>Backward of <see cref="DropoutForward"/>: dy through the kept elements, scaled by 1 / (1 - p) (overwrites dx).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Dropout(ReadOnlySpan<float> dy, ReadOnlySpan<bool> keep, double p, Span<float> dx)
    {
        float scale = (float)(1 / (1 - p));
        for (int i = 0; i < dy.Length; i++) dx[i] = keep[i] ? dy[i] * scale : 0f;
    }

    private static void CheckConv(int dyLength, int xLength, int weightLength, int cin, int h, int w, int cout, int ho, int wo, int kernel, int groups)
    {
        if (groups < 1 || cin % groups != 0 || cout % groups != 0 || dyLength < cout * ho * wo || xLength < cin * h * w
            || weightLength < cout * (cin / groups) * kernel * kernel)
            throw new ArgumentException("Gradients: spans or channel counts do not fit the convolution.");
    }

    private static void CheckTranspose(int dyLength, int xLength, int weightLength, int cin, int h, int w, int cout, int ho, int wo, int kernel, int stride)
    {
        if (ho != (h - 1) * stride + kernel || wo != (w - 1) * stride + kernel || dyLength < cout * ho * wo || xLength < cin * h * w
            || weightLength < cin * cout * kernel * kernel)
            throw new ArgumentException("Gradients: spans or sizes do not fit the transposed convolution.");
    }
}
