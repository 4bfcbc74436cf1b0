using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using Espnet.Compiled.Generator.Plan.Graph;
using Espnet.Compiled.Generator.Plan.Training;

namespace Espnet.Compiled.Generator.Emit.Cuda;

/// <summary>
/// The training step as CUDA kernels, printed from the same training plan and backward steps as the C# training
/// pass (<see cref="TrainingPlan"/>, <see cref="BackwardSteps"/>): the forward nodes with BatchNorm on the batch's
/// statistics, the cross-entropy, each node's gradient rule in reverse, and the optimizers. Four buffers:
/// <c>p</c> the parameter store (the forward updates BatchNorm's running statistics in it, the optimizer the
/// parameters), <c>t</c> the training arena at the plan's offsets, <c>d</c> the parameter gradients (the store's
/// layout) and <c>w</c> a work area (reduction partials, labels, the loss, the optimizer's settings and state).
/// Every scalar that changes between steps lives in <c>w</c>, so a step is a fixed list of launches.
/// <para>
/// Sums over many elements (weight gradients, BatchNorm statistics, slope and bias gradients) take two kernels with
/// no shared memory, atomics or barriers: one thread per (value, chunk) adds its chunk in float, then one thread per
/// value adds the chunks in order in double. So the result is the same on every run, and the CPU shim (every thread
/// in turn) runs the very computation the GPU does.
/// </para>
/// </summary>
internal sealed class CudaTrainingPrinter
{
    private readonly StringBuilder _s;
    private readonly TrainingPlan _plan;
    private readonly TensorGraph _g;
    private readonly int _n;
    private readonly List<(string Name, long Threads)> _step = new();
    private readonly List<(string Name, long Threads)> _optimizers = new();
    private int _count;
    private long _partials = 1, _channels = 1;

    private CudaTrainingPrinter(StringBuilder s, TrainingPlan plan)
    {
        _s = s;
        _plan = plan;
        _g = plan.Graph;
        _n = plan.Batch;
    }

    /// <summary>Where a step's buffers lie in the work area <c>w</c> (floats) and how long it is.</summary>
    public sealed record Layout(long Partials, long Channels, long Labels, long ClassWeights, long LossChunks, long Loss, long Hyper, long Groups, long State, long Length);

    /// <summary>The hyper-parameters in <c>w</c>, doubles from <see cref="Layout.Hyper"/>: these, then one learning rate per trained tensor.</summary>
    public const int HyperMomentum = 0, HyperNesterov = 1, HyperWeightDecay = 2, HyperStarted = 3, HyperBeta1 = 4, HyperBeta2 = 5, HyperEps = 6,
        HyperCorrection1 = 7, HyperCorrection2 = 8, HyperRates = 9;

    /// <summary>Appends the training kernels to <paramref name="s"/>; returns the step's launches, the optimizers' and the work area.</summary>
    public static (List<(string Name, long Threads)> Step, List<(string Name, long Threads)> Optimizers, Layout Work) Append(
        StringBuilder s, TrainingPlan plan, int parameterFloats, int trainedTensors)
    {
        var printer = new CudaTrainingPrinter(s, plan);
        s.Append("\n// ---- Training: the forward pass on the batch's statistics, the loss, the backward pass, the optimizers. ----\n");
        s.Append("// p: parameters (running statistics and parameters written); t: the training arena; d: parameter gradients; w: work.\n");
        printer.Kernel("clear_gradients", parameterFloats, "        d[i] = 0.0f;\n", "every parameter gradient to zero");
        printer.Forward();
        var (lossChunks, logitsLabels) = printer.Loss();
        printer.Backward();
        printer.Optimizers(parameterFloats);

        // The work area, each region 64-float aligned (doubles 8-byte aligned).
        long at = 0;
        long Region(long floats)
        {
            long start = at;
            at += (System.Math.Max(1, floats) + 63) / 64 * 64;
            return start;
        }
        var o = plan.Graph.Shapes[plan.Graph.Output];
        var work = new Layout(
            Partials: Region(printer._partials),
            Channels: Region(printer._channels),
            Labels: Region(logitsLabels),
            ClassWeights: Region(o.C),
            LossChunks: Region(4 * lossChunks),
            Loss: Region(4),
            Hyper: Region(2 * (HyperRates + trainedTensors)),
            Groups: Region(parameterFloats),
            State: Region(2L * parameterFloats),
            Length: 0);
        work = work with { Length = at };
        // The regions are known only now: the kernels name them by macro, defined ahead of the training kernels.
        int mark = s.ToString().IndexOf("\n// ---- Training:", System.StringComparison.Ordinal);
        s.Insert(mark, "\n" +
            $"#define W_PARTIALS {work.Partials}LL\n#define W_CHANNELS {work.Channels}LL\n#define W_LABELS {work.Labels}LL\n#define W_CLASS_WEIGHTS {work.ClassWeights}LL\n" +
            $"#define W_LOSS_CHUNKS {work.LossChunks}LL\n#define W_LOSS {work.Loss}LL\n#define W_HYPER {work.Hyper}LL\n#define W_GROUPS {work.Groups}LL\n#define W_STATE {work.State}LL\n");
        s.Append("\n#ifdef ESPNET_CUDA_SHIM\n// The CPU shim's training step and optimizer updates: every kernel in order over the whole grid.\n");
        s.Append("extern \"C\" void espnet_train_shim(float* p, float* t, float* d, float* w)\n{\n");
        foreach (var (name, threads) in printer._step) s.Append($"    ESPNET_SHIM_LAUNCH({name}, {threads}LL, p, t, d, w);\n");
        s.Append("}\n");
        foreach (var (name, threads) in printer._optimizers)
            s.Append($"extern \"C\" void {name}_shim(float* p, float* t, float* d, float* w) {{ ESPNET_SHIM_LAUNCH({name}, {threads}LL, p, t, d, w); }}\n");
        s.Append("#endif\n");
        return (printer._step, printer._optimizers, work);
    }

