using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Espnet.Compiled.Cpu.Fast;

/// <summary>
/// The training pass's per-channel kernels over a whole batch (NCHW): BatchNorm in training mode (statistics,
/// normalisation, backward) and PReLU (forward, backward with the slope's gradient). One work item per channel,
/// so a channel's sums are made by one thread in one order (the same result for any thread count). Float32
/// vectors, as PyTorch trains; each sum is taken in float over runs of at most <see cref="Run"/> values and the
/// runs added in double, which keeps a 500,000-value channel sum as exact as the plain double kernels in
/// <see cref="Gradients"/> (their oracle in Tests/Kernels/FastTrainingTests.cs) to float rounding.
/// </summary>
public static unsafe class FastTrainingElementwise
{
    private const int Run = 512;

    /// <summary>
    /// BatchNorm forward in training mode: the batch's mean and biased variance per channel, y = (x - mean) *
    /// (gamma / sqrt(var + eps)) + beta; saves mean and 1/sqrt(var + eps); moves the running statistics by
    /// <paramref name="momentum"/> (running variance with the unbiased estimate), as PyTorch does.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BatchNormTraining(ReadOnlySpan<float> x, int batch, int channels, int plane, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        double eps, Span<float> y, Span<float> savedMean, Span<float> savedInvStd, Span<float> runningMean, Span<float> runningVar, double momentum = 0.1)
    {
        long n = (long)batch * channels * plane;
        if (x.Length < n || y.Length < n || gamma.Length < channels || beta.Length < channels || savedMean.Length < channels
            || savedInvStd.Length < channels || runningMean.Length < channels || runningVar.Length < channels)
            throw new ArgumentException($"BatchNormTraining: spans too short for {batch} x {channels} channels of {plane}.");
        fixed (float* px = x, py = y, pg = gamma, pb = beta, pm = savedMean, ps = savedInvStd, prm = runningMean, prv = runningVar)
        {
            var a = new Args
            {
                X = px, Y = py, Gamma = pg, Beta = pb, Mean = pm, InvStd = ps, RunningMean = prm, RunningVar = prv,
                Batch = batch, Channels = channels, Plane = plane, Eps = eps, Momentum = momentum,
            };
            Workers.For(&a, &NormItem, channels, 3 * n);
        }
    }

