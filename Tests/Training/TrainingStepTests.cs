using Espnet.Compiled.Cpu.Fast;
using Espnet.Compiled.Tests.Kernels;
using Espnet.Compiled.Training;

namespace Espnet.Compiled.Tests.Training;

/// <summary>A steady-state training step allocates nothing, on any thread; its results do not depend on the thread count.</summary>
[Collection(nameof(KernelSettings))]
public sealed class TrainingStepTests
{
    private static (TinySeg Network, Trainer Trainer, float[] Input, byte[] Labels) Setup(int seed)
    {
        var network = new TinySeg();
        Initialization.PyTorchDefaults(network, seed);
        var trainer = new Trainer(network, n => new Adam(n, weightDecay: 1e-4));
        var rng = new Random(seed);
        var input = new float[network.Batch * network.InputShape.Elements];
        for (int i = 0; i < input.Length; i++) input[i] = (float)(rng.NextDouble() * 4 - 2);
        var labels = new byte[network.Batch * network.OutputShape.Height * network.OutputShape.Width];
        for (int i = 0; i < labels.Length; i++) labels[i] = (byte)(rng.Next(12) is var l && l >= 5 ? (l == 11 ? 255 : l % 5) : l);
        return (network, trainer, input, labels);
    }

    [Fact]
    public void A_steady_state_training_step_allocates_nothing_on_any_thread()
    {
        var (_, trainer, input, labels) = Setup(5);
        float[] weights = [1, 2, 1, 0.5f, 1];
        using (KernelSettings.Threads(2))
        {
            for (int i = 0; i < 2; i++)
            {
                trainer.ComputeGradients(input, labels, weights);
                trainer.Step(1e-3);
            }
            long helpers = Workers.HelperAllocatedBytes;
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 3; i++)
            {
                trainer.ComputeGradients(input, labels, weights);
                trainer.Step(1e-3);
            }
            Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
            Assert.Equal(0, Workers.HelperAllocatedBytes - helpers);
        }
    }

    [Fact]
    public void Gradients_are_the_same_to_the_bit_for_one_and_two_threads()
    {
        float[] Gradients(int threads)
        {
            var (_, trainer, input, labels) = Setup(6);
            using (KernelSettings.Threads(threads)) trainer.ComputeGradients(input, labels);
            return trainer.ParameterGradients.ToArray();
        }
        var one = Gradients(1);
        var two = Gradients(2);
        Assert.True(one.Any(v => v != 0), "the gradients are all zero");
        Assert.Equal(one, two);
    }
}

/// <summary>An ESP block whose branches FastConv runs as Winograd (8 -> 8 channels at 32x32, every dilation), for the training tests.</summary>
[Network(Height = 64, Width = 64, Batch = 2)]
[Conv("level1", "input", Out = 16, Stride = 2)]
[Esp("esp", "level1", Out = 40, Residual = false)]
[Conv("classifier", "esp", Out = 5, Kernel = 1, BatchNorm = false, PRelu = false)]
public sealed partial class WinogradSeg;

/// <summary>
/// Training through Winograd convolutions: forward and the stride-1 input gradients (the flipped weights) run as
/// Winograd, the batch's samples whole on the threads with the transformed weights made once; the same bits for 1
/// and 2 threads, and close to the direct kernels.
/// </summary>
[Collection(nameof(KernelSettings))]
public sealed class WinogradTrainingTests
{
    private static float[] Gradients(int threads, bool winograd)
    {
        var network = new WinogradSeg();
        Initialization.PyTorchDefaults(network, 11);
        var trainer = new Trainer(network, n => new Sgd(n));
        var rng = new Random(11);
        var input = new float[network.Batch * network.InputShape.Elements];
        for (int i = 0; i < input.Length; i++) input[i] = (float)(rng.NextDouble() * 4 - 2);
        var labels = new byte[network.Batch * network.OutputShape.Height * network.OutputShape.Width];
        for (int i = 0; i < labels.Length; i++) labels[i] = (byte)rng.Next(5);
        using (KernelSettings.Threads(threads))
        using (KernelSettings.Winograd(winograd))
            trainer.ComputeGradients(input, labels);
        return trainer.ParameterGradients.ToArray();
    }

    [Fact]
    public void Winograd_training_is_the_same_for_one_and_two_threads_and_close_to_direct()
    {
        for (int d = 1; d <= 16; d *= 2)
            Assert.True(FastConv.Winograd(8, 8, 32, 32, 3, 1, d, 1), $"the d = {d} branch should run as Winograd");
        var one = Gradients(1, winograd: true);
        var two = Gradients(2, winograd: true);
        var direct = Gradients(2, winograd: false);
        Assert.True(one.Any(v => v != 0), "the gradients are all zero");
        Assert.Equal(one, two);
        double scale = direct.Max(Math.Abs);
        for (int i = 0; i < direct.Length; i++)
            Assert.True(Math.Abs(two[i] - direct[i]) <= 1e-4 * scale, $"gradient {i}: Winograd {two[i]}, direct {direct[i]}");
    }
}

/// <summary>The native checkpoint format: what it writes reads back the same, and a damaged header is a one-line error.</summary>
public sealed class SafeTensorsTests
{
    [Fact]
    public void Tensors_and_metadata_round_trip_and_damage_is_named()
    {
        var stream = new MemoryStream();
        float[] a = [1.5f, -2, 3e-7f], b = [42];
        Espnet.Compiled.Weights.SafeTensors.Write(stream, [("layer.weight", [3, 1], a), ("layer.bias", [1], b)], new Dictionary<string, string> { ["epoch"] = "7" });
        byte[] bytes = stream.ToArray();
        var read = Espnet.Compiled.Weights.PthReader.Read(new MemoryStream(bytes), "ckpt.safetensors");
        Assert.Equal(a, read["layer.weight"].Values);
        Assert.Equal([3, 1], read["layer.weight"].Shape);
        Assert.Equal(b, read["layer.bias"].Values);
        var (_, metadata) = Espnet.Compiled.Weights.SafeTensors.Read(new MemoryStream(bytes));
        Assert.Equal("7", metadata["epoch"]);

        // A tensor whose range runs past the file, and a header length beyond it.
        var cut = bytes[..^4];
        var e = Assert.Throws<Espnet.Compiled.Weights.WeightFormatException>(() => Espnet.Compiled.Weights.PthReader.Read(new MemoryStream(cut), "cut.safetensors"));
        Assert.Contains("cut.safetensors", e.Message);
        Assert.Contains("byte range", e.Message);
        var huge = (byte[])bytes.Clone();
        huge[7] = 0x7f;
        Assert.Throws<Espnet.Compiled.Weights.WeightFormatException>(() => Espnet.Compiled.Weights.SafeTensors.Read(new MemoryStream(huge)));
    }
}