    // ---- Printing helpers ----

    private void Kernel(string what, long threads, string body, string comment, bool optimizer = false)
    {
        string name = optimizer ? what : $"t{_count++}_{what}";
        _s.Append($"\n// {comment}\n");
        _s.Append($"extern \"C\" __global__ void {name}(float* __restrict__ p, float* __restrict__ t, float* __restrict__ d, float* __restrict__ w)\n{{\n");
        _s.Append($"    for (long long i = (long long)ESP_BID * ESP_BDIM + ESP_TID; i < {threads}LL; i += (long long)ESP_GDIM * ESP_BDIM)\n    {{\n");
        _s.Append(body);
        _s.Append("    }\n}\n");
        (optimizer ? _optimizers : _step).Add((name, threads));
    }

    private static string L(long v) => v.ToString(CultureInfo.InvariantCulture) + "LL";

    private static string F(double v) => ((float)v).ToString("R", CultureInfo.InvariantCulture) switch
    {
        var s when s.Contains('E') || s.Contains('.') => s + "f",
        var s => s + ".0f",
    };

    private static string D(double v) => v.ToString("R", CultureInfo.InvariantCulture) switch
    {
        var s when s.Contains('E') || s.Contains('.') => s,
        var s => s + ".0",
    };

    private string T(int tensor) => $"(t + {L(_plan.Activation[tensor])})";
    private string G(int tensor) => $"(t + {L(_plan.Gradient[tensor])})";

    private long Count(int tensor) => _n * _g.Shapes[tensor].Elements;

    /// <summary>x, y, c, n of element <c>i</c> of a batch of tensors shaped <paramref name="o"/>.</summary>
    private static string Decode(TensorShape o) =>
        $"        const int x = (int)(i % {o.W}), y = (int)(i / {o.W} % {o.H}), c = (int)(i / {(long)o.W * o.H} % {o.C}), n = (int)(i / {o.Elements});\n" +
        "        (void)x; (void)y; (void)c; (void)n;\n";

    /// <summary>Element (n, c, y, x) of the batch of <paramref name="tensor"/> at <paramref name="buffer"/>.</summary>
    private string At(string buffer, int tensor, string c, string y, string x)
    {
        var s = _g.Shapes[tensor];
        return $"{buffer}[(((long long)n * {s.C} + ({c})) * {s.H} + ({y})) * {s.W} + ({x})]";
    }

    /// <summary>How many chunks each of <paramref name="values"/> sums splits into over <paramref name="elements"/> terms: enough threads for a GPU, chunks of at least 64 terms.</summary>
    private static int Chunks(long values, long elements) =>
        (int)System.Math.Max(1, System.Math.Min(System.Math.Min((16384 + values - 1) / values, elements / 64), 4096));

    /// <summary>
    /// A per-channel sum over a tensor's batch (n and the plane): one thread per (channel, chunk) runs
    /// <paramref name="term"/> for each element at offset <c>at</c> (adding to the float sums <c>s0..</c>), then
    /// <paramref name="finish"/> runs per channel with the chunk sums added in double (<c>sum0..</c>).
    /// </summary>
    private void ChannelSum(string what, TensorShape shape, int slots, string term, string finish, string comment)
    {
        long plane = (long)shape.H * shape.W, m = _n * plane;
        int chunks = Chunks(shape.C, m);
        long length = (m + chunks - 1) / chunks;
        _partials = System.Math.Max(_partials, (long)shape.C * chunks * slots);
        var sums = string.Join(", ", Enumerable.Range(0, slots).Select(k => $"s{k} = 0.0f"));
        var store = string.Concat(Enumerable.Range(0, slots).Select(k => $"        w[W_PARTIALS + i * {slots} + {k}] = s{k};\n"));
        Kernel(what + "_partial", shape.C * chunks,
            $"        const int c = (int)(i / {chunks});\n" +
            $"        const long long e0 = (i % {chunks}) * {L(length)}, e1 = e0 + {L(length)} < {L(m)} ? e0 + {L(length)} : {L(m)};\n" +
            $"        float {sums};\n" +
            $"        for (long long e = e0; e < e1;)\n" +
            $"        {{\n" +
            $"            const long long q = e % {L(plane)}, run = e1 - e < {L(plane)} - q ? e1 - e : {L(plane)} - q;\n" +
            $"            const long long base = (e / {L(plane)} * {shape.C} + c) * {L(plane)} + q;\n" +
            $"            for (long long k = 0; k < run; k++)\n" +
            $"            {{\n" +
            $"                const long long at = base + k;\n" +
            term +
            $"            }}\n" +
            $"            e += run;\n" +
            $"        }}\n" +
            store,
            comment + $": partial sums, {chunks} chunk(s) of {length} per channel");
        var totals = string.Join(", ", Enumerable.Range(0, slots).Select(k => $"sum{k} = 0.0"));
        Kernel(what + "_total", shape.C,
            $"        const int c = (int)i;\n" +
            $"        double {totals};\n" +
            $"        for (int j = 0; j < {chunks}; j++)\n" +
            $"        {{\n" +
            string.Concat(Enumerable.Range(0, slots).Select(k => $"            sum{k} += w[W_PARTIALS + ((long long)c * {chunks} + j) * {slots} + {k}];\n")) +
            $"        }}\n" +
            finish,
            comment + ": the chunks added in order");
    }

