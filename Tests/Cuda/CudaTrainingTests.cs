using System.Runtime.InteropServices;
using Espnet.Compiled.Cuda;
using Espnet.Compiled.Tests.Numerics;
using Espnet.Compiled.Tests.Support;
using Espnet.Compiled.Training;

namespace Espnet.Compiled.Tests.Cuda;

/// <summary>
/// The generated CUDA training kernels without a GPU: built with g++ through the CPU shim and run for two steps
/// (forward on the batch's statistics, cross-entropy, backward, an SGD or Adam update), against the C# trainer
/// on the same weights, input, labels, class weights and learning rates: the losses, the logits, every parameter
/// gradient, the BatchNorm running statistics and the parameters after the updates. The work area is filled by
/// the same host code <see cref="CudaTrainer"/> uses on a GPU.
/// </summary>
// Runs networks on the shared worker threads: kept apart from the tests that count allocations.
[Collection(nameof(Espnet.Compiled.Tests.Kernels.KernelSettings))]
public sealed class CudaTrainingTests(ITestOutputHelper output)
{
    /// <summary>Every block kind the training fixtures cover (TinySeg, TinyCls), a deeper ESPNet, and EdgeNets' full segmentation network.</summary>
    public static TheoryData<string, string> Cases => new()
    {
        { "TinySeg", "sgd" },
        { "TinySeg", "adam" },
        { "TinyCls", "sgd" },
        { "TinyCls", "adam" },
        { "LearningEspNet", "adam" },
        { "EdgeNetsS20CityAt64x128", "sgd" },
    };

    private const int Steps = 2;
    private const double Lr = 0.01;

    /// <summary>Gradients: each tensor within this share of its largest value (float sums in another order than the C# kernels').</summary>
    private const double GradientTolerance = 5e-5;

