using Espnet.Compiled.Cli;
using Espnet.Compiled.Imaging;
using static Espnet.Compiled.Tests.Cli.CliHarness;

namespace Espnet.Compiled.Tests.Cli;

/// <summary>`espnet train` as a user runs it: checkpoints `run` takes, the log, resuming, fine-tuning, and bad data.</summary>
[Collection(nameof(Espnet.Compiled.Tests.Kernels.KernelSettings))]
public sealed class CliTrainTests
{
    private static readonly string[] Model = ["--model", "espnet-c-p2-q3", "--classes", "3", "--height", "64", "--width", "128", "--batch", "2", "--lr", "0.005"];

    // Compiled once before the tests run it, so no test also sees the one-time "compiling ..." line on stderr.
    private static readonly Lazy<bool> s_compiled = new(() =>
    {
        RuntimeCompiler.Create(Zoo.ModelCatalog.Parse("espnet-c-p2-q3", 3, 64, 128) with { Batch = 2 }, TextWriter.Null);
        return true;
    });

    public CliTrainTests() => Assert.True(s_compiled.Value);

    /// <summary>images/ + masks/ of drawn scenes (a red rectangle = 1 and a blue disk = 2 on grey), 128x64.</summary>
    private static string Dataset(int pictures, int seed)
    {
        string root = TempDirectory();
        Directory.CreateDirectory(Path.Combine(root, "images"));
        Directory.CreateDirectory(Path.Combine(root, "masks"));
        var rng = new Random(seed);
        for (int i = 0; i < pictures; i++)
        {
            var pixels = new byte[3 * 128 * 64];
            var mask = new byte[128 * 64];
            int rx = rng.Next(0, 80), ry = rng.Next(0, 30), cx = rng.Next(12, 116), cy = rng.Next(12, 52);
            for (int y = 0; y < 64; y++)
                for (int x = 0; x < 128; x++)
                {
                    int i3 = 3 * (y * 128 + x);
                    (byte r, byte g, byte b, byte l) = (x - cx) * (x - cx) + (y - cy) * (y - cy) <= 100 ? ((byte)30, (byte)30, (byte)200, (byte)2)
                        : x >= rx && x < rx + 40 && y >= ry && y < ry + 25 ? ((byte)200, (byte)30, (byte)30, (byte)1) : ((byte)120, (byte)120, (byte)120, (byte)0);
                    (pixels[i3], pixels[i3 + 1], pixels[i3 + 2], mask[y * 128 + x]) = (r, g, b, l);
                }
            CliSegmentTests.WritePicture(Path.Combine(root, "images", $"p{i}.png"), new RgbImage(128, 64, pixels));
            using var file = File.Create(Path.Combine(root, "masks", $"p{i}.png"));
            ImageFiles.WriteGray(file, mask, 128, 64);
        }
        return root;
    }

    [Fact]
    public void Training_writes_checkpoints_run_takes_and_a_log_and_resumes()
    {
        string data = Dataset(4, seed: 1), val = Dataset(2, seed: 2), run = Path.Combine(TempDirectory(), "run");
        var first = Run(["train", .. Model, "--data", data, "--val", val, "--out", run, "--epochs", "2"]);
        Assert.True(first.Code == 0, first.Err);
        Assert.Contains("epoch 2/2: loss ", first.Out);
        string[] log = File.ReadAllLines(Path.Combine(run, "log.csv"));
        Assert.Equal("epoch,loss,lr,miou", log[0]);
        Assert.Equal(3, log.Length);
        Assert.StartsWith("2,", log[2]);
        Assert.True(double.Parse(log[1].Split(',')[3], System.Globalization.CultureInfo.InvariantCulture) is >= 0 and <= 1);
        foreach (string name in new[] { "last.safetensors", "last.optimizer.safetensors", "best.safetensors" }) Assert.True(File.Exists(Path.Combine(run, name)), name);

        // `run` takes the checkpoint (at batch 1).
        var inference = Run("run", "--model", "espnet-c-p2-q3", "--classes", "3", "--height", "64", "--width", "128",
            "--weights", Path.Combine(run, "last.safetensors"), "--input", "synthetic", "--output", Path.Combine(run, "y.f32"));
        Assert.True(inference.Code == 0, inference.Err);

        // Starting again in the same folder would lose the run: refused, nothing touched.
        byte[] before = File.ReadAllBytes(Path.Combine(run, "last.safetensors"));
        Assert.Contains("pass --resume", AssertFails(Run(["train", .. Model, "--data", data, "--out", run, "--epochs", "3"]), 2));
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(run, "last.safetensors")));

        var resumed = Run(["train", .. Model, "--data", data, "--out", run, "--epochs", "3", "--resume"]);
        Assert.True(resumed.Code == 0, resumed.Err);
        Assert.Contains("resuming espnet-c-p2-q3 after epoch 2", resumed.Err);
        Assert.Contains("epoch 3/3", resumed.Out);
        Assert.Equal(4, File.ReadAllLines(Path.Combine(run, "log.csv")).Length);
        Assert.Empty(Directory.GetFiles(run, "*.tmp"));
    }

    [Fact]
    public void Labels_outside_the_classes_and_missing_masks_are_clear_errors()
    {
        string data = Dataset(2, seed: 3);
        var (w, h, mask) = LabelPng.Read(Path.Combine(data, "masks", "p1.png"));
        mask[130] = 7;
        using (var file = File.Create(Path.Combine(data, "masks", "p1.png"))) ImageFiles.WriteGray(file, mask, w, h);
        string line = AssertFails(Run(["train", .. Model, "--data", data, "--out", Path.Combine(TempDirectory(), "r"), "--epochs", "1"]), 1);
        Assert.Contains("p1.png holds label 7 (at x 2, y 1), outside 0..2", line);
        var ignored = Run(["train", .. Model, "--data", data, "--out", Path.Combine(TempDirectory(), "r"), "--epochs", "1", "--ignore-unknown-labels"]);
        Assert.True(ignored.Code == 0, ignored.Err);

        File.Delete(Path.Combine(data, "masks", "p0.png"));
        Assert.Contains("1 picture has no mask", AssertFails(Run(["train", .. Model, "--data", data, "--out", Path.Combine(TempDirectory(), "r"), "--epochs", "1"]), 1));
    }

    [Fact]
    public void Fine_tuning_to_another_class_count_reinitialises_the_classifier_and_says_so()
    {
        string data = Dataset(2, seed: 4);
        var result = Run("train", "--model", "espnet-p2-q3", "--classes", "5", "--height", "64", "--width", "128", "--batch", "2", "--lr", "0.001",
            "--data", data, "--out", Path.Combine(TempDirectory(), "r"), "--epochs", "1", "--weights", "builtin");
        Assert.True(result.Code == 0, result.Err);
        Assert.Contains("do not fit 5 classes and were re-initialised: ", result.Err);
        Assert.Contains("encoder.classifier.conv.weight", result.Err);
    }
}
