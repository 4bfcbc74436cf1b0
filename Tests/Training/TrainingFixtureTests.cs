using Espnet.Compiled.Tests.Support;
using Espnet.Compiled.Training;
using Espnet.Compiled.Weights;

namespace Espnet.Compiled.Tests.Training;

/// <summary>
/// The network of Tests/Fixtures/scripts/make_training_fixture.py, declared with attributes: every block kind of
/// the segmentation zoo (CBR, reinforcement, BR, strided and plain ESP, DownSampler with the image, EESP, the
/// sigmoid-gated conv, the pyramid pool, a classifier, a transposed conv, a resize), batch 2.
/// </summary>
[Network(Height = 32, Width = 64, Batch = 2)]
[Conv("level1", "input", Out = 16, Stride = 2)]
[AvgPool("sample1", "input")]
[Concat("cat1", "level1", "sample1")]
[BatchNorm("b1", "cat1")]
[Esp("level2_0", "b1", Out = 32, Stride = 2)]
[Esp("level2", "level2_0", Out = 32)]
[DownSampler("down", "level2", Out = 64)]
[Eesp("eesp", "down", Out = 64)]
[GatedConv("gate", "eesp", Out = 32)]
[PyramidPool("pyr", "gate", Proj = 4, Out = 8)]
[Conv("classifier", "pyr", Out = 5, Kernel = 1, BatchNorm = false, PRelu = false)]
[ConvTranspose("up", "classifier", Out = 5)]
[Resize("out", "up", Like = "input")]
public sealed partial class TinySeg;

/// <summary>The fixture script's classifier: CBR, DownSampler with the image, the older head's PSP pooling, EESP, global pooling, linear; batch 3.</summary>
[Network(Height = 32, Width = 32, Batch = 3)]
[Conv("level1", "input", Out = 16, Stride = 2, Eps = 1e-5)]
[DownSampler("down", "level1", Out = 48)]
[PspPool("psp", "down", Out = 32, Levels = 2)]
[Eesp("eesp", "psp", Out = 32)]
[GlobalAvgPool("pool", "eesp")]
[Linear("fc", "pool", Out = 10)]
public sealed partial class TinyCls;

/// <summary>
/// One generated training step against PyTorch autograd (float64, so the fixture is exact and the error measured
/// is ours): the loss, every parameter gradient, the BatchNorm running statistics, and the parameters after one
/// SGD and one Adam step.
/// </summary>
// Runs networks on the shared worker threads: kept apart from the tests that count allocations.
[Collection(nameof(Espnet.Compiled.Tests.Kernels.KernelSettings))]
public sealed class TrainingFixtureTests(ITestOutputHelper output)
{
    private static readonly Dictionary<string, Lazy<StateDict>> Fixtures = new()
    {
        ["seg"] = new(() => PthReader.Read(Path.Combine(AppContext.BaseDirectory, "Fixtures", "training", "tiny_seg_step.pth"))),
        ["cls"] = new(() => PthReader.Read(Path.Combine(AppContext.BaseDirectory, "Fixtures", "training", "tiny_cls_step.pth"))),
    };

    /// <summary>The fixture's tensor for one of our keys: PyTorch's module names where ours wrap a bare convolution in `conv`.</summary>
    private static StoredTensor Find(StateDict f, string prefix, string key)
    {
        if (f.TryGet(prefix + key, out var t)) return t;
        if (key.EndsWith(".conv.weight", StringComparison.Ordinal) && f.TryGet(prefix + key[..^".conv.weight".Length] + ".weight", out t)) return t;
        throw new KeyNotFoundException($"the fixture has no {prefix}{key}");
    }

    /// <summary>The network with the fixture's starting weights, and a trainer whose step computes the fixture's loss.</summary>
    private static (CompiledNetwork Network, StateDict Fixture, Func<Trainer, double> Loss) Start(string name)
    {
        var f = Fixtures[name].Value;
        CompiledNetwork network = name == "seg" ? new TinySeg() : new TinyCls();
        var weights = new StateDict();
        foreach (var p in network.Parameters) weights.Add(p.Key, Find(f, "model.", p.Key));
        network.LoadWeights(weights);
        float[] input = f["input"].Values;
        Func<Trainer, double> loss = name == "seg"
            ? t => t.ComputeGradients(input, [.. f["labels"].Values.Select(v => (byte)v)], f["weights"].Values)
            : t => t.ComputeGradients(input, [.. f["labels"].Values.Select(v => (int)v)]);
        return (network, f, loss);
    }

