using Espnet.Compiled.Cli;
using Espnet.Compiled.Imaging;
using Espnet.Compiled.Tests.Support;
using static Espnet.Compiled.Tests.Cli.CliHarness;

namespace Espnet.Compiled.Tests.Cli;

/// <summary>`espnet segment` and `espnet classify` as a user runs them: outputs, folders, and every kind of bad picture.</summary>
// Runs networks on the shared worker threads: kept apart from the tests that count those threads' allocations.
[Collection(nameof(Espnet.Compiled.Tests.Kernels.KernelSettings))]
public sealed class CliSegmentTests
{
    private static readonly string[] Model = ["--model", "espnet-p2-q3", "--height", "64", "--width", "128", "--weights", "builtin"];

    /// <summary>A small street-like picture: a sky, a road, a box, and seeded noise.</summary>
    internal static RgbImage Picture(int width, int height, int seed)
    {
        var rng = new Random(seed);
        var pixels = new byte[3 * width * height];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                (int r, int g, int b) = y < height / 3 ? (90, 140, 200) : y > 2 * height / 3 ? (110, 100, 110) : (x / 7 % 2 == 0 ? (160, 150, 140) : (70, 80, 60));
                int i = 3 * (y * width + x);
                pixels[i] = (byte)Math.Clamp(r + rng.Next(-20, 21), 0, 255);
                pixels[i + 1] = (byte)Math.Clamp(g + rng.Next(-20, 21), 0, 255);
                pixels[i + 2] = (byte)Math.Clamp(b + rng.Next(-20, 21), 0, 255);
            }
        return new RgbImage(width, height, pixels);
    }

    internal static string WritePicture(string path, RgbImage image)
    {
        using var file = File.Create(path);
        ImageFiles.WriteRgb(file, image);
        return path;
    }

    [Fact]
    public void A_picture_becomes_a_mask_at_its_own_size_an_overlay_and_the_logits_behind_them()
    {
        EnsureP2Q3At64x128Compiled();
        string dir = TempDirectory();
        string picture = WritePicture(Path.Combine(dir, "street.png"), Picture(100, 50, seed: 1));
        string mask = Path.Combine(dir, "mask.png"), overlay = Path.Combine(dir, "overlay.png"), logits = Path.Combine(dir, "logits.f32");
        var result = Run(["segment", .. Model, "--image", picture, "--out", mask, "--overlay", overlay, "--logits", logits]);
        Assert.True(result.Code == 0, result.Err);
        Assert.Contains("street.png (100x50) -> ", result.Out);

        var (w, h, labels) = LabelPng.Read(mask);
        Assert.Equal((100, 50), (w, h));
        Assert.All(labels, l => Assert.InRange(l, 0, 19));
        // The mask is the argmax of the written logits, resized to the picture by nearest neighbour.
        float[] values = SharedData.ReadF32(logits);
        Assert.Equal(20 * 64 * 128, values.Length);
        var small = new byte[64 * 128];
        SegmentationMaps.Argmax(values, 20, small);
        var expected = new byte[100 * 50];
        PilResize.Nearest(small, 128, 64, expected, 100, 50);
        Assert.Equal(expected, labels);
        Assert.True(labels.Distinct().Count() >= 2, "a one-class mask says nothing");

        var blended = ImageFiles.Read(overlay);
        Assert.Equal((100, 50), (blended.Width, blended.Height));
        Assert.Empty(Directory.GetFiles(dir, "*.tmp"));
    }

    [Fact]
    public void An_existing_output_is_kept_unless_force_is_given()
    {
        EnsureP2Q3At64x128Compiled();
        string dir = TempDirectory();
        string picture = WritePicture(Path.Combine(dir, "a.png"), Picture(64, 32, seed: 2));
        string mask = Path.Combine(dir, "mask.png");
        File.WriteAllText(mask, "precious");
        string line = AssertFails(Run(["segment", .. Model, "--image", picture, "--out", mask]), 2);
        Assert.Contains("exists: pass --force", line);
        Assert.Equal("precious", File.ReadAllText(mask));

        Assert.Equal(0, Run(["segment", .. Model, "--image", picture, "--out", mask, "--force"]).Code);
        Assert.Equal((64, 32), (LabelPng.Read(mask).Width, LabelPng.Read(mask).Height));
    }

    [Fact]
    public void A_truncated_picture_is_an_error_and_leaves_no_output()
    {
        EnsureP2Q3At64x128Compiled();
        string dir = TempDirectory();
        byte[] png = File.ReadAllBytes(WritePicture(Path.Combine(dir, "whole.png"), Picture(120, 90, seed: 3)));
        string cut = Path.Combine(dir, "cut.png");
        File.WriteAllBytes(cut, png[..(png.Length * 2 / 3)]);
        string mask = Path.Combine(dir, "mask.png");
        string line = AssertFails(Run(["segment", .. Model, "--image", cut, "--out", mask]), 1);
        Assert.Contains("cut.png is truncated", line);
        Assert.False(File.Exists(mask));
        Assert.Empty(Directory.GetFiles(dir, "*.tmp", SearchOption.AllDirectories));
        Assert.Empty(Directory.GetFiles(dir, ".*"));
    }

    [Fact]
    public void A_picture_is_read_by_its_content_not_its_extension()
    {
        EnsureP2Q3At64x128Compiled();
        string dir = TempDirectory();
        string lying = WritePicture(Path.Combine(dir, "photo.jpg"), Picture(80, 40, seed: 4));   // a PNG named .jpg
        Assert.Equal(0, Run(["segment", .. Model, "--image", lying, "--out", Path.Combine(dir, "m.png")]).Code);

        string text = Path.Combine(dir, "notes.png");
        File.WriteAllText(text, "not a picture at all");
        Assert.Contains("notes.png is not an image", AssertFails(Run(["segment", .. Model, "--image", text, "--out", Path.Combine(dir, "n.png")]), 1));
    }

    [Theory]
    [InlineData(70_000, 70_000)]    // beyond a side's bound
    [InlineData(20_000, 20_000)]    // 400 megapixels
    public void A_huge_picture_is_refused_from_its_header_before_decoding(int width, int height)
    {
        string dir = TempDirectory();
        string huge = Path.Combine(dir, "huge.png");
        File.WriteAllBytes(huge, PngHeaderOnly(width, height));
        long before = GC.GetTotalAllocatedBytes(precise: true);
        string line = AssertFails(Run(["segment", .. Model, "--image", huge, "--out", Path.Combine(dir, "m.png")]), 1);
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Assert.Contains($"huge.png is {width}x{height}: larger than this command decodes", line);
        Assert.True(allocated < 64 << 20, $"{allocated:N0} bytes allocated before refusing");
    }

    [Fact]
    public void A_folder_is_segmented_whole_with_non_pictures_and_broken_pictures_reported_and_skipped()
    {
        EnsureP2Q3At64x128Compiled();
        string dir = TempDirectory(), input = Path.Combine(dir, "in"), output = Path.Combine(dir, "out"), overlays = Path.Combine(dir, "overlays");
        Directory.CreateDirectory(Path.Combine(input, "city"));
        WritePicture(Path.Combine(input, "one.png"), Picture(70, 40, seed: 5));
        WritePicture(Path.Combine(input, "city", "two.jpg"), Picture(90, 30, seed: 6));
        File.WriteAllText(Path.Combine(input, "README.txt"), "a note among the pictures");
        byte[] png = File.ReadAllBytes(Path.Combine(input, "one.png"));
        File.WriteAllBytes(Path.Combine(input, "city", "broken.png"), png[..(png.Length / 2)]);

        var result = Run(["segment", .. Model, "--image", input, "--out", output, "--overlay", overlays]);
        Assert.Equal(1, result.Code);                                      // one picture could not be read: scripts notice
        Assert.Contains("skipped README.txt: not an image", result.Err);
        Assert.Contains("skipped city/broken.png: ", result.Err);
        Assert.Contains("2 masks written", result.Out);
        Assert.Contains("1 picture could not be read", result.Out);
        Assert.Equal((70, 40), (LabelPng.Read(Path.Combine(output, "one.png")).Width, LabelPng.Read(Path.Combine(output, "one.png")).Height));
        Assert.Equal(90, LabelPng.Read(Path.Combine(output, "city", "two.png")).Width);
        Assert.True(File.Exists(Path.Combine(overlays, "city", "two.png")));
        Assert.False(File.Exists(Path.Combine(output, "city", "broken.png")));

        // Run again: every output exists, so nothing is done without --force.
        string line = AssertFails(Run(["segment", .. Model, "--image", input, "--out", output]), 2);
        Assert.Contains("exists (and 1 more outputs): pass --force", line);
        Assert.Contains("--image folder", AssertFails(Run(["segment", .. Model, "--image", input, "--out", input]), 2));
    }

    [Fact]
    public void Models_and_options_that_do_not_fit_the_command_are_usage_errors()
    {
        string dir = TempDirectory();
        string picture = WritePicture(Path.Combine(dir, "p.png"), Picture(32, 32, seed: 7));
        Assert.Contains("use 'espnet classify'", AssertFails(Run("segment", "-m", "espnetv2-s1.0", "-w", "x.pth", "-i", picture, "-o", Path.Combine(dir, "m.png")), 2));
        Assert.Contains("use 'espnet segment'", AssertFails(Run("classify", "-m", "espnet-p2-q3", "-w", "builtin", "-i", picture), 2));
        Assert.Contains("--label-ids maps Cityscapes", AssertFails(Run("segment", "-m", "espnetv2-seg-s1.0-pascal", "-w", "x.pth", "-i", picture, "-o", Path.Combine(dir, "m.png"), "--label-ids"), 2));
        Assert.Contains("must name different files", AssertFails(Run(["segment", .. Model, "-i", picture, "-o", Path.Combine(dir, "m.png"), "--overlay", Path.Combine(dir, "m.png")]), 2));
    }

    [Fact]
    public void Weights_of_another_model_are_an_error_that_leaves_no_output()
    {
        string weights = SharedData.Require("weights/ESPNet/pretrained/encoder/espnet_p_2_q_3.pth");      // ESPNet-C's, not ESPNet's
        EnsureP2Q3At64x128Compiled();
        string dir = TempDirectory();
        string picture = WritePicture(Path.Combine(dir, "p.png"), Picture(64, 32, seed: 10));
        string mask = Path.Combine(dir, "m.png"), overlay = Path.Combine(dir, "o.png");
        string line = AssertFails(Run("segment", "--model", "espnet-p2-q3", "--height", "64", "--width", "128", "--weights", weights,
            "-i", picture, "-o", mask, "--overlay", overlay), 1);
        Assert.Contains("espnet_p_2_q_3.pth", line);
        Assert.False(File.Exists(mask) || File.Exists(overlay));
        Assert.Equal(["p.png"], Directory.GetFiles(dir).Select(Path.GetFileName));
    }

    [Fact]
    public void Label_ids_are_the_cityscapes_ids_of_the_train_ids()
    {
        EnsureP2Q3At64x128Compiled();
        string dir = TempDirectory();
        string picture = WritePicture(Path.Combine(dir, "p.png"), Picture(64, 32, seed: 8));
        string trainIds = Path.Combine(dir, "train.png"), labelIds = Path.Combine(dir, "label.png");
        Assert.Equal(0, Run(["segment", .. Model, "-i", picture, "-o", trainIds]).Code);
        Assert.Equal(0, Run(["segment", .. Model, "-i", picture, "-o", labelIds, "--label-ids"]).Code);
        var train = LabelPng.Read(trainIds).Values;
        var label = LabelPng.Read(labelIds).Values;
        Assert.Equal(train.Select(t => LabelSet.Cityscapes.LabelId(t)), label);
    }

    [Fact]
    public void Classify_lists_the_top_classes_of_the_networks_own_logits()
    {
        string weights = SharedData.Require("reference/eespnet_s1.0_random_weights_legacy.pth");
        string dir = TempDirectory();
        string picture = WritePicture(Path.Combine(dir, "cat.png"), Picture(300, 200, seed: 9));
        var result = Run("classify", "-m", "espnetv2-s1.0", "-w", weights, "-i", picture, "--top", "3");
        Assert.True(result.Code == 0, result.Err);
        string[] lines = result.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, lines.Length);

        // The same picture through the library: preprocessing, forward, softmax.
        var request = Zoo.ModelCatalog.Parse("espnetv2-s1.0");
        var network = Zoo.ModelCatalog.CreatePrecompiled(request)!;
        network.LoadWeights(Espnet.Compiled.Weights.PthReader.Read(weights));
        var input = new float[3 * 224 * 224];
        Preprocessing.Write(InputRecipe.ImageNetClassification, ImageFiles.Read(picture), 224, 224, input);
        var logits = new float[1000];
        network.Forward(input, logits);
        var p = ClassifyCommand.Softmax(logits);
        var top = Enumerable.Range(0, 1000).OrderByDescending(c => p[c]).Take(3).ToArray();
        for (int i = 0; i < 3; i++)
        {
            Assert.EndsWith($"{ImageNetClasses.Names[top[i]]} ({top[i]})", lines[i + 1]);
            Assert.StartsWith($"{100 * p[top[i]]:F2}%", lines[i + 1].Trim());
        }
        Assert.Contains("--top must be 1 or more", AssertFails(Run("classify", "-m", "espnetv2-s1.0", "-w", weights, "-i", picture, "--top", "0"), 2));
    }

    /// <summary>A valid PNG whose header promises a huge picture, with one small compressed row of data (a few hundred bytes).</summary>
    private static byte[] PngHeaderOnly(int width, int height)
    {
        var file = new List<byte> { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A };
        Chunk("IHDR", [.. BigEndian(width), .. BigEndian(height), 8, 2, 0, 0, 0]);   // 8-bit RGB, deflate, no filter, no interlace
        var data = new MemoryStream();
        using (var z = new System.IO.Compression.ZLibStream(data, System.IO.Compression.CompressionLevel.Optimal, leaveOpen: true)) z.Write(new byte[1000]);
        Chunk("IDAT", data.ToArray());
        Chunk("IEND", []);
        return [.. file];

        void Chunk(string type, byte[] body)
        {
            file.AddRange(BigEndian(body.Length));
            byte[] typed = [.. System.Text.Encoding.ASCII.GetBytes(type), .. body];
            file.AddRange(typed);
            file.AddRange(BigEndian((int)Crc32(typed)));
        }

        static byte[] BigEndian(int v) => [(byte)(v >> 24), (byte)(v >> 16), (byte)(v >> 8), (byte)v];
        static uint Crc32(byte[] data)
        {
            uint crc = 0xFFFFFFFF;
            foreach (byte b in data)
            {
                crc ^= b;
                for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
            }
            return ~crc;
        }
    }
}