    /// <summary>
    /// A sum per value over <paramref name="elements"/> terms (a weight gradient): one thread per (value, chunk)
    /// runs <paramref name="term"/> for each term <c>e</c> of its chunk (adding to the float <c>s</c>), then one thread
    /// per value adds its chunks in double and adds the total into <c>d[offset + value]</c>.
    /// </summary>
    private void ValueSum(string what, long values, long elements, string prologue, string term, int offset, string comment)
    {
        int chunks = Chunks(values, elements);
        long length = (elements + chunks - 1) / chunks;
        _partials = System.Math.Max(_partials, values * chunks);
        Kernel(what + "_partial", values * chunks,
            $"        const long long r = i / {chunks};\n" +
            prologue +
            $"        const long long e0 = (i % {chunks}) * {L(length)}, e1 = e0 + {L(length)} < {L(elements)} ? e0 + {L(length)} : {L(elements)};\n" +
            $"        float s = 0.0f;\n" +
            $"        for (long long e = e0; e < e1; e++)\n" +
            $"        {{\n" +
            term +
            $"        }}\n" +
            $"        w[W_PARTIALS + i] = s;\n",
            comment + $": partial sums, {chunks} chunk(s) of {length}");
        Kernel(what + "_total", values,
            $"        double sum = 0.0;\n" +
            $"        for (int j = 0; j < {chunks}; j++) sum += w[W_PARTIALS + i * {chunks} + j];\n" +
            $"        d[{offset} + i] += (float)sum;\n",
            comment + ": the chunks added in order");
    }

    // ---- Forward ----

    private void Forward()
    {
        foreach (var node in _g.Nodes)
        {
            var o = _g.Shapes[node.Out];
            switch (node)
            {
                case BatchNormNode b:
                    BatchNormForward(b.X, b.Out, b.Bn, b.Eps, null, node.Layer);
                    break;
                case BatchNormPReluNode b:
                    BatchNormForward(b.X, b.Out, b.Bn, b.Eps, b.Slope, node.Layer);
                    break;
                default:
                    Kernel(CudaPrinter.Kind(node), Count(node.Out),
                        Decode(o) + CudaPrinter.Body(_g, node, (t, c, y, x) => At(T(t), t, c, y, x)) + $"        {T(node.Out)}[i] = v;\n",
                        $"{node.Layer}: {CudaPrinter.Kind(node)} -> {o.C}x{o.H}x{o.W}");
                    break;
            }
        }
    }

    /// <summary>
    /// BatchNorm on the batch's statistics (and the PReLU after it, fused by the plan): the mean, the squared
    /// deviations from the float mean (corrected for its rounding), 1/std, the running statistics (momentum 0.1,
    /// unbiased variance), then the output. Saved for backward: mean, 1/std and, fused, the float scale used.
    /// </summary>
    private void BatchNormForward(int xt, int yt, Plan.Schedule.BatchNormParams bn, double eps, Plan.Schedule.Param? slope, string layer)
    {
        var o = _g.Shapes[yt];
        int stats = _plan.Statistics[yt], channels = o.C;
        long m = _n * (long)o.H * o.W;
        _channels = System.Math.Max(_channels, 4L * channels);
        string x = T(xt);
        ChannelSum("bn_mean", o, 1, $"                s0 += {x}[at];\n",
            $"        const double mean = sum0 / {D(m)};\n" +
            $"        t[{stats} + c] = (float)mean;\n" +
            $"        w[W_CHANNELS + {channels} + c] = (float)(mean - (double)(float)mean);\n",
            $"{layer}: batch mean");
        ChannelSum("bn_var", o, 1, $"                const float dv = {x}[at] - t[{stats} + c];\n                s0 += dv * dv;\n",
            $"        const double shift = w[W_CHANNELS + {channels} + c], mean = (double)t[{stats} + c] + shift;\n" +
            $"        double squares = sum0 - {D(m)} * shift * shift;\n" +
            $"        if (squares < 0.0) squares = 0.0;\n" +
            $"        const double variance = squares / {D(m)}, invStd = 1.0 / ESP_DSQRT(variance + {D(eps)});\n" +
            $"        t[{stats + channels} + c] = (float)invStd;\n" +
            $"        {(slope is null ? "w[W_CHANNELS + c]" : $"t[{stats + 2 * channels} + c]")} = (float)(invStd * p[{bn.Gamma.Offset} + c]);\n" +
            $"        p[{bn.Mean.Offset} + c] = (float)((1.0 - 0.1) * p[{bn.Mean.Offset} + c] + 0.1 * mean);\n" +
            $"        p[{bn.Variance.Offset} + c] = (float)((1.0 - 0.1) * p[{bn.Variance.Offset} + c] + 0.1 * {(m > 1 ? $"squares / {D(m - 1)}" : "variance")});\n",
            $"{layer}: batch variance, 1/std, running statistics");
        string scale = slope is null ? "w[W_CHANNELS + c]" : $"t[{stats + 2 * channels} + c]";
        Kernel(slope is null ? "batchnorm" : "batchnorm_prelu", Count(yt),
            Decode(o) +
            $"        const float v = ({x}[i] - t[{stats} + c]) * {scale} + p[{bn.Beta.Offset} + c];\n" +
            (slope is null ? $"        {T(yt)}[i] = v;\n" : $"        {T(yt)}[i] = v > 0.0f ? v : p[{slope.Offset} + c] * v;\n"),
            $"{layer}: {(slope is null ? "BatchNorm" : "BatchNorm + PReLU")} -> {o.C}x{o.H}x{o.W}");
    }