    [Theory]
    [MemberData(nameof(Cases))]
    public void Two_training_steps_through_the_cpu_shim_match_the_csharp_trainer(string name, string optimizer)
    {
        const int seed = 41;
        string note = $"(network {name}, optimizer {optimizer}, seed {seed})";
        var network = CudaTools.Create(name);
        var type = network.GetType();
        var kernels = CudaTools.Constant<CudaTrainingKernels>(type, "CudaTraining");
        network.LoadWeights(RandomWeights.For(network, seed));
        var initial = network.Store.ToArray();
        var o = network.OutputShape;
        int plane = o.Height * o.Width, n = network.Batch;
        var rng = new Random(seed);
        var input = RandomWeights.Input(n * network.InputShape.Elements, seed + 1);
        bool perPixel = plane > 1;
        var labels = new byte[n * plane];
        var classes = new int[n];
        for (int i = 0; i < labels.Length; i++) labels[i] = rng.Next(10) == 0 ? (byte)255 : (byte)rng.Next(o.Channels);
        for (int i = 0; i < classes.Length; i++) classes[i] = rng.Next(o.Channels);
        var classWeights = perPixel ? Enumerable.Range(0, o.Channels).Select(_ => (float)(0.5 + 1.5 * rng.NextDouble())).ToArray() : null;
        var cudaOptimizer = optimizer == "sgd" ? CudaOptimizer.Sgd(0.9, weightDecay: 1e-4) : CudaOptimizer.Adam(weightDecay: 1e-4);
        // Parameter groups: the last trained tensor at 10x (EdgeNets trains its decoder so), to check the rates reach their tensors.
        var trained = Trainer.TrainedParameters(network);
        double Scale(ParameterInfo p) => p.Offset == trained[^1].Offset ? 10 : 1;

        // The C# trainer.
        var cpu = new Trainer(network, optimizer == "sgd" ? length => new Sgd(length, 0.9, weightDecay: 1e-4) : length => new Adam(length, weightDecay: 1e-4))
        {
            LearningRateScale = Scale,
        };
        var losses = new double[Steps];
        var gradients = new float[Steps][];
        float[] logits = [], afterForward = [];
        for (int s = 0; s < Steps; s++)
        {
            losses[s] = perPixel ? cpu.ComputeGradients(input, labels, classWeights) : cpu.ComputeGradients(input, classes);
            gradients[s] = cpu.ParameterGradients.ToArray();
            if (s == 0)
            {
                logits = cpu.Logits.ToArray();
                afterForward = network.Store.ToArray();
            }
            cpu.Step(Lr);
        }
        var final = network.Store.ToArray();

        // The kernels through the shim, the work area written by CudaTrainer's host code.
        string exe = CudaTools.BuildShim(name, type, "train_driver.cpp"), dir = Path.GetDirectoryName(exe)!;
        var work = new float[kernels.WorkFloats];
        var labelRegion = MemoryMarshal.Cast<float, int>(work.AsSpan((int)kernels.Labels, n * plane));
        if (perPixel) CudaTrainingKernels.WriteLabels(labels, o.Channels, plane, 255, labelRegion);
        else CudaTrainingKernels.WriteLabels(classes, o.Channels, labelRegion);
        for (int c = 0; c < o.Channels; c++) work[kernels.ClassWeights + c] = classWeights?[c] ?? 1f;
        CudaTrainingKernels.WriteGroups(trained, MemoryMarshal.Cast<float, int>(work.AsSpan((int)kernels.Groups, initial.Length)));
        CudaTools.WriteBytes(Path.Combine(dir, "p.bin"), (ReadOnlySpan<float>)initial);
        CudaTools.WriteBytes(Path.Combine(dir, "in.bin"), (ReadOnlySpan<float>)input);
        CudaTools.WriteBytes(Path.Combine(dir, "w.bin"), (ReadOnlySpan<float>)work);
        var rates = trained.Select(p => Lr * Scale(p)).ToArray();
        var hyperFiles = new List<string>();
        for (int s = 0; s < Steps; s++)
        {
            var hyper = new double[CudaTrainingKernels.HyperRates + trained.Length];
            CudaTrainingKernels.WriteHyper(cudaOptimizer, s, rates, hyper);
            hyperFiles.Add(Path.Combine(dir, $"hyper{s}.bin"));
            CudaTools.WriteBytes(hyperFiles[^1], (ReadOnlySpan<double>)hyper);
        }
        var (code, err) = CudaTools.Exec(exe, [Path.Combine(dir, "p.bin"), kernels.ArenaFloats.ToString(), kernels.Input.ToString(), Path.Combine(dir, "in.bin"),
            Path.Combine(dir, "w.bin"), kernels.Hyper.ToString(), kernels.Loss.ToString(), optimizer, dir, .. hyperFiles]);
        Assert.True(code == 0, $"the emulated training step failed: {err}");

        var shimLosses = MemoryMarshal.Cast<byte, double>(File.ReadAllBytes(Path.Combine(dir, "loss.bin"))).ToArray();
        for (int s = 0; s < Steps; s++)
            Assert.True(Math.Abs(shimLosses[s] - losses[s]) <= 1e-5 * Math.Max(1, Math.Abs(losses[s])),
                $"{name}: step {s} loss {shimLosses[s]} on the CUDA kernels, {losses[s]} in C# {note}");
        var arena = SharedData.ReadF32(Path.Combine(dir, "t.bin"));
        Compare.AssertClose(arena.AsSpan((int)kernels.Output, logits.Length), logits, $"{name}: logits {note}");

        // Every parameter's gradient (first step), each tensor against its largest value; the running statistics; the parameters after the updates.
        var d = SharedData.ReadF32(Path.Combine(dir, "d.bin"));
        var p1 = SharedData.ReadF32(Path.Combine(dir, "p1.bin"));
        var p = SharedData.ReadF32(Path.Combine(dir, "p.bin"));
        double worstGradient = 0, worstStatistic = 0, worstParameter = 0;
        var gradientError = new Dictionary<int, double>();
        foreach (var info in network.Parameters)
        {
            var ours = d.AsSpan(info.Offset, info.Elements);
            var theirs = gradients[0].AsSpan(info.Offset, info.Elements);
            double top = 0, error = 0;
            for (int i = 0; i < theirs.Length; i++)
            {
                top = Math.Max(top, Math.Abs(theirs[i]));
                error = Math.Max(error, Math.Abs(ours[i] - theirs[i]));
            }
            Assert.True(error <= GradientTolerance * Math.Max(top, 1e-30) || (top == 0 && error == 0),
                $"{name}: gradient of {info.Key} off by {error:E2} against its largest value {top:E2} {note}");
            if (top > 0) worstGradient = Math.Max(worstGradient, error / top);
            gradientError[info.Offset] = error;
            if (!info.IsLearnable)
                worstStatistic = Math.Max(worstStatistic, Compare.AssertClose(p1.AsSpan(info.Offset, info.Elements), afterForward.AsSpan(info.Offset, info.Elements),
                    $"{name}: running statistic {info.Key} after the forward pass {note}", 1e-5));
        }
        foreach (var info in trained)
        {
            double rate = Lr * Scale(info);
            for (int i = info.Offset; i < info.Offset + info.Elements; i++)
            {
                double allowed = 1e-5 * Math.Max(1, Math.Abs(final[i]));
                // Adam's step is about lr whatever the gradient's size, its direction the ratio of the moments: a
                // gradient off by e moves an element's step by up to ~lr * e / |g|. Each step's allowance is that,
                // with e four times the first step's measured error for the tensor (the second step's is not read back).
                if (optimizer == "adam")
                    foreach (var g in gradients)
                        allowed += 2 * rate * Math.Min(1, 4 * gradientError[info.Offset] / Math.Max(Math.Abs(g[i]), 1e-30));
                double error = Math.Abs(p[i] - final[i]);
                Assert.True(error <= allowed, $"{name}: parameter {info.Key}[{i - info.Offset}] is {p[i]} after {Steps} {optimizer} steps on the CUDA kernels, {final[i]} in C# {note}");
                worstParameter = Math.Max(worstParameter, error / Math.Max(1, Math.Abs(final[i])));
            }
        }
        Assert.True(gradients[0].Any(v => v != 0), "the C# gradients are all zero");
        output.WriteLine($"{name} ({optimizer}): {kernels.Step.Length} kernels a step; losses {string.Join(", ", losses.Select(l => l.ToString("F6")))}; " +
                         $"worst gradient error {worstGradient:E2} of the tensor's largest, running statistics {worstStatistic:E2}, parameters {worstParameter:E2}");
    }

    [Fact]
    public void A_label_outside_the_classes_is_the_cpu_trainers_error_before_anything_runs()
    {
        var into = new int[8];
        byte[] labels = [0, 1, 255, 2, 7, 0, 1, 1];
        var e = Assert.Throws<ArgumentException>(() => CudaTrainingKernels.WriteLabels(labels, 5, 4, 255, into));
        Assert.Equal("CrossEntropy: sample 1, pixel 0 has target 7, outside the 5 classes (and not the ignore index 255).", e.Message);
        CudaTrainingKernels.WriteLabels([0, 1, 255, 2], 5, 4, 255, into);
        Assert.Equal([0, 1, -1, 2], into[..4]);
        var bad = Assert.Throws<ArgumentException>(() => CudaTrainingKernels.WriteLabels([3, 10], 10, into));
        Assert.Contains("sample 1, pixel 0 has target 10, outside the 10 classes", bad.Message);
    }
}
