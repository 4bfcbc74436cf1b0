using Espnet.Compiled.Training;

namespace Espnet.Compiled.Tests.Training;

/// <summary>A small ESPNet (CBR, input reinforcement, strided and plain ESP with HFF, a transposed-conv decoder), batch 4.</summary>
[Network(Height = 32, Width = 64, Batch = 4)]
[Conv("level1", "input", Out = 16, Stride = 2)]
[AvgPool("sample1", "input")]
[Concat("cat1", "level1", "sample1")]
[BatchNorm("b1", "cat1")]
[Esp("level2_0", "b1", Out = 32, Stride = 2, K = 4, Dilations = new[] { 1, 2, 4, 8 })]
[Esp("level2", "level2_0", Out = 32, K = 4, Dilations = new[] { 1, 2, 4, 8 })]
[Conv("classifier", "level2", Out = 3, Kernel = 1, BatchNorm = false, PRelu = false)]
[ConvTranspose("up1", "classifier", Out = 3)]
[ConvTranspose("up2", "up1", Out = 3)]
public sealed partial class LearningEspNet;

/// <summary>
/// Training learns: the small ESPNet, from PyTorch's default initialisation, on a synthetic segmentation task made
/// here (red rectangles and blue disks on a noisy grey ground, 3 classes), reaches a stated mIoU on held-out
/// pictures within a fixed number of Adam steps. Deterministic under its seeds.
/// </summary>
// Runs networks on the shared worker threads: kept apart from the tests that count allocations.
[Collection(nameof(Espnet.Compiled.Tests.Kernels.KernelSettings))]
public sealed class LearningTests(ITestOutputHelper output)
{
    private const int H = 32, W = 64, Batch = 4, Classes = 3;

    /// <summary>One picture and its labels: a rectangle (class 1) and a disk (class 2) of random place, size and shade.</summary>
    internal static void Scene(Random rng, Span<float> image, Span<byte> labels)
    {
        int plane = H * W;
        for (int i = 0; i < plane; i++)
        {
            labels[i] = 0;
            float grey = 0.5f + 0.15f * (float)rng.NextDouble() + 0.2f * (i / W) / H;
            for (int c = 0; c < 3; c++) image[c * plane + i] = grey + 0.1f * (float)(rng.NextDouble() - 0.5);
        }
        int rw = rng.Next(8, 24), rh = rng.Next(6, 14), rx = rng.Next(0, W - rw), ry = rng.Next(0, H - rh);
        for (int y = ry; y < ry + rh; y++)
            for (int x = rx; x < rx + rw; x++)
            {
                labels[y * W + x] = 1;
                image[y * W + x] = 0.8f + 0.2f * (float)rng.NextDouble();
                image[plane + y * W + x] = 0.2f * (float)rng.NextDouble();
                image[2 * plane + y * W + x] = 0.2f * (float)rng.NextDouble();
            }
        int r = rng.Next(4, 9), cx = rng.Next(r, W - r), cy = rng.Next(r, H - r);
        for (int y = cy - r; y <= cy + r; y++)
            for (int x = cx - r; x <= cx + r; x++)
                if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r)
                {
                    labels[y * W + x] = 2;
                    image[y * W + x] = 0.2f * (float)rng.NextDouble();
                    image[plane + y * W + x] = 0.3f * (float)rng.NextDouble();
                    image[2 * plane + y * W + x] = 0.8f + 0.2f * (float)rng.NextDouble();
                }
        for (int i = 0; i < 3 * plane; i++) image[i] = (image[i] - 0.5f) * 4;   // centred, about ±2 like normalised inputs
    }

    [Fact]
    public void A_small_espnet_learns_a_synthetic_segmentation_task()
    {
        const int seed = 2026, steps = 400;
        var network = new LearningEspNet();
        Initialization.PyTorchDefaults(network, seed);
        var trainer = new Trainer(network, n => new Adam(n));
        var rng = new Random(seed);
        var images = new float[Batch * 3 * H * W];
        var labels = new byte[Batch * H * W];
        var curve = new List<string>();
        double first = 0, last = 0;
        for (int step = 0; step < steps; step++)
        {
            for (int b = 0; b < Batch; b++) Scene(rng, images.AsSpan(b * 3 * H * W, 3 * H * W), labels.AsSpan(b * H * W, H * W));
            double loss = trainer.ComputeGradients(images, labels);
            trainer.Step(0.01);
            if (step == 0) first = loss;
            last = loss;
            if (step % 50 == 0 || step == steps - 1) curve.Add($"{step}:{loss:F3}");
        }

        // Held-out pictures through the inference path (BatchNorm on the running statistics the training kept).
        var held = new Random(seed + 1);
        var confusion = new long[Classes, Classes];
        var logits = new float[Batch * Classes * H * W];
        for (int round = 0; round < 4; round++)
        {
            for (int b = 0; b < Batch; b++) Scene(held, images.AsSpan(b * 3 * H * W, 3 * H * W), labels.AsSpan(b * H * W, H * W));
            network.Forward(images, logits);
            for (int b = 0; b < Batch; b++)
                for (int i = 0; i < H * W; i++)
                {
                    int best = 0;
                    for (int c = 1; c < Classes; c++)
                        if (logits[(b * Classes + c) * H * W + i] > logits[(b * Classes + best) * H * W + i]) best = c;
                    confusion[labels[b * H * W + i], best]++;
                }
        }
        var iou = Enumerable.Range(0, Classes).Select(c =>
        {
            long tp = confusion[c, c], fp = 0, fn = 0;
            for (int o = 0; o < Classes; o++)
                if (o != c) { fp += confusion[o, c]; fn += confusion[c, o]; }
            return (double)tp / (tp + fp + fn);
        }).ToArray();
        double miou = iou.Average();
        output.WriteLine($"seed {seed}, {steps} Adam steps (lr 0.01, batch {Batch}): loss {string.Join(", ", curve)}");
        output.WriteLine($"held-out mIoU {miou:P1} (background {iou[0]:P1}, rectangles {iou[1]:P1}, disks {iou[2]:P1})");
        Assert.True(last < first / 3, $"seed {seed}: the loss went from {first:F3} to {last:F3}");
        Assert.True(miou >= 0.80, $"seed {seed}: held-out mIoU {miou:P1} after {steps} steps (curve {string.Join(", ", curve)})");
    }
}