    // ---- Loss ----

    private const int LossPixels = 64;

    /// <summary>
    /// Per-pixel cross-entropy over the logits (PyTorch's mean with class weights; a label below 0 is ignored): per
    /// chunk of pixels the unscaled gradient and the chunk's weighted loss and weight (double); their totals in
    /// order; the gradient divided by the total weight. Labels (int) and class weights are written by the host.
    /// </summary>
    private (long Chunks, long Labels) Loss()
    {
        var o = _g.Shapes[_g.Output];
        long plane = (long)o.H * o.W;
        long perSample = (plane + LossPixels - 1) / LossPixels, chunks = _n * perSample;
        string z = T(_g.Output), dz = G(_g.Output);
        Kernel("loss_terms", chunks,
            $"        const long long n = i / {perSample}, q0 = i % {perSample} * {LossPixels}, q1 = q0 + {LossPixels} < {L(plane)} ? q0 + {LossPixels} : {L(plane)};\n" +
            $"        const int* labels = (const int*)(w + W_LABELS);\n" +
            $"        double numerator = 0.0, weights = 0.0;\n" +
            $"        for (long long q = q0; q < q1; q++)\n" +
            $"        {{\n" +
            $"            const long long at = n * {(long)o.C * plane}LL + q;\n" +
            $"            const int label = labels[n * {L(plane)} + q];\n" +
            $"            if (label < 0)\n" +
            $"            {{\n" +
            $"                for (int k = 0; k < {o.C}; k++) {dz}[at + k * {L(plane)}] = 0.0f;\n" +
            $"                continue;\n" +
            $"            }}\n" +
            $"            float top = {z}[at];\n" +
            $"            for (int k = 1; k < {o.C}; k++) top = {z}[at + k * {L(plane)}] > top ? {z}[at + k * {L(plane)}] : top;\n" +
            $"            double sum = 0.0;\n" +
            $"            for (int k = 0; k < {o.C}; k++) sum += ESP_EXP({z}[at + k * {L(plane)}] - top);\n" +
            $"            const double weight = w[W_CLASS_WEIGHTS + label];\n" +
            $"            numerator += weight * -((double)({z}[at + label * {L(plane)}] - top) - (double)ESP_LOG((float)sum));\n" +
            $"            weights += weight;\n" +
            $"            for (int k = 0; k < {o.C}; k++)\n" +
            $"                {dz}[at + k * {L(plane)}] = (float)(weight * (ESP_EXP({z}[at + k * {L(plane)}] - top) / sum - (k == label ? 1.0 : 0.0)));\n" +
            $"        }}\n" +
            $"        ((double*)(w + W_LOSS_CHUNKS))[2 * i] = numerator;\n" +
            $"        ((double*)(w + W_LOSS_CHUNKS))[2 * i + 1] = weights;\n",
            $"loss: cross-entropy per pixel, {LossPixels} pixels a thread");
        Kernel("loss_total", 1,
            $"        double numerator = 0.0, weights = 0.0;\n" +
            $"        for (long long k = 0; k < {L(chunks)}; k++)\n" +
            $"        {{\n" +
            $"            numerator += ((const double*)(w + W_LOSS_CHUNKS))[2 * k];\n" +
            $"            weights += ((const double*)(w + W_LOSS_CHUNKS))[2 * k + 1];\n" +
            $"        }}\n" +
            $"        ((double*)(w + W_LOSS))[0] = weights == 0.0 ? 0.0 : numerator / weights;\n" +
            $"        ((double*)(w + W_LOSS))[1] = weights;\n",
            "loss: the chunks' sums in order; the mean");
        Kernel("loss_scale", Count(_g.Output),
            $"        const double weights = ((const double*)(w + W_LOSS))[1];\n" +
            $"        if (weights != 0.0) {dz}[i] = (float)({dz}[i] / weights);\n",
            "loss: the gradient divided by the total weight");
        return (chunks, _n * plane);
    }

    // ---- Backward ----

