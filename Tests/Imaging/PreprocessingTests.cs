using Espnet.Compiled.Cli;
using Espnet.Compiled.Imaging;
using Espnet.Compiled.Tests.Support;
using Espnet.Compiled.Weights;
using Espnet.Compiled.Zoo;

namespace Espnet.Compiled.Tests.Imaging;

/// <summary>
/// The families' preprocessing against independent references: Pillow's own resize (a fixture written by
/// Tests/Fixtures/scripts/make_resize_fixture.py), a double-precision restatement of OpenCV's bilinear, and
/// the authors' preprocessed tensors of the frankfurt frame (shared data), decoded from the PNG here.
/// </summary>
// Runs networks on the shared worker threads: kept apart from the tests that count those threads' allocations.
[Collection(nameof(Espnet.Compiled.Tests.Kernels.KernelSettings))]
public sealed class PreprocessingTests(ITestOutputHelper output)
{
    private const string Frankfurt = "images/frankfurt_000000_000294_leftImg8bit.png";

    private static (RgbImage Source, List<RgbImage> Resized, List<RgbImage> Crops) PillowFixture()
    {
        using var reader = new BinaryReader(File.OpenRead(Path.Combine(AppContext.BaseDirectory, "Fixtures", "images", "pil_bilinear.bin")));
        Assert.Equal("PILB"u8.ToArray(), reader.ReadBytes(4));
        int count = reader.ReadInt32(), w = reader.ReadInt32(), h = reader.ReadInt32();
        var source = new RgbImage(w, h, reader.ReadBytes(3 * w * h));
        var resized = new List<RgbImage>();
        for (int i = 0; i < count; i++)
        {
            int rw = reader.ReadInt32(), rh = reader.ReadInt32();
            resized.Add(new RgbImage(rw, rh, reader.ReadBytes(3 * rw * rh)));
        }
        var crops = new List<RgbImage>();
        for (int i = 0, n = reader.ReadInt32(); i < n; i++)
        {
            int ch = reader.ReadInt32(), cw = reader.ReadInt32();
            crops.Add(new RgbImage(cw, ch, reader.ReadBytes(3 * cw * ch)));
        }
        return (source, resized, crops);
    }

    [Fact]
    public void Pillow_bilinear_is_reproduced_byte_for_byte()
    {
        var (source, expected, _) = PillowFixture();
        Assert.True(expected.Count >= 9);
        foreach (var e in expected)
        {
            var ours = PilResize.Bilinear(source, e.Width, e.Height);
            int differing = ours.Pixels.Zip(e.Pixels).Count(p => p.First != p.Second);
            Assert.True(differing == 0, $"{source.Width}x{source.Height} -> {e.Width}x{e.Height}: {differing} of {e.Pixels.Length} bytes differ from Pillow");
        }
    }

    [Fact]
    public void The_classifier_crop_is_torchvisions_resize_and_center_crop()
    {
        var (source, _, expected) = PillowFixture();
        Assert.NotEmpty(expected);
        foreach (var e in expected)
            Assert.True(Preprocessing.ResizeAndCrop(source, e.Height, e.Width).Pixels.AsSpan().SequenceEqual(e.Pixels), $"crop {e.Height}x{e.Width} differs");
    }

    [Theory]
    [InlineData(13, 7, 5, 3)]      // shrink, odd ratios
    [InlineData(5, 4, 11, 9)]      // enlarge: borders clamp
    [InlineData(16, 8, 8, 4)]      // exactly half: OpenCV's 2x2 mean
    [InlineData(9, 9, 9, 17)]      // one axis only
    public void OpenCv_linear_matches_a_double_restatement(int sw, int sh, int w, int h)
    {
        const int seed = 7;
        var rng = new Random(seed);
        var source = new float[sw * sh * 3];
        for (int i = 0; i < source.Length; i++) source[i] = (float)(rng.NextDouble() * 4 - 2);
        var ours = OpenCvResize.Linear(source, sw, sh, 3, w, h);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int c = 0; c < 3; c++)
                {
                    // src = (dst + 0.5) * in / out - 0.5, clamped to the image; the two neighbours weighted linearly.
                    var (x0, x1, fx) = Tap(x, sw, w);
                    var (y0, y1, fy) = Tap(y, sh, h);
                    double v(int yy, int xx) => source[(yy * sw + xx) * 3 + c];
                    double expected = (1 - fy) * ((1 - fx) * v(y0, x0) + fx * v(y0, x1)) + fy * ((1 - fx) * v(y1, x0) + fx * v(y1, x1));
                    double got = ours[(y * w + x) * 3 + c];
                    Assert.True(Math.Abs(got - expected) <= 1e-5, $"seed {seed}: ({y},{x},{c}) {got} vs {expected}");
                }