    /// <summary>Largest |ours - theirs| over a tensor, relative to the tensor's largest |theirs|.</summary>
    private static double Error(ReadOnlySpan<float> ours, float[] theirs)
    {
        double worst = 0, scale = 1e-12;
        for (int i = 0; i < theirs.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs(ours[i] - theirs[i]));
            scale = Math.Max(scale, Math.Abs(theirs[i]));
        }
        return worst / scale;
    }

    [Theory]
    [InlineData("seg")]
    [InlineData("cls")]
    public void The_loss_gradients_and_running_statistics_are_pytorchs(string name)
    {
        var (network, f, computeLoss) = Start(name);
        var trainer = new Trainer(network);
        double loss = computeLoss(trainer);
        double expected = f["loss"].Values[0];
        output.WriteLine($"{name}: loss {loss:F7} (PyTorch float64 {expected:F7})");
        Assert.True(Math.Abs(loss - expected) <= 1e-5 * Math.Abs(expected), $"loss {loss} vs {expected}");

        double worstGradient = 0;
        string worstKey = "";
        int checkedTensors = 0;
        foreach (var p in network.Parameters.Where(p => p.IsLearnable))
        {
            var theirs = Find(f, "grad.", p.Key).Values;
            Assert.Equal(p.Elements, theirs.Length);
            double e = Error(trainer.ParameterGradients.Slice(p.Offset, p.Elements), theirs);
            if (e > worstGradient) (worstGradient, worstKey) = (e, p.Key);
            checkedTensors++;
        }
        output.WriteLine($"{name}: {checkedTensors} gradient tensors; worst max|ours - PyTorch| / max|PyTorch| = {worstGradient:E2} ({worstKey})");
        Assert.True(worstGradient <= 1e-4, $"gradient of {worstKey}: relative error {worstGradient:E2}");

        double worstRunning = 0;
        foreach (var p in network.Parameters.Where(p => !p.IsLearnable))
            worstRunning = Math.Max(worstRunning, Error(network.Store.Slice(p.Offset, p.Elements), Find(f, "running.", p.Key).Values));
        output.WriteLine($"{name}: running statistics: worst relative error {worstRunning:E2}");
        Assert.True(worstRunning <= 1e-5, $"running statistics: {worstRunning:E2}");
    }

    [Theory]
    [InlineData("seg", "sgd")]
    [InlineData("seg", "adam")]
    [InlineData("cls", "sgd")]
    [InlineData("cls", "adam")]
    public void One_optimizer_step_gives_pytorchs_parameters(string name, string optimizer)
    {
        var (network, f, computeLoss) = Start(name);
        var trainer = new Trainer(network, optimizer == "sgd"
            ? n => new Sgd(n, momentum: 0.9, weightDecay: 1e-4)
            : n => new Adam(n, weightDecay: 1e-4));
        computeLoss(trainer);
        trainer.Step(optimizer == "sgd" ? 0.1 : 1e-3);
        // Adam's first step moves each element by lr * g / (|g| + 1e-8), g the gradient plus weight decay x the
        // parameter: where g nearly cancels (|g| under 1e-3 of the tensor's largest gradient, within ~100x of our
        // float32 gradient error), that error decides the ratio. Those elements are held to the step's bound (lr);
        // every other element to 1e-4 of the tensor's largest value.
        double lr = optimizer == "sgd" ? 0.1 : 1e-3, worst = 0;
        string worstKey = "";
        int nearZero = 0;
        foreach (var p in network.Parameters.Where(p => p.IsLearnable))
        {
            var ours = network.Store.Slice(p.Offset, p.Elements);
            float[] theirs = Find(f, optimizer + ".", p.Key).Values, gradient = Find(f, "grad.", p.Key).Values, before = Find(f, "model.", p.Key).Values;
            double scale = Math.Max(1e-12, theirs.Max(Math.Abs)), largest = gradient.Max(Math.Abs);
            for (int i = 0; i < theirs.Length; i++)
            {
                double e = Math.Abs(ours[i] - theirs[i]);
                if (optimizer == "adam" && Math.Abs(gradient[i] + 1e-4 * before[i]) < 1e-3 * largest)
                {
                    nearZero++;
                    Assert.True(e <= lr * 1.001, $"{p.Key}[{i}]: moved {e} from PyTorch's, more than one Adam step ({lr})");
                    continue;
                }
                if (e / scale > worst) (worst, worstKey) = (e / scale, p.Key);
            }
        }
        output.WriteLine($"{name}/{optimizer}: worst relative parameter error after one step {worst:E2} ({worstKey})" +
                         (optimizer == "adam" ? $"; {nearZero} elements whose decayed gradient nearly cancels held to the step bound" : ""));
        Assert.True(worst <= 1e-4, $"{optimizer}: {worstKey} relative error {worst:E2}");
    }
}