    private void Backward()
    {
        foreach (var step in BackwardSteps.Build(_plan))
        {
            var node = _g.Nodes[step.Node];
            if (step.ClearOutput) Clear(node.Out);
            foreach (int cleared in step.ClearInputs) Clear(cleared);
            var o = _g.Shapes[node.Out];
            string dy = G(node.Out), label = $"{node.Layer}: {CudaPrinter.Kind(node)} backward";
            bool Has(int tensor) => _plan.HasGradient(tensor);
            string Write(int position, int tensor, string value) =>
                step.Overwrite[position] ? $"        {G(tensor)}[i] = {value};\n" : $"        {G(tensor)}[i] += {value};\n";
            switch (node)
            {
                case ConvNode cv:
                    ConvBackward(cv, step.Overwrite[0], label);
                    break;
                case ConvTransposeNode ct:
                    ConvTransposeBackward(ct, step.Overwrite[0], label);
                    break;
                case BiasNode b:
                    ChannelSum("bias_grad", o, 1, $"                s0 += {dy}[at];\n", $"        d[{b.Bias.Offset} + c] += (float)sum0;\n", label + ": bias gradient");
                    if (Has(b.X)) Kernel("bias_dx", Count(b.X), Write(0, b.X, $"{dy}[i]"), label + ": input gradient");
                    break;
                case BatchNormNode b:
                    BatchNormBackward(b.X, b.Out, b.Bn, null, step.Overwrite[0], label);
                    break;
                case BatchNormPReluNode b:
                    BatchNormBackward(b.X, b.Out, b.Bn, b.Slope, step.Overwrite[0], label);
                    break;
                case PReluNode pr:
                {
                    string x = T(pr.X);
                    ChannelSum("prelu_grad", o, 1, $"                if ({x}[at] <= 0.0f) s0 += {x}[at] * {dy}[at];\n",
                        $"        d[{pr.Slope.Offset} + c] += (float)sum0;\n", label + ": slope gradient");
                    if (Has(pr.X))
                        Kernel("prelu_dx", Count(pr.X), Decode(o) + Write(0, pr.X, $"{x}[i] > 0.0f ? {dy}[i] : p[{pr.Slope.Offset} + c] * {dy}[i]"), label + ": input gradient");
                    break;
                }
                case SumNode sum:
                {
                    int[] operands = [sum.A, sum.B];
                    for (int k = 0; k < 2; k++)
                        if (Has(operands[k]) && !_plan.SharesGradient(operands[k]))
                            Kernel("add_d" + (k == 0 ? "a" : "b"), Count(sum.Out), Write(k, operands[k], $"{dy}[i]"), label);
                    break;
                }
                case AvgPoolNode ap when Has(ap.X):
                {
                    var x = _g.Shapes[ap.X];
                    Kernel("avgpool_dx", Count(ap.X), Decode(x) +
                        $"        float v = 0.0f;\n" +
                        $"        for (int oy = y / 2 - 1; oy <= (y + 1) / 2; oy++)\n" +
                        $"        {{\n" +
                        $"            if (oy < 0 || oy >= {o.H} || y < 2 * oy - 1 || y > 2 * oy + 1) continue;\n" +
                        $"            for (int ox = x / 2 - 1; ox <= (x + 1) / 2; ox++)\n" +
                        $"                if (ox >= 0 && ox < {o.W} && x >= 2 * ox - 1 && x <= 2 * ox + 1) v += {At(dy, node.Out, "c", "oy", "ox")};\n" +
                        $"        }}\n" +
                        $"        {G(ap.X)}[i] += v / 9.0f;\n", label);
                    break;
                }
                case GlobalAvgPoolNode gp when Has(gp.X):
                {
                    var x = _g.Shapes[gp.X];
                    Kernel("globalavgpool_dx", Count(gp.X), Decode(x) +
                        $"        {G(gp.X)}[i] += (float)((double){dy}[(long long)n * {x.C} + c] / {D(x.H * x.W)});\n", label);
                    break;
                }
                case ResizeNode r when Has(r.X):
                    ResizeBackward(r, label);
                    break;
                case AdaptiveAvgPoolNode ad when Has(ad.X):
                {
                    var x = _g.Shapes[ad.X];
                    Kernel("adaptiveavgpool_dx", Count(ad.X), Decode(x) +
                        $"        float v = 0.0f;\n" +
                        $"        const int oy0 = y * {o.H} / {x.H} - 1 - {o.H / x.H}, oy1 = (y + 1) * {o.H} / {x.H} + 1;\n" +
                        $"        const int ox0 = x * {o.W} / {x.W} - 1 - {o.W / x.W}, ox1 = (x + 1) * {o.W} / {x.W} + 1;\n" +
                        $"        for (int oy = oy0 < 0 ? 0 : oy0; oy <= oy1 && oy < {o.H}; oy++)\n" +
                        $"        {{\n" +
                        $"            const int ys = oy * {x.H} / {o.H}, ye = ((oy + 1) * {x.H} + {o.H - 1}) / {o.H};\n" +
                        $"            if (y < ys || y >= ye) continue;\n" +
                        $"            for (int ox = ox0 < 0 ? 0 : ox0; ox <= ox1 && ox < {o.W}; ox++)\n" +
                        $"            {{\n" +
                        $"                const int xs = ox * {x.W} / {o.W}, xe = ((ox + 1) * {x.W} + {o.W - 1}) / {o.W};\n" +
                        $"                if (x >= xs && x < xe) v += {At(dy, node.Out, "c", "oy", "ox")} / (float)((ye - ys) * (xe - xs));\n" +
                        $"            }}\n" +
                        $"        }}\n" +
                        $"        {G(ad.X)}[i] += v;\n", label);
                    break;
                }
                case ShuffleNode sh when Has(sh.X):
                {
                    int per = o.C / sh.Groups;
                    Kernel("shuffle_dx", Count(sh.X), Decode(o) +
                        $"        {G(sh.X)}[i] += {At(dy, node.Out, $"(c % {per}) * {sh.Groups} + c / {per}", "y", "x")};\n", label);
                    break;
                }
                case GateNode gt:
                {
                    string gate = T(gt.Gate);
                    if (Has(gt.X))
                        Kernel("gate_dx", Count(gt.X), Decode(o) +
                            $"        const double s = 1.0 / (1.0 + (double)ESP_EXP(-{gate}[(long long)n * {o.C} + c]));\n" +
                            $"        {G(gt.X)}[i] += (float)({dy}[i] * s);\n", label + ": input gradient");
                    if (Has(gt.Gate))
                    {
                        long plane = (long)o.H * o.W;
                        Kernel("gate_dgate", _n * o.C,
                            $"        const double s = 1.0 / (1.0 + (double)ESP_EXP(-{gate}[i]));\n" +
                            $"        double sum = 0.0;\n" +
                            $"        for (long long q = 0; q < {L(plane)}; q++) sum += (double){dy}[i * {L(plane)} + q] * {T(gt.X)}[i * {L(plane)} + q];\n" +
                            $"        {G(gt.Gate)}[i] += (float)(s * (1.0 - s) * sum);\n", label + ": gate gradient");
                    }
                    break;
                }
                case SliceNode sl when Has(sl.X):
                    Kernel("slice_dx", Count(sl.Out), Decode(o) + $"        {At(G(sl.X), sl.X, $"c + {sl.From}", "y", "x")} += {dy}[i];\n", label);
                    break;
                case ConcatNode cc:
                {
                    int at = 0;
                    for (int k = 0; k < cc.Parts.Count; k++)
                    {
                        int part = cc.Parts[k];
                        var ps = _g.Shapes[part];
                        if (Has(part))
                            Kernel("concat_dpart", Count(part), Decode(ps) + Write(k, part, At(dy, node.Out, $"c + {at}", "y", "x")), label + $": channels {at}..{at + ps.C}");
                        at += ps.C;
                    }
                    break;
                }
                case ReshapeNode rs when Has(rs.X):
                    Kernel("reshape_dx", Count(rs.X), Write(0, rs.X, $"{dy}[i]"), label);
                    break;
            }
        }
    }