        static (int, int, double) Tap(int d, int inSize, int outSize)
        {
            double s = (d + 0.5) * inSize / outSize - 0.5;
            if (s <= 0) return (0, 0, 0);
            if (s >= inSize - 1) return (inSize - 1, inSize - 1, 0);
            int i = (int)Math.Floor(s);
            return (i, i + 1, s - i);
        }
    }

    [Theory]
    [InlineData(InputRecipe.EspNetCityscapes, "reference/espnet_frankfurt294_preprocessed_1x3x512x1024.f32")]
    [InlineData(InputRecipe.EdgeNetsSegmentation, "reference/edgenets_frankfurt294_preprocessed_1x3x512x1024.f32")]
    public void The_frankfurt_frame_becomes_the_authors_input(InputRecipe recipe, string reference)
    {
        float[] expected = SharedData.ReadF32(SharedData.Require(reference));
        var image = ImageFiles.Read(SharedData.Require(Frankfurt));
        var ours = new float[3 * 512 * 1024];
        Preprocessing.Write(recipe, image, 512, 1024, ours);
        double worst = 0, scale = 0;
        for (int i = 0; i < ours.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs(ours[i] - expected[i]));
            scale = Math.Max(scale, Math.Abs(expected[i]));
        }
        output.WriteLine($"{recipe}: max |ours - authors'| = {worst:E2} on values up to {scale:F3}");
        Assert.True(scale > 0.01, "the reference tensor is degenerate");
        Assert.True(worst <= 1e-6 * Math.Max(1, scale), $"{recipe}: max difference {worst:E2}");
    }

    public static TheoryData<string, string, string> SegmentationModels => new()
    {
        { "espnet-p2-q8", "weights/ESPNet/pretrained/decoder/espnet_p_2_q_8.pth", "reference/espnet_frankfurt294_preprocessed_1x3x512x1024.f32" },
        { "espnetv2-seg-s2.0-city", "weights/EdgeNets/model/segmentation/model_zoo/espnetv2/espnetv2_s_2.0_city_1024x512.pth",
          "reference/edgenets_frankfurt294_preprocessed_1x3x512x1024.f32" },
    };

    /// <summary>The mask from our decoding and preprocessing agrees with the mask from the authors' preprocessed tensor.</summary>
    [Theory]
    [MemberData(nameof(SegmentationModels))]
    public void The_mask_from_our_preprocessing_agrees_with_the_authors_input(string name, string weights, string reference)
    {
        var request = ModelCatalog.Parse(name);
        var network = ModelCatalog.CreatePrecompiled(request) ?? throw new InvalidOperationException($"{name} is not precompiled");
        network.LoadWeights(PthReader.Read(SharedData.Require(weights)));
        var image = ImageFiles.Read(SharedData.Require(Frankfurt));
        float[] authorsInput = SharedData.ReadF32(SharedData.Require(reference));
        var ours = new float[authorsInput.Length];
        Preprocessing.Write(request.Recipe(), image, request.Height, request.Width, ours);

        var segmenter = new Segmenter(network, request.Labels());
        byte[] fromOurs = segmenter.Run(ours, image), fromAuthors = segmenter.Run(authorsInput, image);
        int agree = fromOurs.Zip(fromAuthors).Count(p => p.First == p.Second);
        double share = (double)agree / fromOurs.Length;
        int classes = fromAuthors.Distinct().Count();
        output.WriteLine($"{name}: {share:P3} of {fromOurs.Length} pixels agree; {classes} classes in the mask");
        Assert.True(classes >= 5, "the mask is degenerate");
        Assert.True(share >= 0.995, $"{name}: only {share:P3} of pixels agree");
    }

    [Fact]
    public void Palettes_and_label_ids_are_the_datasets()
    {
        Assert.Equal(((byte)128, (byte)64, (byte)128), LabelSet.Cityscapes.Color(0));    // road
        Assert.Equal(((byte)119, (byte)11, (byte)32), LabelSet.Cityscapes.Color(18));    // bicycle
        Assert.Equal((byte)26, LabelSet.Cityscapes.LabelId(13));                          // car
        Assert.Equal((byte)0, LabelSet.Cityscapes.LabelId(19));                           // ESPNet's background
        Assert.Equal(((byte)128, (byte)0, (byte)0), LabelSet.PascalVoc.Color(1));          // aeroplane
        Assert.Equal(((byte)192, (byte)128, (byte)128), LabelSet.PascalVoc.Color(15));     // person
        Assert.Equal(21, LabelSet.PascalVoc.ClassNames.Count);
        Assert.Equal(1000, ImageNetClasses.Names.Count);
        Assert.Equal("tench", ImageNetClasses.Names[0]);
        Assert.Equal("toilet tissue", ImageNetClasses.Names[999]);
    }

    [Fact]
    public void Argmax_takes_the_first_of_equal_logits_and_never_nan()
    {
        float[] logits = [1, 5, float.NaN, /* class 1 */ 3, 5, 2, /* class 2 */ 3, 1, 2];
        var labels = new byte[3];
        SegmentationMaps.Argmax(logits, 3, labels);
        Assert.Equal([1, 0, 1], labels);
    }
}
