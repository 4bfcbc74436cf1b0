using Espnet.Compiled.Tests.Support;

namespace Espnet.Compiled.Tests.Cli;

/// <summary>Every failure: exit 2 for usage, 1 otherwise, and one stderr line that says what to do.</summary>
public sealed class CliErrorTests
{
    private const string P2Q3 = "weights/ESPNet/pretrained/decoder/espnet_p_2_q_3.pth";
    private const string P2Q8 = "weights/ESPNet/pretrained/decoder/espnet_p_2_q_8.pth";
    private const string Input = "reference/synth_input_1x3x64x128.f32";

    [Theory]
    [InlineData("unknown model 'resnet-50'", "info", "--model", "resnet-50")]
    [InlineData("espnetv2-seg-old-s{0.5,1.0,1.5}", "info", "--model", "resnet-50")]
    [InlineData("model 'espnetv2-s1.75': scale '1.75' is not one of espnetv2-s{0.5,1.0,1.25,1.5,2.0}; valid scales: 0.5, 1.0, 1.25, 1.5, 2.0", "info", "--model", "espnetv2-s1.75")]
    [InlineData("valid scales: 0.5, 1.0, 1.5, 2.0 (1.25 has a classifier but no released segmentation head)", "info", "--model", "espnetv2-seg-s1.25-city")]
    [InlineData("valid scales: 0.5, 1.0, 1.5 (", "info", "--model", "espnetv2-seg-old-s2.0")]
    [InlineData("valid scales: 0.5, 1.0, 1.5 (", "run", "--model", "espnetv2-seg-old-s2.0", "--weights", "w.pth", "--input", "x.f32", "--output", "y.f32")]
    [InlineData("espnetv2-seg-s1.0-city (Cityscapes, 20 classes) or espnetv2-seg-s1.0-pascal", "info", "--model", "espnetv2-seg-s1.0")]
    [InlineData("espnet-p{P}-q{Q}-camvid", "info", "--model", "espnet-c-p2-q3-camvid")]
    [InlineData("'--model' is required", "info")]
    [InlineData("'--bogus'", "info", "--model", "espnet-p2-q3", "--bogus")]
    [InlineData("'--height'", "info", "--model", "espnet-p2-q3", "--height", "tall")]
    [InlineData("'tpu'", "run", "--model", "espnet-p2-q3", "--weights", "w.pth", "--input", "x.f32", "--output", "y.f32", "--device", "tpu")]
    [InlineData("Required command", new string[0])]
    public void Usage_errors_exit_2(string expected, params string[] args)
    {
        string line = CliHarness.AssertFails(CliHarness.Run(args), 2);
        Assert.Contains(expected, line);
    }

    [Fact]
    public void A_height_the_decoder_cannot_restore_is_rejected_with_the_generators_message()
    {
        string line = CliHarness.AssertFails(CliHarness.Run("info", "--model", "espnet-p2-q3", "--height", "100", "--width", "128"), 2);
        Assert.Contains("ESPN0004", line);
        Assert.Contains("multiple of 8", line);
        Assert.Contains("96 or 104", line);
    }

    [Fact]
    public void A_size_the_generator_rejects_is_named_by_model_and_size_not_by_an_internal_class()
    {
        string line = CliHarness.AssertFails(CliHarness.Run("info", "--model", "espnet-p2-q3", "--height", "0", "--width", "128"), 2);
        Assert.Contains("'espnet-p2-q3 at 0x128': Height = 0 is invalid", line);
        Assert.DoesNotContain("EspNetP2Q3", line);
    }

    [Fact]
    public void Fewer_than_five_classes_is_rejected_with_the_generators_message()
    {
        string line = CliHarness.AssertFails(CliHarness.Run("info", "--model", "espnet-p2-q3", "--classes", "3", "--height", "64", "--width", "128"), 2);
        Assert.Contains("ESPN0003", line);
        Assert.Contains("Classes >= 5", line);
    }

    [Fact]
    public void A_wrong_sized_input_names_both_counts()
    {
        string input = Path.Combine(CliHarness.TempDirectory(), "small.f32");
        File.WriteAllBytes(input, new byte[100 * 4]);

        string line = CliHarness.AssertFails(Run64x128(SharedData.Require(P2Q3), input, "out.f32"), 1);
        Assert.Contains("small.f32 holds 100 floats but espnet-p2-q3 at 64x128 expects 1x3x64x128 = 24576", line);
    }

    [Fact]
    public void A_truncated_weight_file_is_an_error_not_a_crash()
    {
        byte[] whole = File.ReadAllBytes(SharedData.Require(P2Q3));
        string weights = Path.Combine(CliHarness.TempDirectory(), "cut.pth");
        File.WriteAllBytes(weights, whole[..(whole.Length / 2)]);

        string line = CliHarness.AssertFails(Run64x128(weights, SharedData.Require(Input), "out.f32"), 1);
        Assert.Contains("cut.pth", line);
    }

    [Fact]
    public void Weights_of_another_model_name_the_keys_that_do_not_fit()
    {
        string line = CliHarness.AssertFails(Run64x128(SharedData.Require(P2Q8), SharedData.Require(Input), "out.f32"), 1);
        Assert.Contains("espnet_p_2_q_8.pth", line);
        Assert.Contains("unexpected", line);
        Assert.Contains("encoder.level3.3.", line);
    }

    [Fact]
    public void The_output_never_overwrites_the_input()
    {
        string input = Path.Combine(CliHarness.TempDirectory(), "in.f32");
        File.Copy(SharedData.Require(Input), input);
        byte[] before = File.ReadAllBytes(input);

        string line = CliHarness.AssertFails(Run64x128(SharedData.Require(P2Q3), input, input), 2);
        Assert.Contains("refusing to overwrite", line);
        Assert.Equal(before, File.ReadAllBytes(input));
    }

    private static CliHarness.Result Run64x128(string weights, string input, string output)
    {
        CliHarness.EnsureP2Q3At64x128Compiled();
        return CliHarness.Run("run", "--model", "espnet-p2-q3", "--height", "64", "--width", "128",
            "--weights", weights, "--input", input, "--output", Path.IsPathRooted(output) ? output : Path.Combine(CliHarness.TempDirectory(), output));
    }
}