    private void Clear(int tensor) =>
        Kernel("clear", Count(tensor), $"        {G(tensor)}[i] = 0.0f;\n", $"gradient of tensor {tensor} to zero (its first contribution adds into part of it)");

    private void ConvBackward(ConvNode cv, bool overwrite, string label)
    {
        var x = _g.Shapes[cv.X];
        var o = _g.Shapes[cv.Out];
        int cinG = x.C / cv.Groups, coutG = cv.Cout / cv.Groups, k = cv.Kernel, pad = (k - 1) / 2 * cv.Dilation;
        long positions = _n * (long)o.H * o.W;
        string xs = T(cv.X), dy = G(cv.Out);
        ValueSum("conv_dw", (long)cv.Cout * cinG * k * k, positions,
            $"        const int kx = (int)(r % {k}), ky = (int)(r / {k} % {k}), ci = (int)(r / {k * k} % {cinG}), co = (int)(r / {k * k * cinG});\n" +
            $"        const int c0 = co / {coutG} * {cinG} + ci;\n",
            $"            const int ox = (int)(e % {o.W}), oy = (int)(e / {o.W} % {o.H}), n = (int)(e / {(long)o.W * o.H});\n" +
            $"            const int iy = oy * {cv.Stride} - {pad} + ky * {cv.Dilation}, ix = ox * {cv.Stride} - {pad} + kx * {cv.Dilation};\n" +
            $"            if (iy < 0 || iy >= {x.H} || ix < 0 || ix >= {x.W}) continue;\n" +
            $"            s += {At(dy, cv.Out, "co", "oy", "ox")} * {At(xs, cv.X, "c0", "iy", "ix")};\n",
            cv.Weight.Offset, label + ": weight gradient");
        if (!_plan.HasGradient(cv.X)) return;
        Kernel("conv_dx", Count(cv.X), Decode(x) +
            $"        const int cl = c % {cinG}, co0 = c / {cinG} * {coutG};\n" +
            $"        float v = 0.0f;\n" +
            $"        for (int ky = 0; ky < {k}; ky++)\n" +
            $"        {{\n" +
            $"            const int ty = y + {pad} - ky * {cv.Dilation};\n" +
            $"            if (ty < 0 || ty % {cv.Stride} != 0 || ty / {cv.Stride} >= {o.H}) continue;\n" +
            $"            for (int kx = 0; kx < {k}; kx++)\n" +
            $"            {{\n" +
            $"                const int tx = x + {pad} - kx * {cv.Dilation};\n" +
            $"                if (tx < 0 || tx % {cv.Stride} != 0 || tx / {cv.Stride} >= {o.W}) continue;\n" +
            $"                for (int co = co0; co < co0 + {coutG}; co++)\n" +
            $"                    v += {At(dy, cv.Out, "co", $"ty / {cv.Stride}", $"tx / {cv.Stride}")} * p[{cv.Weight.Offset} + ((co * {cinG} + cl) * {k} + ky) * {k} + kx];\n" +
            $"            }}\n" +
            $"        }}\n" +
            (overwrite ? $"        {G(cv.X)}[i] = v;\n" : $"        {G(cv.X)}[i] += v;\n"),
            label + ": input gradient");
    }

