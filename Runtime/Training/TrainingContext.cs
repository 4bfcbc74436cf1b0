using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Espnet.Compiled.Cpu;
using Espnet.Compiled.Cpu.Fast;

namespace Espnet.Compiled.Training;

/// <summary>
/// What a generated training pass runs on: the training arena (every activation backward needs, every gradient,
/// placed by liveness over the forward and backward timeline), the parameter gradients (laid out as the parameter
/// store), and one call per node of the network's tensor graph, forward and backward. Tensors are batch-major
/// (N x C x H x W) with the batch fixed at compile time; BatchNorm uses the batch's statistics (or the running ones,
/// frozen). Backward calls add into gradients (a tensor read twice gets both contributions); the generated code
/// clears each gradient where it is born. Forward convolutions and stride-1 input gradients (a convolution with the
/// weights flipped and transposed) run on the inference path's FastConv; weight gradients and strided input
/// gradients on <c>FastTraining</c>'s row-vector kernels (float32, as PyTorch trains); the rest on the plain kernels.
/// </summary>
public sealed unsafe class TrainingContext
{
    private readonly AlignedFloats _arena;
    private float[] _scratchA = [], _scratchB = [];

    public TrainingContext(int batch, int arenaFloats, int storeFloats)
    {
        Batch = batch;
        _arena = new AlignedFloats(arenaFloats);
        ParameterGradients = new float[storeFloats];
    }

    public int Batch { get; }

    /// <summary>Activations and gradients of one training step.</summary>
    public Span<float> Arena => _arena.Span;

    /// <summary>d loss / d parameter, at the parameter store's offsets (BatchNorm running statistics get none).</summary>
    public float[] ParameterGradients { get; }

    /// <summary>BatchNorm with the running statistics and no update (EdgeNets' second stage), instead of the batch's.</summary>
    public bool FreezeBatchNorm { get; set; }

    private Span<float> ScratchA(int length)
    {
        if (_scratchA.Length < length) _scratchA = new float[length];
        return _scratchA.AsSpan(0, length);
    }

    private Span<float> ScratchB(int length)
    {
        if (_scratchB.Length < length) _scratchB = new float[length];
        return _scratchB.AsSpan(0, length);
    }

    /// <summary>destination += values, spread over the workers (never call it from inside a work item).</summary>
    private static void AddInto(Span<float> destination, ReadOnlySpan<float> values) => Add(destination, values, destination);

    /// <summary>A gradient contribution: added, or copied when it is the gradient's first (the generated backward then skips clearing it).</summary>
    private static void Accumulate(Span<float> gradient, ReadOnlySpan<float> values, bool overwrite)
    {
        if (overwrite)
        {
            if (gradient.Length < values.Length) throw new ArgumentException($"Copy: {values.Length} floats into {gradient.Length}.");
            fixed (float* pv = values, pg = gradient) Stream(pv, 0, null, 0, pg, 0, values.Length, 1);
        }
        else AddInto(gradient, values);
    }

    public static void Clear(Span<float> gradient) => gradient.Clear();

    // ---- forward ----

    /// <summary>A convolution of the batch, its samples spread over the worker threads (each sample's arithmetic is the same whichever thread runs it).</summary>
    private struct ConvJob
    {
        public float* X, Weight, Y, Dy, Dx, DWeight, Scratch;
        /// <summary>Sample-parallel stride-1 backward: the flipped weights of the input gradient (null: none here).</summary>
        public float* Flipped;
        /// <summary>Sample-parallel FastConv calls: each sample's padding scratch, <see cref="FastFloats"/> apart.</summary>
        public float* Fast;
        public long FastFloats;
        /// <summary>Sample-parallel Winograd convolutions: the transformed weights, made once for the batch (null: none).</summary>
        public float* U;
        public int ULength;
        public int Cin, H, W, Cout, Ho, Wo, Kernel, Stride, Dilation, Groups, WeightLength;
        public bool Transposed, Overwrite;
        public int Xs => Cin * H * W;
        /// <summary>Each sample's scratch: its input gradient, then the even/odd split of stride 2 for the weight gradient, then for the input gradient (the two run as separate items).</summary>
        public int ScratchPerSample => 3 * Xs;
        public int Ys => Cout * Ho * Wo;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ConvSample(void* state, int n)
    {
        ref var j = ref *(ConvJob*)state;
        var x = new ReadOnlySpan<float>(j.X + (long)n * j.Xs, j.Xs);
        var weight = new ReadOnlySpan<float>(j.Weight, j.WeightLength);
        var y = new Span<float>(j.Y + (long)n * j.Ys, j.Ys);
        var scratch = new Span<float>(j.Scratch + (long)n * j.ScratchPerSample, j.ScratchPerSample);
        if (j.Transposed) Cpu.Conv.ConvTranspose2d(x, j.Cin, j.H, j.W, weight, y, j.Cout, j.Ho, j.Wo, j.Kernel, j.Stride);
        else FastTraining.Conv2d(x, j.Cin, j.H, j.W, weight, y, j.Cout, j.Ho, j.Wo, j.Kernel, j.Stride, j.Dilation, j.Groups, scratch.Slice(j.Xs));
    }

