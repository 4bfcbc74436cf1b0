namespace Espnet.Compiled.Cuda;

/// <summary>
/// A network's training step as generated CUDA kernels (docs/cuda.md, "Training"): the launches of one step in
/// order (gradients cleared, forward on the batch's statistics, cross-entropy, backward), the optimizers' kernels
/// (<c>espnet_sgd</c>, <c>espnet_adam</c>), and where things lie: the training arena (the C# training pass's
/// layout: <see cref="Input"/> and <see cref="Output"/>, the logits) and the work area's regions, in floats.
/// Every kernel takes (parameters, arena, parameter gradients, work).
/// </summary>
public sealed record CudaTrainingKernels(
    (string Kernel, long Threads)[] Step,
    (string Kernel, long Threads)[] Optimizers,
    long ArenaFloats,
    long WorkFloats,
    long Input,
    long Output,
    long Labels,
    long ClassWeights,
    long Loss,
    long Hyper,
    long Groups,
    long State)
{
    /// <summary>Doubles at <see cref="Hyper"/>: momentum, Nesterov (0/1), weight decay, started (0/1), Adam's beta1, beta2, eps and its two bias corrections, then one learning rate per trained tensor.</summary>
    public const int HyperMomentum = 0, HyperNesterov = 1, HyperWeightDecay = 2, HyperStarted = 3, HyperBeta1 = 4, HyperBeta2 = 5, HyperEps = 6,
        HyperCorrection1 = 7, HyperCorrection2 = 8, HyperRates = 9;

    /// <summary>
    /// The labels as the loss kernel reads them (int per pixel, -1 ignored): checked on the host, so a label outside
    /// the classes is the CPU trainer's error, naming the sample, pixel and value.
    /// </summary>
    public static void WriteLabels(ReadOnlySpan<byte> labels, int classes, int plane, int ignore, Span<int> into)
    {
        for (int k = 0; k < labels.Length; k++)
        {
            int t = labels[k];
            if (t == ignore) t = -1;
            else if (t >= classes)
                throw new ArgumentException($"CrossEntropy: sample {k / plane}, pixel {k % plane} has target {t}, outside the {classes} classes (and not the ignore index {ignore}).");
            into[k] = t;
        }
    }

    /// <summary>One class per sample (image classification), as <see cref="WriteLabels(ReadOnlySpan{byte}, int, int, int, Span{int})"/>.</summary>
    public static void WriteLabels(ReadOnlySpan<int> classes, int classCount, Span<int> into)
    {
        for (int k = 0; k < classes.Length; k++)
        {
            if ((uint)classes[k] >= (uint)classCount)
                throw new ArgumentException($"CrossEntropy: sample {k}, pixel 0 has target {classes[k]}, outside the {classCount} classes (and not the ignore index -1).");
            into[k] = classes[k];
        }
    }

    /// <summary>Per parameter float, the index of its trained tensor (<paramref name="trained"/>'s order: <see cref="Training.Trainer.TrainedParameters"/>) or -1: which learning rate it takes, and whether the optimizer touches it.</summary>
    public static void WriteGroups(ReadOnlySpan<ParameterInfo> trained, Span<int> into)
    {
        into.Fill(-1);
        for (int i = 0; i < trained.Length; i++) into.Slice(trained[i].Offset, trained[i].Elements).Fill(i);
    }

    /// <summary>
    /// The optimizer's settings for the next update: <paramref name="steps"/> updates made before it (SGD's momentum
    /// buffer starts at the first; Adam's bias corrections count this one), and per trained tensor its learning rate.
    /// </summary>
    public static void WriteHyper(CudaOptimizer optimizer, int steps, ReadOnlySpan<double> rates, Span<double> into)
    {
        into[HyperMomentum] = optimizer.Momentum;
        into[HyperNesterov] = optimizer.Nesterov ? 1 : 0;
        into[HyperWeightDecay] = optimizer.WeightDecay;
        into[HyperStarted] = steps > 0 ? 1 : 0;
        into[HyperBeta1] = optimizer.Beta1;
        into[HyperBeta2] = optimizer.Beta2;
        into[HyperEps] = optimizer.Eps;
        into[HyperCorrection1] = 1 - Math.Pow(optimizer.Beta1, steps + 1);
        into[HyperCorrection2] = 1 - Math.Pow(optimizer.Beta2, steps + 1);
        rates.CopyTo(into[HyperRates..]);
    }
}

/// <summary>An update rule the GPU runs, with the C# optimizers' settings and arithmetic (<see cref="Training.Sgd"/>, <see cref="Training.Adam"/>).</summary>
public sealed record CudaOptimizer(bool IsAdam, double Momentum = 0.9, bool Nesterov = false, double Beta1 = 0.9, double Beta2 = 0.999, double Eps = 1e-8, double WeightDecay = 0)
{
    public static CudaOptimizer Sgd(double momentum = 0.9, bool nesterov = false, double weightDecay = 0) =>
        new(false, momentum, nesterov, WeightDecay: weightDecay);

    public static CudaOptimizer Adam(double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0) =>
        new(true, 0, false, beta1, beta2, eps, weightDecay);

    /// <summary>The kernel that applies it.</summary>
    public string Kernel => IsAdam ? "espnet_adam" : "espnet_sgd";
}