    private void ConvTransposeBackward(ConvTransposeNode ct, bool overwrite, string label)
    {
        var x = _g.Shapes[ct.X];
        var o = _g.Shapes[ct.Out];
        int k = ct.Kernel, s = ct.Stride;
        string xs = T(ct.X), dy = G(ct.Out);
        ValueSum("convtranspose_dw", (long)x.C * ct.Cout * k * k, _n * (long)x.H * x.W,
            $"        const int kx = (int)(r % {k}), ky = (int)(r / {k} % {k}), co = (int)(r / {k * k} % {ct.Cout}), ci = (int)(r / {k * k * ct.Cout});\n",
            $"            const int ix = (int)(e % {x.W}), iy = (int)(e / {x.W} % {x.H}), n = (int)(e / {(long)x.W * x.H});\n" +
            $"            const int oy = iy * {s} + ky, ox = ix * {s} + kx;\n" +
            $"            if (oy >= {o.H} || ox >= {o.W}) continue;\n" +
            $"            s += {At(xs, ct.X, "ci", "iy", "ix")} * {At(dy, ct.Out, "co", "oy", "ox")};\n",
            ct.Weight.Offset, label + ": weight gradient");
        if (!_plan.HasGradient(ct.X)) return;
        Kernel("convtranspose_dx", Count(ct.X), Decode(x) +
            $"        float v = 0.0f;\n" +
            $"        for (int ky = 0; ky < {k}; ky++)\n" +
            $"            for (int kx = 0; kx < {k}; kx++)\n" +
            $"            {{\n" +
            $"                const int oy = y * {s} + ky, ox = x * {s} + kx;\n" +
            $"                if (oy >= {o.H} || ox >= {o.W}) continue;\n" +
            $"                for (int co = 0; co < {ct.Cout}; co++)\n" +
            $"                    v += {At(dy, ct.Out, "co", "oy", "ox")} * p[{ct.Weight.Offset} + ((c * {ct.Cout} + co) * {k} + ky) * {k} + kx];\n" +
            $"            }}\n" +
            (overwrite ? $"        {G(ct.X)}[i] = v;\n" : $"        {G(ct.X)}[i] += v;\n"),
            label + ": input gradient");
    }

    /// <summary>
    /// BatchNorm's backward on the batch's statistics (with the fused PReLU's: its output recomputed from the saved
    /// input, mean and scale): per channel the sums of dy and dy * (x - mean) (and the slope's), then the input's
    /// gradient dx = gamma/std * (dy - mean(dy) - xhat * mean(dy * xhat)).
    /// </summary>
    private void BatchNormBackward(int xt, int yt, Plan.Schedule.BatchNormParams bn, Plan.Schedule.Param? slope, bool overwrite, string label)
    {
        var o = _g.Shapes[yt];
        int stats = _plan.Statistics[yt], channels = o.C;
        long m = _n * (long)o.H * o.W;
        _channels = System.Math.Max(_channels, 4L * channels);
        string x = T(xt), dy = G(yt), mean = $"t[{stats} + c]";
        // g: the gradient at the BatchNorm's output (through the PReLU when fused).
        string Gradient(string index, string indent) => slope is null
            ? $"{indent}const float g = {dy}[{index}];\n"
            : $"{indent}const float v = ({x}[{index}] - {mean}) * t[{stats + 2 * channels} + c] + p[{bn.Beta.Offset} + c];\n" +
              $"{indent}const float g = v > 0.0f ? {dy}[{index}] : p[{slope.Offset} + c] * {dy}[{index}];\n";
        int slots = slope is null ? 2 : 3;
        ChannelSum("batchnorm_grad", o, slots,
            Gradient("at", "                ") +
            $"                s0 += g;\n" +
            $"                s1 += g * ({x}[at] - {mean});\n" +
            (slope is null ? "" : $"                if (v <= 0.0f) s2 += v * {dy}[at];\n"),
            $"        const double invStd = t[{stats + channels} + c], sumDyXhat = sum1 * invStd;\n" +
            $"        d[{bn.Gamma.Offset} + c] += (float)sumDyXhat;\n" +
            $"        d[{bn.Beta.Offset} + c] += (float)sum0;\n" +
            (slope is null ? "" : $"        d[{slope.Offset} + c] += (float)sum2;\n") +
            $"        const double k = p[{bn.Gamma.Offset} + c] * invStd;\n" +
            $"        w[W_CHANNELS + 3 * c] = (float)k;\n" +
            $"        w[W_CHANNELS + 3 * c + 1] = (float)(-k * sum0 / {D(m)});\n" +
            $"        w[W_CHANNELS + 3 * c + 2] = (float)(-k * invStd * sumDyXhat / {D(m)});\n",
            label + ": gamma, beta" + (slope is null ? "" : ", slope") + " gradients");
        if (!_plan.HasGradient(xt)) return;
        string value = $"g * w[W_CHANNELS + 3 * c] + w[W_CHANNELS + 3 * c + 1] + ({x}[i] - {mean}) * w[W_CHANNELS + 3 * c + 2]";
        Kernel("batchnorm_dx", Count(xt), Decode(o) + Gradient("i", "        ") +
            (overwrite ? $"        {G(xt)}[i] = {value};\n" : $"        {G(xt)}[i] += {value};\n"),
            label + ": input gradient");
    }