    /// <summary>Sample n's forward on the inference path's kernel, whole on this thread (the sample-parallel form of <see cref="RunConv"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FastConvSample(void* state, int n)
    {
        ref var j = ref *(ConvJob*)state;
        FastConv.Conv2d(new ReadOnlySpan<float>(j.X + (long)n * j.Xs, j.Xs), j.Cin, j.H, j.W, new ReadOnlySpan<float>(j.Weight, j.WeightLength),
            new Span<float>(j.Y + (long)n * j.Ys, j.Ys), j.Cout, j.Ho, j.Wo, j.Kernel, j.Stride, j.Dilation, j.Groups, default, default,
            new Span<float>(j.Fast + n * j.FastFloats, (int)j.FastFloats), winogradWeights: new ReadOnlySpan<float>(j.U, j.ULength));
    }

    /// <summary>
    /// Input channel ci's row of the stride-1 input gradient's weights, W'[ci, o', ky, kx] = W[g coutG + o', ci - g cinG,
    /// k-1-ky, k-1-kx] (g = ci / cinG): the weights of a grouped cout -> cin convolution.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FlipRow(void* state, int ci)
    {
        ref var j = ref *(ConvJob*)state;
        int cinG = j.Cin / j.Groups, coutG = j.Cout / j.Groups, kk = j.Kernel * j.Kernel, g = ci / cinG;
        for (int oo = 0; oo < coutG; oo++)
        {
            float* to = j.Flipped + ((nint)ci * coutG + oo) * kk, from = j.Weight + ((nint)(g * coutG + oo) * cinG + ci - g * cinG) * kk;
            for (int t = 0; t < kk; t++) to[t] = from[kk - 1 - t];
        }
    }

    /// <summary>
    /// Item 2n: sample n's weight gradient into its own slot (summed in sample order afterwards: the same sum for any
    /// thread count). Item 2n + 1: its input gradient, written or added into dx. Two items a sample, so the threads'
    /// shares even out at a finer grain (each item's own scratch: the two may run at once).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ConvSampleBackward(void* state, int item)
    {
        ref var j = ref *(ConvJob*)state;
        int n = item >> 1;
        var x = new ReadOnlySpan<float>(j.X + (long)n * j.Xs, j.Xs);
        var weight = new ReadOnlySpan<float>(j.Weight, j.WeightLength);
        var dy = new ReadOnlySpan<float>(j.Dy + (long)n * j.Ys, j.Ys);
        var scratch = new Span<float>(j.Scratch + (long)n * j.ScratchPerSample, j.ScratchPerSample);
        if ((item & 1) == 0)
        {
            var dw = new Span<float>(j.DWeight + (long)n * j.WeightLength, j.WeightLength);
            if (j.Transposed) Gradients.ConvTranspose2dWeight(x, j.Cin, j.H, j.W, dy, j.Cout, j.Ho, j.Wo, dw, j.Kernel, j.Stride);
            else FastTraining.Conv2dWeight(x, j.Cin, j.H, j.W, dy, j.Cout, j.Ho, j.Wo, dw, j.Kernel, j.Stride, j.Dilation, j.Groups, scratch.Slice(j.Xs, j.Xs));
            return;
        }
        if (j.Flipped != null)
        {
            // Stride 1, sample-parallel: the input gradient as a convolution of dy with the flipped weights (see RunConvBackward).
            var into = new Span<float>(j.Dx + (long)n * j.Xs, j.Xs);
            var target = j.Overwrite ? into : scratch.Slice(0, j.Xs);
            FastConv.Conv2d(dy, j.Cout, j.Ho, j.Wo, new ReadOnlySpan<float>(j.Flipped, j.WeightLength), target, j.Cin, j.H, j.W, j.Kernel, 1, j.Dilation, j.Groups,
                default, default, new Span<float>(j.Fast + n * j.FastFloats, (int)j.FastFloats), winogradWeights: new ReadOnlySpan<float>(j.U, j.ULength));
            if (!j.Overwrite) fixed (float* pi = into, pt = target) AddVectors(pi, pt, pi, j.Xs);
            return;
        }
        if (j.Dx == null) return;
        var dx = new Span<float>(j.Dx + (long)n * j.Xs, j.Xs);
        // The first contribution to dx is written there; later ones are computed aside and added.
        var dxs = j.Overwrite ? dx : scratch.Slice(0, j.Xs);
        if (j.Transposed) Gradients.ConvTranspose2dInput(dy, j.Cout, j.Ho, j.Wo, weight, dxs, j.Cin, j.H, j.W, j.Kernel, j.Stride);
        else FastTraining.Conv2dInput(dy, j.Cout, j.Ho, j.Wo, weight, dxs, j.Cin, j.H, j.W, j.Kernel, j.Stride, j.Dilation, j.Groups, scratch.Slice(2 * j.Xs));
        if (!j.Overwrite) fixed (float* pd = dx, ps = dxs) AddVectors(pd, ps, pd, j.Xs);
    }