/// <summary>The README's first command, as written there, run in-process (its output files put in a scratch folder).</summary>
[Collection(nameof(Espnet.Compiled.Tests.Kernels.KernelSettings))]
public sealed class ReadmeMainCommandTests
{
    [Fact]
    public void The_first_command_of_the_readme_segments_the_drawn_street_with_the_builtin_weights()
    {
        string root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "Espnet.Compiled.sln"))) root = Path.GetDirectoryName(root)!;
        string readme = File.ReadAllText(Path.Combine(root, "README.md"));
        int section = readme.IndexOf("## Two commands", StringComparison.Ordinal);
        int start = readme.IndexOf("```sh\n", section, StringComparison.Ordinal) + 6;
        string command = readme[start..readme.IndexOf('\n', start)];
        Assert.StartsWith("dotnet run --project Cli -c Release -- segment ", command);
        string dir = TempDirectory();
        string[] args = [.. command[(command.IndexOf(" -- ", StringComparison.Ordinal) + 4)..].Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(a => a.EndsWith(".png", StringComparison.Ordinal) ? Path.Combine(dir, a) : a)];
        var result = Run(args);
        Assert.True(result.Code == 0, result.Err);
        var (w, h, labels) = LabelPng.Read(Path.Combine(dir, "mask.png"));
        Assert.Equal((1024, 512), (w, h));
        Assert.True(labels.Distinct().Count() >= 3, "the drawn street gives a one- or two-class mask");
        var overlay = ImageFiles.Read(Path.Combine(dir, "overlay.png"));
        Assert.Equal((1024, 512), (overlay.Width, overlay.Height));
    }
}