    /// <summary>
    /// Aligned-corners bilinear resize, backward as a gather: each input element adds the output elements whose
    /// four sources include it, with the forward's weights (positions computed by the forward's own expressions).
    /// </summary>
    private void ResizeBackward(ResizeNode r, string label)
    {
        var x = _g.Shapes[r.X];
        var o = _g.Shapes[r.Out];
        string sy = o.H > 1 ? F((double)(x.H - 1) / (o.H - 1)) : "0.0f", sx = o.W > 1 ? F((double)(x.W - 1) / (o.W - 1)) : "0.0f";
        // Candidate outputs: those whose position lands within a row (column) of the input element, plus a margin;
        // every one is checked against the forward's own expressions.
        static string Range(string v, int outSize, int inSize, string name) =>
            outSize == 1 ? $"        const int {name}0 = 0, {name}1 = 0;\n"
            : inSize == 1 ? $"        const int {name}0 = 0, {name}1 = {outSize - 1};\n"
            : $"        const int {name}0 = (int)(({v} - 1) * {F((double)(outSize - 1) / (inSize - 1))}) - 1, {name}1 = (int)(({v} + 1) * {F((double)(outSize - 1) / (inSize - 1))}) + 1;\n";
        Kernel("resize_dx", Count(r.X), Decode(x) +
            Range("y", o.H, x.H, "oy") + Range("x", o.W, x.W, "ox") +
            $"        float v = 0.0f;\n" +
            $"        for (int oy = oy0 < 0 ? 0 : oy0; oy <= oy1 && oy < {o.H}; oy++)\n" +
            $"        {{\n" +
            $"            const float fy = oy * {sy};\n" +
            $"            const int y0 = (int)ESP_FLOOR(fy), y1 = y0 + 1 < {x.H} ? y0 + 1 : {x.H - 1};\n" +
            $"            if (y0 != y && y1 != y) continue;\n" +
            $"            const float wy = fy - y0, ky = (y0 == y ? 1.0f - wy : 0.0f) + (y1 == y ? wy : 0.0f);\n" +
            $"            for (int ox = ox0 < 0 ? 0 : ox0; ox <= ox1 && ox < {o.W}; ox++)\n" +
            $"            {{\n" +
            $"                const float fx = ox * {sx};\n" +
            $"                const int x0 = (int)ESP_FLOOR(fx), x1 = x0 + 1 < {x.W} ? x0 + 1 : {x.W - 1};\n" +
            $"                if (x0 != x && x1 != x) continue;\n" +
            $"                const float wx = fx - x0, kx = (x0 == x ? 1.0f - wx : 0.0f) + (x1 == x ? wx : 0.0f);\n" +
            $"                v += {At(G(r.Out), r.Out, "c", "oy", "ox")} * kx * ky;\n" +
            $"            }}\n" +
            $"        }}\n" +
            $"        {G(r.X)}[i] += v;\n", label);
    }

    // ---- Optimizers ----

    /// <summary>
    /// SGD (momentum, Nesterov, weight decay) and Adam (bias-corrected, weight decay added to the gradient), one
    /// thread per parameter, in double as the C# optimizers compute. <c>w</c> holds per element its trained
    /// tensor's index (-1: not trained; written once by the host), the settings and per tensor its learning rate
    /// (written per step), and the state: SGD's momentum buffer, Adam's two moments.
    /// </summary>
    private void Optimizers(int parameterFloats)
    {
        string prologue =
            "        const int group = ((const int*)(w + W_GROUPS))[i];\n" +
            "        if (group < 0) continue;\n" +
            "        const double* h = (const double*)(w + W_HYPER);\n" +
            $"        const double lr = h[{HyperRates} + group];\n";
        Kernel("espnet_sgd", parameterFloats, prologue +
            $"        double u = d[i] + h[{HyperWeightDecay}] * p[i];\n" +
            $"        if (h[{HyperMomentum}] != 0.0)\n" +
            $"        {{\n" +
            $"            const double b = h[{HyperStarted}] != 0.0 ? h[{HyperMomentum}] * w[W_STATE + i] + u : u;\n" +
            $"            w[W_STATE + i] = (float)b;\n" +
            $"            u = h[{HyperNesterov}] != 0.0 ? u + h[{HyperMomentum}] * b : b;\n" +
            $"        }}\n" +
            $"        p[i] = (float)(p[i] - lr * u);\n",
            "SGD: every trained parameter", optimizer: true);
        Kernel("espnet_adam", parameterFloats, prologue +
            $"        const double g = d[i] + h[{HyperWeightDecay}] * p[i];\n" +
            $"        const double m = h[{HyperBeta1}] * w[W_STATE + i] + (1.0 - h[{HyperBeta1}]) * g;\n" +
            $"        const double v = h[{HyperBeta2}] * w[W_STATE + {parameterFloats}LL + i] + (1.0 - h[{HyperBeta2}]) * g * g;\n" +
            $"        w[W_STATE + i] = (float)m;\n" +
            $"        w[W_STATE + {parameterFloats}LL + i] = (float)v;\n" +
            $"        p[i] = (float)(p[i] - lr * (m / h[{HyperCorrection1}]) / (ESP_DSQRT(v / h[{HyperCorrection2}]) + h[{HyperEps}]));\n",
            "Adam: every trained parameter", optimizer: true);
    }
}