    public void Conv(ReadOnlySpan<float> x, int cin, int h, int w, ReadOnlySpan<float> weight, Span<float> y, int cout, int ho, int wo,
        int kernel, int stride, int dilation, int groups) =>
        RunConv(x, cin, h, w, weight, y, cout, ho, wo, kernel, stride, dilation, groups, transposed: false);

    public void ConvTranspose(ReadOnlySpan<float> x, int cin, int h, int w, ReadOnlySpan<float> weight, Span<float> y, int cout, int ho, int wo, int kernel, int stride) =>
        RunConv(x, cin, h, w, weight, y, cout, ho, wo, kernel, stride, 1, 1, transposed: true);

    private float[] _fastScratch = [], _flipped = [];

    private Span<float> FastScratch(int length)
    {
        if (_fastScratch.Length < length) _fastScratch = new float[length];
        return _fastScratch.AsSpan(0, length);
    }

    private float[] _winograd = [];

    /// <summary>
    /// The transformed weights of a convolution FastConv runs as Winograd at this vector width, made once for the
    /// batch's samples (each sample's call would make the same floats again); empty when it does not.
    /// </summary>
    private Span<float> SharedWinogradWeights(ReadOnlySpan<float> weight, int cin, int cout, int ho, int wo, int kernel, int stride, int dilation, int groups)
    {
        if (!FastConv.Winograd(cin, cout, ho, wo, kernel, stride, dilation, groups)) return default;
        int floats = FastConv.WinogradWeightFloats(cin, cout);
        if (_winograd.Length < floats) _winograd = new float[floats];
        var u = _winograd.AsSpan(0, floats);
        FastConv.WinogradWeights(weight, cin, cout, u);
        return u;
    }

    /// <summary>Whether the inference path's convolution kernel (FastConv: register-blocked, multithreaded) takes this shape.</summary>
    private static bool FastForward(int stride, int kernel) => stride is 1 or 2 && kernel % 2 == 1;

