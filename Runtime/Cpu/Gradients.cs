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
    /// <summary>dx of a convolution: every input pixel collects w * dy over the outputs whose taps read it (overwrites dx).</summary>
    public static void Conv2dInput(ReadOnlySpan<float> dy, int cout, int ho, int wo, ReadOnlySpan<float> weight,
        Span<float> dx, int cin, int h, int w, int kernel, int stride, int dilation, int groups)
    {
        CheckConv(dy.Length, dx.Length, weight.Length, cin, h, w, cout, ho, wo, kernel, groups);
        int pad = (kernel - 1) / 2 * dilation, cinG = cin / groups, coutG = cout / groups;
        var sum = new double[dx.Length];
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
    public static void AvgPool3x3S2(ReadOnlySpan<float> dy, int channels, int h, int w, int ho, int wo, Span<float> dx)
    {
        if (ho != (h - 1) / 2 + 1 || wo != (w - 1) / 2 + 1)
            throw new ArgumentException("Gradients.AvgPool3x3S2: the output size does not follow from the input size.");
        var sum = new double[channels * h * w];
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

    private static void CheckConv(int dyLength, int xLength, int weightLength, int cin, int h, int w, int cout, int ho, int wo, int kernel, int groups)
    {
        if (groups < 1 || cin % groups != 0 || cout % groups != 0 || dyLength < cout * ho * wo || xLength < cin * h * w
            || weightLength < cout * (cin / groups) * kernel * kernel)
            throw new ArgumentException("Gradients: spans or channel counts do not fit the convolution.");
    }
}
