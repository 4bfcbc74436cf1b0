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

/// <summary>
/// One generated training step against PyTorch autograd (float64, so the fixture is exact and the error measured
/// is ours): the loss, every parameter gradient, the BatchNorm running statistics, and the parameters after one
/// SGD and one Adam step.
/// </summary>
public sealed class TrainingFixtureTests(ITestOutputHelper output)
{
    private static readonly Lazy<StateDict> Fixture = new(() => PthReader.Read(Path.Combine(AppContext.BaseDirectory, "Fixtures", "training", "tiny_seg_step.pth")));

    /// <summary>The fixture's tensor for one of our keys: PyTorch's module names where ours wrap a bare convolution in `conv`.</summary>
    private static StoredTensor Find(string prefix, string key)
    {
        var f = Fixture.Value;
        if (f.TryGet(prefix + key, out var t)) return t;
        if (key.EndsWith(".conv.weight", StringComparison.Ordinal) && f.TryGet(prefix + key[..^".conv.weight".Length] + ".weight", out t)) return t;
        throw new KeyNotFoundException($"the fixture has no {prefix}{key}");
    }

    private static (TinySeg Network, float[] Input, byte[] Labels, float[] Weights) Start()
    {
        var network = new TinySeg();
        var weights = new StateDict();
        foreach (var p in network.Parameters) weights.Add(p.Key, Find("model.", p.Key));
        network.LoadWeights(weights);
        var f = Fixture.Value;
        return (network, f["input"].Values, [.. f["labels"].Values.Select(v => (byte)v)], f["weights"].Values);
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

    [Fact]
    public void The_loss_gradients_and_running_statistics_are_pytorchs()
    {
        var (network, input, labels, classWeights) = Start();
        var trainer = new Trainer(network);
        double loss = trainer.ComputeGradients(input, labels, classWeights);
        double expected = Fixture.Value["loss"].Values[0];
        output.WriteLine($"loss {loss:F7} (PyTorch float64 {expected:F7})");
        Assert.True(Math.Abs(loss - expected) <= 1e-5 * Math.Abs(expected), $"loss {loss} vs {expected}");

        double worstGradient = 0;
        string worstKey = "";
        int checkedTensors = 0;
        foreach (var p in network.Parameters.Where(p => p.IsLearnable))
        {
            var theirs = Find("grad.", p.Key).Values;
            Assert.Equal(p.Elements, theirs.Length);
            double e = Error(trainer.ParameterGradients.Slice(p.Offset, p.Elements), theirs);
            if (e > worstGradient) (worstGradient, worstKey) = (e, p.Key);
            checkedTensors++;
        }
        output.WriteLine($"{checkedTensors} gradient tensors; worst max|ours - PyTorch| / max|PyTorch| = {worstGradient:E2} ({worstKey})");
        Assert.True(worstGradient <= 1e-4, $"gradient of {worstKey}: relative error {worstGradient:E2}");

        double worstRunning = 0;
        foreach (var p in network.Parameters.Where(p => !p.IsLearnable))
            worstRunning = Math.Max(worstRunning, Error(network.Store.Slice(p.Offset, p.Elements), Find("running.", p.Key).Values));
        output.WriteLine($"running statistics: worst relative error {worstRunning:E2}");
        Assert.True(worstRunning <= 1e-5, $"running statistics: {worstRunning:E2}");
    }

    [Theory]
    [InlineData("sgd")]
    [InlineData("adam")]
    public void One_optimizer_step_gives_pytorchs_parameters(string optimizer)
    {
        var (network, input, labels, classWeights) = Start();
        var trainer = new Trainer(network, optimizer == "sgd"
            ? n => new Sgd(n, momentum: 0.9, weightDecay: 1e-4)
            : n => new Adam(n, weightDecay: 1e-4));
        trainer.ComputeGradients(input, labels, classWeights);
        trainer.Step(optimizer == "sgd" ? 0.1 : 1e-3);
        double worst = 0;
        string worstKey = "";
        foreach (var p in network.Parameters.Where(p => p.IsLearnable))
        {
            double e = Error(network.Store.Slice(p.Offset, p.Elements), Find(optimizer + ".", p.Key).Values);
            if (e > worst) (worst, worstKey) = (e, p.Key);
        }
        output.WriteLine($"{optimizer}: worst relative parameter error after one step {worst:E2} ({worstKey})");
        Assert.True(worst <= 1e-4, $"{optimizer}: {worstKey} relative error {worst:E2}");
    }
}