    /// <summary>
    /// Whether a convolution's samples go whole to the threads (each runs its samples' FastConv calls alone) rather
    /// than one sample after another with each spread over the threads: when the batch divides among the threads.
    /// One parallel call per convolution instead of one per sample, no thread waiting on another's last rows, and
    /// the padding and weight transforms that run before each call's parallel part spread too. The arithmetic of
    /// each sample is the same either way (bit-identical).
    /// </summary>
    private bool SampleParallel => Workers.Threads > 1 && Batch >= Workers.Threads && Batch % Workers.Threads == 0;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void RunConv(ReadOnlySpan<float> x, int cin, int h, int w, ReadOnlySpan<float> weight, Span<float> y, int cout, int ho, int wo,
        int kernel, int stride, int dilation, int groups, bool transposed)
    {
        if (!transposed && FastForward(stride, kernel))
        {
            int xs = cin * h * w, ys = cout * ho * wo;
            long per = FastConv.ScratchFloats(cin, h, w, kernel, stride, dilation, groups);
            if (SampleParallel)
            {
                var scratches = FastScratch((int)(Batch * per));
                var u = SharedWinogradWeights(weight, cin, cout, ho, wo, kernel, stride, dilation, groups);
                fixed (float* px = x, pw = weight, py = y, pf = scratches, pu = u)
                {
                    var job = new ConvJob
                    {
                        X = px, Weight = pw, Y = py, Fast = pf, FastFloats = per, Cin = cin, H = h, W = w, Cout = cout, Ho = ho, Wo = wo, Kernel = kernel,
                        Stride = stride, Dilation = dilation, Groups = groups, WeightLength = weight.Length, U = u.IsEmpty ? null : pu, ULength = u.Length,
                    };
                    Workers.For(&job, &FastConvSample, Batch, (long)Batch * weight.Length * ho * wo);
                }
                return;
            }
            // The inference kernels take the weights as stored: one sample after another, each spread over the workers.
            var fast = FastScratch((int)per);
            for (int n = 0; n < Batch; n++)
                FastConv.Conv2d(x.Slice(n * xs, xs), cin, h, w, weight, y.Slice(n * ys, ys), cout, ho, wo, kernel, stride, dilation, groups, default, default, fast);
            return;
        }
        var scratch = ScratchB(Batch * 3 * cin * h * w);
        fixed (float* px = x, pw = weight, py = y, ps = scratch)
        {
            var job = new ConvJob
            {
                X = px, Weight = pw, Y = py, Scratch = ps, Cin = cin, H = h, W = w, Cout = cout, Ho = ho, Wo = wo, Kernel = kernel, Stride = stride,
                Dilation = dilation, Groups = groups, WeightLength = weight.Length, Transposed = transposed,
            };
            Workers.For(&job, &ConvSample, Batch, (long)Batch * weight.Length * (transposed ? h * w : ho * wo));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void RunConvBackward(ReadOnlySpan<float> x, int cin, int h, int w, ReadOnlySpan<float> weight, ReadOnlySpan<float> dy, int cout, int ho, int wo,
        int kernel, int stride, int dilation, int groups, bool transposed, Span<float> dx, Span<float> dweight, bool overwrite)
    {
        var slots = ScratchA(Batch * weight.Length);
        var scratch = ScratchB(Batch * 3 * cin * h * w);
        // Stride 1: the input gradient is a convolution of dy with the weights flipped and transposed, on FastConv:
        // in each sample's item when the samples go whole to the threads, else below, one sample after another.
        bool adjoint = !transposed && stride == 1 && kernel % 2 == 1 && !dx.IsEmpty;
        Span<float> flipped = default;
        if (adjoint)
        {
            if (_flipped.Length < weight.Length) _flipped = new float[weight.Length];
            flipped = _flipped.AsSpan(0, weight.Length);
            fixed (float* pw = weight, pfl = flipped)
            {
                var flip = new ConvJob { Weight = pw, Flipped = pfl, Cin = cin, Cout = cout, Kernel = kernel, Groups = groups };
                Workers.For(&flip, &FlipRow, cin, StreamWork * (long)weight.Length);
            }
        }
        bool together = adjoint && SampleParallel;
        long per = adjoint ? FastConv.ScratchFloats(cout, ho, wo, kernel, 1, dilation, groups) : 0;
        var fast = FastScratch((int)(together ? Batch * per : per));
        var uAdjoint = together ? SharedWinogradWeights(flipped, cout, cin, h, w, kernel, 1, dilation, groups) : default;
        fixed (float* px = x, pw = weight, pdy = dy, pdx = dx, pdw = slots, ps = scratch, pfl = flipped, pf = fast, pu = uAdjoint)
        {
            var job = new ConvJob
            {
                X = px, Weight = pw, Dy = pdy, Dx = dx.IsEmpty || (adjoint && !together) ? null : pdx, DWeight = pdw, Scratch = ps, Cin = cin, H = h, W = w,
                Cout = cout, Ho = ho, Wo = wo, Kernel = kernel, Stride = stride, Dilation = dilation, Groups = groups, WeightLength = weight.Length,
                Transposed = transposed, Overwrite = overwrite, Flipped = together ? pfl : null, Fast = pf, FastFloats = per,
                U = uAdjoint.IsEmpty ? null : pu, ULength = uAdjoint.Length,
            };
            Workers.For(&job, &ConvSampleBackward, 2 * Batch, (together ? 3L : 2L) * Batch * weight.Length * (transposed ? h * w : ho * wo));
        }
        for (int n = 0; n < Batch; n++) AddInto(dweight, slots.Slice(n * weight.Length, weight.Length));
        if (!adjoint || together) return;

        int xs = cin * h * w, ys = cout * ho * wo;
        var dxs = ScratchB(xs);
        for (int n = 0; n < Batch; n++)
        {
            if (overwrite)
            {
                FastConv.Conv2d(dy.Slice(n * ys, ys), cout, ho, wo, flipped, dx.Slice(n * xs, xs), cin, h, w, kernel, 1, dilation, groups, default, default, fast);
                continue;
            }
            FastConv.Conv2d(dy.Slice(n * ys, ys), cout, ho, wo, flipped, dxs, cin, h, w, kernel, 1, dilation, groups, default, default, fast);
            AddInto(dx.Slice(n * xs, xs), dxs);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Bias(ReadOnlySpan<float> x, Span<float> y, int channels, int plane, ReadOnlySpan<float> bias)
    {
        x.CopyTo(y);
        for (int n = 0; n < Batch; n++) Cpu.Conv.AddBias(y.Slice(n * channels * plane, channels * plane), channels, plane, bias);
    }

    /// <summary>Training BatchNorm: the batch's mean and (biased) variance, saved for backward; running statistics updated (momentum 0.1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void BatchNorm(ReadOnlySpan<float> x, Span<float> y, int channels, int plane, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        Span<float> runningMean, Span<float> runningVar, double eps, Span<float> savedMean, Span<float> savedInvStd)
    {
        if (FreezeBatchNorm)
        {
            x.CopyTo(y);
            for (int n = 0; n < Batch; n++)
                Elementwise.BatchNorm(y.Slice(n * channels * plane, channels * plane), channels, plane, gamma, beta, runningMean, runningVar, (float)eps);
            for (int c = 0; c < channels; c++)
            {
                savedMean[c] = runningMean[c];
                savedInvStd[c] = (float)(1 / Math.Sqrt(runningVar[c] + eps));
            }
            return;
        }
        FastTrainingElementwise.BatchNormTraining(x, Batch, channels, plane, gamma, beta, eps, y, savedMean, savedInvStd, runningMean, runningVar);
    }

    /// <summary>
    /// A BatchNorm whose output only a PReLU reads, and that PReLU, as one node (the training graph fuses the pair):
    /// the BatchNorm's output is never stored. <paramref name="saved"/>: mean, 1/std and the float scale, C each.
    /// </summary>
    public void BatchNormPRelu(ReadOnlySpan<float> x, Span<float> y, int channels, int plane, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        Span<float> runningMean, Span<float> runningVar, double eps, ReadOnlySpan<float> slope, Span<float> saved)
    {
        if (FreezeBatchNorm)
        {
            BatchNorm(x, y, channels, plane, gamma, beta, runningMean, runningVar, eps, saved.Slice(0, channels), saved.Slice(channels, channels));
            FastTrainingElementwise.PRelu(y, y, Batch, channels, plane, slope);
            return;
        }
        FastTrainingElementwise.BatchNormPReluTraining(x, Batch, channels, plane, gamma, beta, eps, slope, y,
            saved.Slice(0, channels), saved.Slice(channels, channels), saved.Slice(2 * channels, channels), runningMean, runningVar);
    }

    /// <summary>Backward of <see cref="BatchNormPRelu"/> (frozen statistics: the BatchNorm's output recomputed, then the two rules in turn).</summary>
    public void BatchNormPReluBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, int channels, int plane, ReadOnlySpan<float> gamma,
        ReadOnlySpan<float> beta, ReadOnlySpan<float> runningMean, ReadOnlySpan<float> runningVar, double eps, ReadOnlySpan<float> slope,
        ReadOnlySpan<float> saved, Span<float> dx, Span<float> dgamma, Span<float> dbeta, Span<float> dslope, bool overwrite = false)
    {
        if (FreezeBatchNorm)
        {
            // Rare (a second training stage): the BatchNorm's output recomputed as the frozen forward made it (the
            // running statistics do not move while frozen), the PReLU's gradient in scratch, then the two rules.
            var bn = ScratchA(x.Length);
            var g = ScratchB(x.Length);
            x.CopyTo(bn);
            for (int n = 0; n < Batch; n++)
                Elementwise.BatchNorm(bn.Slice(n * channels * plane, channels * plane), channels, plane, gamma, beta, runningMean, runningVar, (float)eps);
            FastTrainingElementwise.PReluBackward(bn, dy, Batch, channels, plane, slope, g, dslope, overwrite: true);
            FastTrainingElementwise.BatchNormFrozenBackward(x, g, Batch, channels, plane, gamma, saved.Slice(0, channels), saved.Slice(channels, channels), dx, dgamma, dbeta, overwrite);
            return;
        }
        FastTrainingElementwise.BatchNormPReluTrainingBackward(x, dy, Batch, channels, plane, gamma, beta, slope,
            saved.Slice(0, channels), saved.Slice(channels, channels), saved.Slice(2 * channels, channels), dx, dgamma, dbeta, dslope, overwrite);
    }

    public void PRelu(ReadOnlySpan<float> x, Span<float> y, int channels, int plane, ReadOnlySpan<float> slope)
    {
        FastTrainingElementwise.PRelu(x, y, Batch, channels, plane, slope);
    }

    public static void Sum(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y) => Add(a, b, y);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void AvgPool(ReadOnlySpan<float> x, int channels, int h, int w, Span<float> y, int ho, int wo)
    {
        for (int n = 0; n < Batch; n++)
            FastElementwise.AvgPool3x3S2(x.Slice(n * channels * h * w, channels * h * w), channels, h, w, y.Slice(n * channels * ho * wo, channels * ho * wo), ho, wo);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void GlobalAvgPool(ReadOnlySpan<float> x, int channels, int plane, Span<float> y)
    {
        for (int n = 0; n < Batch; n++) Elementwise.GlobalAvgPool(x.Slice(n * channels * plane, channels * plane), channels, plane, y.Slice(n * channels, channels));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Resize(ReadOnlySpan<float> x, int channels, int h, int w, Span<float> y, int ho, int wo)
    {
        for (int n = 0; n < Batch; n++)
            Resampling.BilinearAlignCorners(x.Slice(n * channels * h * w, channels * h * w), channels, h, w, y.Slice(n * channels * ho * wo, channels * ho * wo), ho, wo);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void AdaptiveAvgPool(ReadOnlySpan<float> x, int channels, int h, int w, Span<float> y, int ho, int wo)
    {
        for (int n = 0; n < Batch; n++)
            Resampling.AdaptiveAvgPool(x.Slice(n * channels * h * w, channels * h * w), channels, h, w, y.Slice(n * channels * ho * wo, channels * ho * wo), ho, wo);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Shuffle(ReadOnlySpan<float> x, int channels, int plane, int groups, Span<float> y)
    {
        for (int n = 0; n < Batch; n++)
            Resampling.ChannelShuffle(x.Slice(n * channels * plane, channels * plane), channels, plane, groups, y.Slice(n * channels * plane, channels * plane));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Gate(ReadOnlySpan<float> x, ReadOnlySpan<float> gate, Span<float> y, int channels, int plane)
    {
        x.CopyTo(y);
        for (int n = 0; n < Batch; n++) Resampling.SigmoidGate(y.Slice(n * channels * plane, channels * plane), channels, plane, gate.Slice(n * channels, channels));
    }

    /// <summary>Channels [from, to) of each sample of x (x has <paramref name="channels"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Slice(ReadOnlySpan<float> x, int channels, int plane, int from, int to, Span<float> y)
    {
        int part = (to - from) * plane;
        Parts(x.Slice(from * plane), channels * plane, y, part, part, add: false);
    }

    /// <summary>Copies a part of <paramref name="channels"/> channels into channels [at, at + channels) of each sample of y (of <paramref name="total"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void ConcatPart(ReadOnlySpan<float> part, int channels, int plane, Span<float> y, int total, int at)
    {
        Parts(part, channels * plane, y.Slice(at * plane), total * plane, channels * plane, add: false);
    }

    private struct StreamJob
    {
        public float* A, B, Y;
        public int AStride, BStride, YStride, Count, Chunks;
    }

    /// <summary>Floats per work item of <see cref="Stream"/>.</summary>
    private const int StreamChunk = 1 << 14;

    /// <summary>
    /// What <see cref="Workers.For"/> counts per float a stream moves: a float read or written costs about as much
    /// time as several multiply-adds do (memory, not arithmetic, bounds these), so streams of ~32 K floats and up
    /// are worth a second thread; counted as one, the per-layer sums and copies of training ran on one thread
    /// while the other waited.
    /// </summary>
    private const int StreamWork = 8;

    /// <summary>
    /// For n in [0, <paramref name="batch"/>): y_n = a_n + b_n (b null: y_n = a_n), each <paramref name="count"/>
    /// floats at its pointer + n x its stride; all of it in one parallel call. y may be a or b (same element).
    /// </summary>
    private static void Stream(float* a, int aStride, float* b, int bStride, float* y, int yStride, int count, int batch)
    {
        int chunks = (count + StreamChunk - 1) / StreamChunk;
        var job = new StreamJob { A = a, B = b, Y = y, AStride = aStride, BStride = bStride, YStride = yStride, Count = count, Chunks = chunks };
        Workers.For(&job, &StreamItem, batch * chunks, StreamWork * (long)batch * count);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void StreamItem(void* state, int item)
    {
        ref var j = ref *(StreamJob*)state;
        int n = item / j.Chunks, start = item % j.Chunks * StreamChunk, length = Math.Min(StreamChunk, j.Count - start);
        float* a = j.A + (nint)n * j.AStride + start, y = j.Y + (nint)n * j.YStride + start;
        if (j.B == null) Buffer.MemoryCopy(a, y, 4L * length, 4L * length);
        else AddVectors(a, j.B + (nint)n * j.BStride + start, y, length);
    }

    /// <summary>
    /// y[i] = a[i] + b[i] (y may be a or b), the vector code optimised from the first call: the work items of a
    /// step run it from the first step (a library call would run as tier-0 code until tiering promotes it).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AddVectors(float* a, float* b, float* y, int n)
    {
        int i = 0;
        if (Simd.Use512)
            for (; i + 16 <= n; i += 16) (Vector512.Load(a + i) + Vector512.Load(b + i)).Store(y + i);
        for (; i + 8 <= n; i += 8) (Vector256.Load(a + i) + Vector256.Load(b + i)).Store(y + i);
        for (; i < n; i++) y[i] = a[i] + b[i];
    }

    /// <summary>y = a + b (y may be a or b).</summary>
    private static void Add(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y)
    {
        if (a.Length < y.Length || b.Length < y.Length) throw new ArgumentException($"Add: {a.Length} + {b.Length} floats into {y.Length}.");
        fixed (float* pa = a, pb = b, py = y) Stream(pa, 0, pb, 0, py, 0, y.Length, 1);
    }

    /// <summary>
    /// Each sample's <paramref name="count"/> floats at <paramref name="from"/> + n x <paramref name="fromStride"/>
    /// copied (or added: <paramref name="add"/>) to <paramref name="to"/> + n x <paramref name="toStride"/>: a
    /// channel slice into or out of a concatenation, every sample in one parallel call.
    /// </summary>
    private void Parts(ReadOnlySpan<float> from, int fromStride, Span<float> to, int toStride, int count, bool add)
    {
        if ((long)(Batch - 1) * fromStride + count > from.Length || (long)(Batch - 1) * toStride + count > to.Length)
            throw new ArgumentException($"Parts: {Batch} samples of {count} floats do not fit the spans.");
        fixed (float* pf = from, pt = to)
        {
            if (add) Stream(pt, toStride, pf, fromStride, pt, toStride, count, Batch);
            else Stream(pf, fromStride, null, 0, pt, toStride, count, Batch);
        }
    }

    // ---- backward: each adds into the gradients it is given (empty: not needed), or writes them (overwrite: the first contribution) ----

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void ConvBackward(ReadOnlySpan<float> x, int cin, int h, int w, ReadOnlySpan<float> weight, ReadOnlySpan<float> dy, int cout, int ho, int wo,
        int kernel, int stride, int dilation, int groups, Span<float> dx, Span<float> dweight, bool overwrite = false) =>
        RunConvBackward(x, cin, h, w, weight, dy, cout, ho, wo, kernel, stride, dilation, groups, transposed: false, dx, dweight, overwrite);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void ConvTransposeBackward(ReadOnlySpan<float> x, int cin, int h, int w, ReadOnlySpan<float> weight, ReadOnlySpan<float> dy, int cout, int ho, int wo,
        int kernel, int stride, Span<float> dx, Span<float> dweight, bool overwrite = false) =>
        RunConvBackward(x, cin, h, w, weight, dy, cout, ho, wo, kernel, stride, 1, 1, transposed: true, dx, dweight, overwrite);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void BiasBackward(ReadOnlySpan<float> dy, int channels, int plane, Span<float> dx, Span<float> dbias, bool overwrite = false)
    {
        var db = ScratchA(channels);
        for (int n = 0; n < Batch; n++)
        {
            Gradients.Bias(dy.Slice(n * channels * plane, channels * plane), channels, plane, db);
            AddInto(dbias, db);
        }
        if (!dx.IsEmpty) Accumulate(dx, dy, overwrite);
    }

    public void BatchNormBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, int channels, int plane, ReadOnlySpan<float> gamma,
        ReadOnlySpan<float> savedMean, ReadOnlySpan<float> savedInvStd, Span<float> dx, Span<float> dgamma, Span<float> dbeta, bool overwrite = false)
    {
        if (FreezeBatchNorm)
        {
            // y = (x - mean) * invStd * gamma + beta with constants: dx = dy * gamma * invStd.
            FastTrainingElementwise.BatchNormFrozenBackward(x, dy, Batch, channels, plane, gamma, savedMean, savedInvStd, dx, dgamma, dbeta, overwrite);
            return;
        }
        FastTrainingElementwise.BatchNormTrainingBackward(x, dy, Batch, channels, plane, gamma, savedMean, savedInvStd, dx, dgamma, dbeta, overwrite);
    }

    public void PReluBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, int channels, int plane, ReadOnlySpan<float> slope, Span<float> dx, Span<float> dslope,
        bool overwrite = false)
    {
        FastTrainingElementwise.PReluBackward(x, dy, Batch, channels, plane, slope, dx, dslope, overwrite);
    }

    /// <summary>y = a + b: each gets dy (written when it is the first contribution to that gradient: <paramref name="overwriteA"/>, <paramref name="overwriteB"/>).</summary>
    public static void SumBackward(ReadOnlySpan<float> dy, Span<float> da, Span<float> db, bool overwriteA = false, bool overwriteB = false)
    {
        if (!da.IsEmpty) Accumulate(da, dy, overwriteA);
        if (!db.IsEmpty) Accumulate(db, dy, overwriteB);
    }

    public void AvgPoolBackward(ReadOnlySpan<float> dy, int channels, int h, int w, int ho, int wo, Span<float> dx)
    {
        FastTrainingElementwise.AvgPool3x3S2Backward(dy, Batch, channels, h, w, ho, wo, dx);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void GlobalAvgPoolBackward(ReadOnlySpan<float> dy, int channels, int plane, Span<float> dx)
    {
        var dxs = ScratchB(channels * plane);
        for (int n = 0; n < Batch; n++)
        {
            Gradients.GlobalAvgPool(dy.Slice(n * channels, channels), channels, plane, dxs);
            AddInto(dx.Slice(n * channels * plane, channels * plane), dxs);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void ResizeBackward(ReadOnlySpan<float> dy, int channels, int h, int w, int ho, int wo, Span<float> dx)
    {
        int xs = channels * h * w, ys = channels * ho * wo;
        var dxs = ScratchB(xs);
        for (int n = 0; n < Batch; n++)
        {
            Gradients.BilinearAlignCorners(dy.Slice(n * ys, ys), channels, h, w, ho, wo, dxs);
            AddInto(dx.Slice(n * xs, xs), dxs);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void AdaptiveAvgPoolBackward(ReadOnlySpan<float> dy, int channels, int h, int w, int ho, int wo, Span<float> dx)
    {
        int xs = channels * h * w, ys = channels * ho * wo;
        var dxs = ScratchB(xs);
        for (int n = 0; n < Batch; n++)
        {
            Gradients.AdaptiveAvgPool(dy.Slice(n * ys, ys), channels, h, w, ho, wo, dxs);
            AddInto(dx.Slice(n * xs, xs), dxs);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void ShuffleBackward(ReadOnlySpan<float> dy, int channels, int plane, int groups, Span<float> dx)
    {
        int s = channels * plane;
        var dxs = ScratchB(s);
        for (int n = 0; n < Batch; n++)
        {
            Gradients.ChannelShuffle(dy.Slice(n * s, s), channels, plane, groups, dxs);
            AddInto(dx.Slice(n * s, s), dxs);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void GateBackward(ReadOnlySpan<float> x, ReadOnlySpan<float> gate, ReadOnlySpan<float> dy, int channels, int plane, Span<float> dx, Span<float> dgate)
    {
        int s = channels * plane;
        var dxs = ScratchB(s);
        var dgs = ScratchA(channels);
        for (int n = 0; n < Batch; n++)
        {
            Gradients.SigmoidGate(x.Slice(n * s, s), dy.Slice(n * s, s), channels, plane, gate.Slice(n * channels, channels), dxs, dgs);
            if (!dx.IsEmpty) AddInto(dx.Slice(n * s, s), dxs);
            if (!dgate.IsEmpty) AddInto(dgate.Slice(n * channels, channels), dgs);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void SliceBackward(ReadOnlySpan<float> dy, int channels, int plane, int from, int to, Span<float> dx)
    {
        int part = (to - from) * plane;
        Parts(dy, part, dx.Slice(from * plane), channels * plane, part, add: true);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void ConcatPartBackward(ReadOnlySpan<float> dy, int total, int at, int channels, int plane, Span<float> dpart, bool overwrite = false)
    {
        int part = channels * plane;
        Parts(dy.Slice(at * plane), total * plane, dpart, part, part, add: !overwrite);
    }

    public static void CopyBackward(ReadOnlySpan<float> dy, Span<float> dx, bool overwrite = false) => Accumulate(dx, dy, overwrite);
}