    /// <summary>
    /// <see cref="BatchNormTraining"/> then <see cref="PRelu"/> with <paramref name="slope"/>, in one pass that writes only
    /// the activation (the BatchNorm's output is never stored: <see cref="BatchNormPReluTrainingBackward"/> recomputes
    /// it from x, the saved statistics and <paramref name="savedScale"/>, the float scale this pass used). Bit-identical
    /// to the two kernels in turn.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BatchNormPReluTraining(ReadOnlySpan<float> x, int batch, int channels, int plane, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        double eps, ReadOnlySpan<float> slope, Span<float> y, Span<float> savedMean, Span<float> savedInvStd, Span<float> savedScale,
        Span<float> runningMean, Span<float> runningVar, double momentum = 0.1)
    {
        long n = (long)batch * channels * plane;
        if (x.Length < n || y.Length < n || gamma.Length < channels || beta.Length < channels || slope.Length < channels || savedMean.Length < channels
            || savedInvStd.Length < channels || savedScale.Length < channels || runningMean.Length < channels || runningVar.Length < channels)
            throw new ArgumentException($"BatchNormPReluTraining: spans too short for {batch} x {channels} channels of {plane}.");
        fixed (float* px = x, py = y, pg = gamma, pb = beta, pa = slope, pm = savedMean, ps = savedInvStd, psc = savedScale, prm = runningMean, prv = runningVar)
        {
            var a = new Args
            {
                X = px, Y = py, Gamma = pg, Beta = pb, Slope = pa, Mean = pm, InvStd = ps, Scale = psc, RunningMean = prm, RunningVar = prv,
                Batch = batch, Channels = channels, Plane = plane, Eps = eps, Momentum = momentum,
            };
            Workers.For(&a, &NormItem, channels, 3 * n);
        }
    }

    /// <summary>
    /// Backward of <see cref="BatchNormPReluTraining"/>: the BatchNorm's output v recomputed from x and the saved
    /// statistics as the forward computed it, g = v &gt; 0 ? dy : slope * dy, dslope += sum over v &lt;= 0 of v * dy, then
    /// <see cref="BatchNormTrainingBackward"/> of g — two passes over x and dy where the separate kernels made
    /// three and stored g. Bit-identical to <see cref="PReluBackward"/> then <see cref="BatchNormTrainingBackward"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BatchNormPReluTrainingBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, int batch, int channels, int plane,
        ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, ReadOnlySpan<float> slope, ReadOnlySpan<float> savedMean, ReadOnlySpan<float> savedInvStd,
        ReadOnlySpan<float> savedScale, Span<float> dx, Span<float> dgamma, Span<float> dbeta, Span<float> dslope, bool overwrite = false)
    {
        long n = (long)batch * channels * plane;
        if (x.Length < n || dy.Length < n || (!dx.IsEmpty && dx.Length < n) || gamma.Length < channels || beta.Length < channels || slope.Length < channels
            || savedMean.Length < channels || savedInvStd.Length < channels || savedScale.Length < channels || dgamma.Length < channels || dbeta.Length < channels
            || dslope.Length < channels)
            throw new ArgumentException($"BatchNormPReluTrainingBackward: spans too short for {batch} x {channels} channels of {plane}.");
        fixed (float* px = x, pdy = dy, pdx = dx, pg = gamma, pb = beta, pa = slope, pm = savedMean, ps = savedInvStd, psc = savedScale, pdg = dgamma, pdb = dbeta, pds = dslope)
        {
            var a = new Args
            {
                X = px, Y = pdy, Dx = dx.IsEmpty ? null : pdx, Gamma = pg, Beta = pb, Slope = pa, Mean = pm, InvStd = ps, Scale = psc, DGamma = pdg, DBeta = pdb, DSlope = pds,
                Batch = batch, Channels = channels, Plane = plane, Overwrite = overwrite,
            };
            Workers.For(&a, &NormPReluBackwardItem, channels, 4 * n);
        }
    }

    /// <summary>
    /// Backward of <see cref="BatchNormTraining"/>: with xhat = (x - mean) * invStd over the m values of a channel,
    /// dgamma += sum(dy * xhat), dbeta += sum(dy), and (dx non-empty) dx += gamma * invStd * (dy - dbeta/m - xhat * dgamma/m).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BatchNormTrainingBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, int batch, int channels, int plane,
        ReadOnlySpan<float> gamma, ReadOnlySpan<float> savedMean, ReadOnlySpan<float> savedInvStd, Span<float> dx, Span<float> dgamma, Span<float> dbeta,
        bool overwrite = false) =>
        NormBackward(x, dy, batch, channels, plane, gamma, savedMean, savedInvStd, dx, dgamma, dbeta, overwrite, &NormBackwardItem, nameof(BatchNormTrainingBackward));

    /// <summary>
    /// Backward of BatchNorm with fixed statistics (frozen: y = (x - mean) * invStd * gamma + beta, mean and invStd
    /// constants): dgamma += sum(dy * (x - mean) * invStd), dbeta += sum(dy), and (dx non-empty) dx += dy * gamma * invStd.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void BatchNormFrozenBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, int batch, int channels, int plane,
        ReadOnlySpan<float> gamma, ReadOnlySpan<float> mean, ReadOnlySpan<float> invStd, Span<float> dx, Span<float> dgamma, Span<float> dbeta,
        bool overwrite = false) =>
        NormBackward(x, dy, batch, channels, plane, gamma, mean, invStd, dx, dgamma, dbeta, overwrite, &FrozenBackwardItem, nameof(BatchNormFrozenBackward));

    /// <summary>The two BatchNorm backward passes' checks and hand-out: one channel per work item, <paramref name="item"/> the rule.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void NormBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, int batch, int channels, int plane, ReadOnlySpan<float> gamma,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> invStd, Span<float> dx, Span<float> dgamma, Span<float> dbeta, bool overwrite,
        delegate*<void*, int, void> item, string name)
    {
        long n = (long)batch * channels * plane;
        if (x.Length < n || dy.Length < n || (!dx.IsEmpty && dx.Length < n) || gamma.Length < channels || mean.Length < channels
            || invStd.Length < channels || dgamma.Length < channels || dbeta.Length < channels)
            throw new ArgumentException($"{name}: spans too short for {batch} x {channels} channels of {plane}.");
        fixed (float* px = x, pdy = dy, pdx = dx, pg = gamma, pm = mean, ps = invStd, pdg = dgamma, pdb = dbeta)
        {
            var a = new Args
            {
                X = px, Y = pdy, Dx = dx.IsEmpty ? null : pdx, Gamma = pg, Mean = pm, InvStd = ps, DGamma = pdg, DBeta = pdb,
                Batch = batch, Channels = channels, Plane = plane, Overwrite = overwrite,
            };
            Workers.For(&a, item, channels, 3 * n);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FrozenBackwardItem(void* state, int c)
    {
        ref Args a = ref *(Args*)state;
        int plane = a.Plane;
        float mean = a.Mean[c];
        double invStd = a.InvStd[c], sumDy = 0, sumDyDev = 0;
        float k = (float)(a.Gamma[c] * invStd);
        var vk = Vector256.Create(k);
        for (int n = 0; n < a.Batch; n++)
        {
            nint at = ((nint)n * a.Channels + c) * plane;
            sumDy += Sum(a.Y + at, plane);
            sumDyDev += DotDeviations(a.Y + at, a.X + at, plane, mean);
            if (a.Dx == null) continue;
            float* dy = a.Y + at, dx = a.Dx + at;
            int i = 0;
            bool keep = !a.Overwrite;
            for (; i + 8 <= plane; i += 8) ((keep ? Vector256.Load(dx + i) : Vector256<float>.Zero) + Vector256.Load(dy + i) * vk).Store(dx + i);
            for (; i < plane; i++) dx[i] = (keep ? dx[i] : 0) + dy[i] * k;
        }
        a.DGamma[c] += (float)(sumDyDev * invStd);
        a.DBeta[c] += (float)sumDy;
    }

    /// <summary>y = x &gt; 0 ? x : slope * x per channel, over the batch.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PRelu(ReadOnlySpan<float> x, Span<float> y, int batch, int channels, int plane, ReadOnlySpan<float> slope)
    {
        long n = (long)batch * channels * plane;
        if (x.Length < n || y.Length < n || slope.Length < channels)
            throw new ArgumentException($"PRelu: spans too short for {batch} x {channels} channels of {plane}.");
        fixed (float* px = x, py = y, pa = slope)
        {
            var a = new Args { X = px, Y = py, Gamma = pa, Batch = batch, Channels = channels, Plane = plane };
            Workers.For(&a, &PReluItem, channels, n);
        }
    }

    /// <summary>Backward of <see cref="PRelu"/>: dx += x &gt; 0 ? dy : slope * dy (dx non-empty), dslope += sum over x &lt;= 0 of x * dy.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PReluBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, int batch, int channels, int plane, ReadOnlySpan<float> slope,
        Span<float> dx, Span<float> dslope, bool overwrite = false)
    {
        long n = (long)batch * channels * plane;
        if (x.Length < n || dy.Length < n || (!dx.IsEmpty && dx.Length < n) || slope.Length < channels || dslope.Length < channels)
            throw new ArgumentException($"PReluBackward: spans too short for {batch} x {channels} channels of {plane}.");
        fixed (float* px = x, pdy = dy, pdx = dx, pa = slope, pds = dslope)
        {
            var a = new Args { X = px, Y = pdy, Dx = dx.IsEmpty ? null : pdx, Gamma = pa, DGamma = pds, Batch = batch, Channels = channels, Plane = plane, Overwrite = overwrite };
            Workers.For(&a, &PReluBackwardItem, channels, 2 * n);
        }
    }

    /// <summary>
    /// Backward of 3x3, stride 2, pad 1 average pooling with the padding counted (divisor 9), over the batch:
    /// dx += (sum of dy over the windows each input lies in) / 9. An even input row or column lies in one window
    /// (k for 2k), an odd one in two (k and k + 1 for 2k + 1).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AvgPool3x3S2Backward(ReadOnlySpan<float> dy, int batch, int channels, int h, int w, int ho, int wo, Span<float> dx)
    {
        if (ho != (h - 1) / 2 + 1 || wo != (w - 1) / 2 + 1 || dy.Length < (long)batch * channels * ho * wo || dx.Length < (long)batch * channels * h * w)
            throw new ArgumentException("AvgPool3x3S2Backward: spans or sizes do not agree.");
        fixed (float* pdy = dy, pdx = dx)
        {
            var a = new PoolArgs { Dy = pdy, Dx = pdx, H = h, W = w, Ho = ho, Wo = wo };
            Workers.For(&a, &PoolBackwardItem, batch * channels, (long)batch * channels * h * w);
        }
    }

    private struct PoolArgs
    {
        public float* Dy, Dx;
        public int H, W, Ho, Wo;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PoolBackwardItem(void* state, int plane)
    {
        ref PoolArgs a = ref *(PoolArgs*)state;
        int h = a.H, w = a.W, ho = a.Ho, wo = a.Wo;
        float* dy = a.Dy + (nint)plane * ho * wo, dx = a.Dx + (nint)plane * h * w;
        float* rows = stackalloc float[wo + 1];
        for (int iy = 0; iy < h; iy++)
        {
            // The windows' rows this input row lies in, summed.
            int k = iy >> 1;
            float* first = dy + (nint)k * wo;
            if ((iy & 1) == 1 && k + 1 < ho)
            {
                float* second = first + wo;
                for (int j = 0; j < wo; j++) rows[j] = first[j] + second[j];
            }
            else
                for (int j = 0; j < wo; j++) rows[j] = first[j];
            rows[wo] = 0;
            float* d = dx + (nint)iy * w;
            for (int ix = 0; ix < w; ix++)
            {
                int q = ix >> 1;
                float v = (ix & 1) == 0 ? rows[q] : rows[q] + rows[q + 1];
                d[ix] += v / 9f;
            }
        }
    }

    private struct Args
    {
        public float* X, Y, Dx, Gamma, Beta, Mean, InvStd, RunningMean, RunningVar, DGamma, DBeta;
        /// <summary>BatchNorm + PReLU: the PReLU's slope (null: a BatchNorm alone), its gradient, and the float scale of the forward.</summary>
        public float* Slope, DSlope, Scale;
        public int Batch, Channels, Plane;
        public double Eps, Momentum;
        /// <summary>Backward kernels: dx = (their term) instead of dx += (their term) (the first contribution to a gradient).</summary>
        public bool Overwrite;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void NormItem(void* state, int c)
    {
        ref Args a = ref *(Args*)state;
        int plane = a.Plane;
        long m = (long)a.Batch * plane;
        double sum = 0;
        for (int n = 0; n < a.Batch; n++) sum += Sum(a.X + ((nint)n * a.Channels + c) * plane, plane);
        double mean = sum / m;
        float meanF = (float)mean;
        double squares = 0;
        for (int n = 0; n < a.Batch; n++) squares += SquaredDeviations(a.X + ((nint)n * a.Channels + c) * plane, plane, meanF);
        // The deviations were taken from the float mean: correct for its rounding (sum of (x - mf)^2 = S + m (mean - mf)^2).
        double shift = mean - meanF;
        squares = Math.Max(0, squares - m * shift * shift);
        double variance = squares / m, invStd = 1 / Math.Sqrt(variance + a.Eps);
        float scale = (float)(invStd * a.Gamma[c]), beta = a.Beta[c];
        var vm = Vector256.Create(meanF);
        var vs = Vector256.Create(scale);
        var vb = Vector256.Create(beta);
        bool act = a.Slope != null;
        float slope = act ? a.Slope[c] : 0;
        var va = Vector256.Create(slope);
        for (int n = 0; n < a.Batch; n++)
        {
            nint at = ((nint)n * a.Channels + c) * plane;
            float* x = a.X + at, y = a.Y + at;
            int i = 0;
            if (act)
            {
                // PReLU as PReluItem computes it, on the value the BatchNorm alone would have stored.
                for (; i + 8 <= plane; i += 8)
                {
                    var v = (Vector256.Load(x + i) - vm) * vs + vb;
                    Vector256.ConditionalSelect(Vector256.GreaterThan(v, Vector256<float>.Zero), v, v * va).Store(y + i);
                }
                for (; i < plane; i++)
                {
                    float v = (x[i] - meanF) * scale + beta;
                    y[i] = v > 0 ? v : slope * v;
                }
                continue;
            }
            for (; i + 8 <= plane; i += 8) ((Vector256.Load(x + i) - vm) * vs + vb).Store(y + i);
            for (; i < plane; i++) y[i] = (x[i] - meanF) * scale + beta;
        }
        a.Mean[c] = meanF;
        a.InvStd[c] = (float)invStd;
        if (a.Scale != null) a.Scale[c] = scale;
        double unbiased = m > 1 ? squares / (m - 1) : variance;
        a.RunningMean[c] = (float)((1 - a.Momentum) * a.RunningMean[c] + a.Momentum * mean);
        a.RunningVar[c] = (float)((1 - a.Momentum) * a.RunningVar[c] + a.Momentum * unbiased);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void NormBackwardItem(void* state, int c)
    {
        ref Args a = ref *(Args*)state;
        int plane = a.Plane;
        long m = (long)a.Batch * plane;
        float mean = a.Mean[c];
        double invStd = a.InvStd[c], sumDy = 0, sumDyDev = 0;
        for (int n = 0; n < a.Batch; n++)
        {
            nint at = ((nint)n * a.Channels + c) * plane;
            sumDy += Sum(a.Y + at, plane);
            sumDyDev += DotDeviations(a.Y + at, a.X + at, plane, mean);
        }
        double sumDyXhat = sumDyDev * invStd;
        a.DGamma[c] += (float)sumDyXhat;
        a.DBeta[c] += (float)sumDy;
        if (a.Dx == null) return;
        double g = a.Gamma[c] * invStd;
        // dx += g * dy - g * sumDy / m - g * invStd * sumDyXhat / m * (x - mean)
        float k0 = (float)g, k1 = (float)(-g * sumDy / m), k2 = (float)(-g * invStd * sumDyXhat / m);
        var v0 = Vector256.Create(k0);
        var v1 = Vector256.Create(k1);
        var v2 = Vector256.Create(k2);
        var vm = Vector256.Create(mean);
        for (int n = 0; n < a.Batch; n++)
        {
            nint at = ((nint)n * a.Channels + c) * plane;
            float* x = a.X + at, dy = a.Y + at, dx = a.Dx + at;
            int i = 0;
            bool keep = !a.Overwrite;
            for (; i + 8 <= plane; i += 8)
                ((keep ? Vector256.Load(dx + i) : Vector256<float>.Zero) + (Vector256.Load(dy + i) * v0 + v1 + (Vector256.Load(x + i) - vm) * v2)).Store(dx + i);
            for (; i < plane; i++) dx[i] = (keep ? dx[i] : 0) + (dy[i] * k0 + k1 + (x[i] - mean) * k2);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void NormPReluBackwardItem(void* state, int c)
    {
        ref Args a = ref *(Args*)state;
        int plane = a.Plane;
        long m = (long)a.Batch * plane;
        float mean = a.Mean[c], beta = a.Beta[c], slope = a.Slope[c];
        double invStd = a.InvStd[c], sumDy = 0, sumDyDev = 0, sumSlope = 0;
        // The forward's scale (saved: recomputing it from the float invStd could differ in the last bit), so
        // v = (x - mean) * scale + beta is exactly what NormItem computed.
        float scale = a.Scale[c];
        Vector256<float> vm = Vector256.Create(mean), vs = Vector256.Create(scale), vb = Vector256.Create(beta), va = Vector256.Create(slope);
        // Pass 1: the three sums in PReluBackward's and RunSum's order (runs of Run floats per sample, each run's
        // float vector reduced into double), so they equal the separate kernels' sums bit for bit.
        for (int n = 0; n < a.Batch; n++)
        {
            nint at = ((nint)n * a.Channels + c) * plane;
            float* x = a.X + at, dy = a.Y + at;
            for (int start = 0; start < plane; start += Run)
            {
                int end = Math.Min(plane, start + Run), i = start;
                Vector256<float> s0 = Vector256<float>.Zero, s1 = s0, s2 = s0, s3 = s0, d0 = s0, d1 = s0, d2 = s0, d3 = s0, e0 = s0, e1 = s0, e2 = s0, e3 = s0;
                float tailSlope = 0, tailDy = 0, tailDev = 0;
                // RunSum's order (Lanes), for each of the three sums.
                for (; i + 32 <= end; i += 32)
                {
                    NormPReluStep(x, dy, i, vm, vs, vb, va, ref s0, ref d0, ref e0);
                    NormPReluStep(x, dy, i + 8, vm, vs, vb, va, ref s1, ref d1, ref e1);
                    NormPReluStep(x, dy, i + 16, vm, vs, vb, va, ref s2, ref d2, ref e2);
                    NormPReluStep(x, dy, i + 24, vm, vs, vb, va, ref s3, ref d3, ref e3);
                }
                for (; i + 8 <= end; i += 8) NormPReluStep(x, dy, i, vm, vs, vb, va, ref s0, ref d0, ref e0);
                for (; i < end; i++)
                {
                    float v = (x[i] - mean) * scale + beta, g;
                    if (v > 0) g = dy[i];
                    else
                    {
                        g = slope * dy[i];
                        tailSlope += v * dy[i];
                    }
                    tailDy += g;
                    tailDev += g * (x[i] - mean);
                }
                sumSlope += (double)Vector256.Sum(Lanes(s0, s1, s2, s3)) + tailSlope;
                sumDy += (double)Vector256.Sum(Lanes(d0, d1, d2, d3)) + tailDy;
                sumDyDev += (double)Vector256.Sum(Lanes(e0, e1, e2, e3)) + tailDev;
            }
        }
        a.DSlope[c] += (float)sumSlope;
        double sumDyXhat = sumDyDev * invStd;
        a.DGamma[c] += (float)sumDyXhat;
        a.DBeta[c] += (float)sumDy;
        if (a.Dx == null) return;
        // Pass 2: dx as NormBackwardItem computes it from g.
        double gk = a.Gamma[c] * invStd;
        float k0 = (float)gk, k1 = (float)(-gk * sumDy / m), k2 = (float)(-gk * invStd * sumDyXhat / m);
        Vector256<float> v0 = Vector256.Create(k0), v1 = Vector256.Create(k1), v2 = Vector256.Create(k2);
        bool keep = !a.Overwrite;
        for (int n = 0; n < a.Batch; n++)
        {
            nint at = ((nint)n * a.Channels + c) * plane;
            float* x = a.X + at, dy = a.Y + at, dx = a.Dx + at;
            int i = 0;
            for (; i + 8 <= plane; i += 8)
            {
                var xv = Vector256.Load(x + i);
                var v = (xv - vm) * vs + vb;
                var d = Vector256.Load(dy + i);
                var g = Vector256.ConditionalSelect(Vector256.GreaterThan(v, Vector256<float>.Zero), d, d * va);
                ((keep ? Vector256.Load(dx + i) : Vector256<float>.Zero) + (g * v0 + v1 + (xv - vm) * v2)).Store(dx + i);
            }
            for (; i < plane; i++)
            {
                float v = (x[i] - mean) * scale + beta, g = v > 0 ? dy[i] : slope * dy[i];
                dx[i] = (keep ? dx[i] : 0) + (g * k0 + k1 + (x[i] - mean) * k2);
            }
        }
    }

    /// <summary>
    /// Eight elements of the fused backward's first pass: the PReLU's slope terms, its gradient g and g (x - mean),
    /// each as PReluBackward and NormBackward compute them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void NormPReluStep(float* x, float* dy, int i, Vector256<float> vm, Vector256<float> vs, Vector256<float> vb, Vector256<float> va,
        ref Vector256<float> slope, ref Vector256<float> sumDy, ref Vector256<float> sumDev)
    {
        var xv = Vector256.Load(x + i);
        var v = (xv - vm) * vs + vb;
        var d = Vector256.Load(dy + i);
        var positive = Vector256.GreaterThan(v, Vector256<float>.Zero);
        slope += Vector256.ConditionalSelect(positive, Vector256<float>.Zero, v * d);
        var g = Vector256.ConditionalSelect(positive, d, d * va);
        sumDy += g;
        sumDev += g * (xv - vm);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PReluItem(void* state, int c)
    {
        ref Args a = ref *(Args*)state;
        int plane = a.Plane;
        float s = a.Gamma[c];
        var vs = Vector256.Create(s);
        for (int n = 0; n < a.Batch; n++)
        {
            nint at = ((nint)n * a.Channels + c) * plane;
            float* x = a.X + at, y = a.Y + at;
            int i = 0;
            for (; i + 8 <= plane; i += 8)
            {
                var v = Vector256.Load(x + i);
                Vector256.ConditionalSelect(Vector256.GreaterThan(v, Vector256<float>.Zero), v, v * vs).Store(y + i);
            }
            for (; i < plane; i++) y[i] = x[i] > 0 ? x[i] : s * x[i];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PReluBackwardItem(void* state, int c)
    {
        ref Args a = ref *(Args*)state;
        int plane = a.Plane;
        float s = a.Gamma[c];
        var vs = Vector256.Create(s);
        double total = 0;
        bool keep = !a.Overwrite;
        for (int n = 0; n < a.Batch; n++)
        {
            nint at = ((nint)n * a.Channels + c) * plane;
            float* x = a.X + at, dy = a.Y + at, dx = a.Dx == null ? null : a.Dx + at;
            for (int start = 0; start < plane; start += Run)
            {
                int end = Math.Min(plane, start + Run), i = start;
                Vector256<float> a0 = Vector256<float>.Zero, a1 = a0, a2 = a0, a3 = a0;
                float tail = 0;
                for (; i + 32 <= end; i += 32)
                {
                    a0 += PReluStep(x, dy, dx, i, vs, keep);
                    a1 += PReluStep(x, dy, dx, i + 8, vs, keep);
                    a2 += PReluStep(x, dy, dx, i + 16, vs, keep);
                    a3 += PReluStep(x, dy, dx, i + 24, vs, keep);
                }
                for (; i + 8 <= end; i += 8) a0 += PReluStep(x, dy, dx, i, vs, keep);
                for (; i < end; i++)
                {
                    if (x[i] > 0)
                    {
                        if (dx != null) dx[i] = (keep ? dx[i] : 0) + dy[i];
                    }
                    else
                    {
                        if (dx != null) dx[i] = (keep ? dx[i] : 0) + s * dy[i];
                        tail += x[i] * dy[i];
                    }
                }
                total += (double)Vector256.Sum(Lanes(a0, a1, a2, a3)) + tail;
            }
        }
        a.DGamma[c] += (float)total;
    }

    /// <summary>Eight elements of PReLU's backward: dx (when wanted) written, the slope gradient's terms returned.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> PReluStep(float* x, float* dy, float* dx, int i, Vector256<float> vs, bool keep)
    {
        var v = Vector256.Load(x + i);
        var d = Vector256.Load(dy + i);
        var positive = Vector256.GreaterThan(v, Vector256<float>.Zero);
        if (dx != null) ((keep ? Vector256.Load(dx + i) : Vector256<float>.Zero) + Vector256.ConditionalSelect(positive, d, d * vs)).Store(dx + i);
        return Vector256.ConditionalSelect(positive, Vector256<float>.Zero, v * d);
    }

    /// <summary>
    /// The order every sum here takes within a run (<see cref="RunSum"/>, and the fused backward kernels that must
    /// equal it bit for bit): four vector accumulators over blocks of 32 floats (four independent chains of adds,
    /// where one chain waited out each add's latency), the leftover vectors into the first, then (a0 + a1) + (a2 + a3).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Lanes(Vector256<float> a0, Vector256<float> a1, Vector256<float> a2, Vector256<float> a3) => (a0 + a1) + (a2 + a3);

    /// <summary>Sum of n floats: float vectors over runs of <see cref="Run"/>, the runs added in double.</summary>
    private static double Sum(float* p, int n) => RunSum(new Values(p), n);

    /// <summary>Sum of (p[i] - mean)^2, as <see cref="Sum"/> sums.</summary>
    private static double SquaredDeviations(float* p, int n, float mean) => RunSum(new Squares(p, mean), n);

    /// <summary>Sum of dy[i] * (x[i] - mean), as <see cref="Sum"/> sums.</summary>
    private static double DotDeviations(float* dy, float* x, int n, float mean) => RunSum(new Products(dy, x, mean), n);

    /// <summary>The terms of a sum, eight at a time or one at a time (a struct: each sum compiles to its own loop).</summary>
    private interface ITerms
    {
        Vector256<float> Eight(int i);
        float One(int i);
    }

    private readonly struct Values(float* p) : ITerms
    {
        public Vector256<float> Eight(int i) => Vector256.Load(p + i);
        public float One(int i) => p[i];
    }

    private readonly struct Squares(float* p, float mean) : ITerms
    {
        public Vector256<float> Eight(int i)
        {
            var d = Vector256.Load(p + i) - Vector256.Create(mean);
            return d * d;
        }

        public float One(int i) => (p[i] - mean) * (p[i] - mean);
    }

    private readonly struct Products(float* dy, float* x, float mean) : ITerms
    {
        public Vector256<float> Eight(int i) => Vector256.Load(dy + i) * (Vector256.Load(x + i) - Vector256.Create(mean));
        public float One(int i) => dy[i] * (x[i] - mean);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double RunSum<T>(T terms, int n) where T : struct, ITerms
    {
        double total = 0;
        for (int start = 0; start < n; start += Run)
        {
            int end = Math.Min(n, start + Run), i = start;
            Vector256<float> a0 = Vector256<float>.Zero, a1 = a0, a2 = a0, a3 = a0;
            float tail = 0;
            for (; i + 32 <= end; i += 32)
            {
                a0 += terms.Eight(i);
                a1 += terms.Eight(i + 8);
                a2 += terms.Eight(i + 16);
                a3 += terms.Eight(i + 24);
            }
            for (; i + 8 <= end; i += 8) a0 += terms.Eight(i);
            for (; i < end; i++) tail += terms.One(i);
            total += (double)Vector256.Sum(Lanes(a0, a1, a2, a3)) + tail;
        }
        return total;
    }
}
