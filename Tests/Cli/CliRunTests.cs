using Espnet.Compiled.Tests.Support;

namespace Espnet.Compiled.Tests.Cli;

/// <summary>`espnet run` end to end. The strict comparison with the authors' outputs lives in RealWeights; here it is loose.</summary>
public sealed class CliRunTests
{
    private const string Weights = "weights/ESPNet/pretrained/decoder/espnet_p_2_q_3.pth";
    private const string Input = "reference/synth_input_1x3x64x128.f32";
    private const string Expected = "reference/espnet_p2_q3_decoder__synth64x128__out.f32";

    [Fact]
    public void Run_p2q3_at_64x128_writes_the_authors_output()
    {
        string weights = SharedData.Require(Weights), input = SharedData.Require(Input);
        float[] expected = SharedData.ReadF32(SharedData.Require(Expected));
        string output = Path.Combine(CliHarness.TempDirectory(), "out.f32");

        var result = CliHarness.Run("run", "--model", "espnet-p2-q3", "--height", "64", "--width", "128",
            "--weights", weights, "--input", input, "--output", output, "--threads", "2");

        Assert.True(result.Code == 0, result.Err);
        Assert.StartsWith("espnet-p2-q3 at 64x128: wrote 1x20x64x128 float32 to ", result.Out);
        float[] actual = SharedData.ReadF32(output);
        Assert.Equal(expected.Length, actual.Length);
        // The criterion of EspNetReferenceTests for this tensor (tolerance plus the reference's float32 noise floor).
        Compare.AssertClose(actual, expected, "out", Compare.ForwardTolerance, noiseFloor: 2.5e-6);
    }

    [Fact]
    public void Run_espnetv2_s1_0_writes_the_authors_logits()
    {
        string weights = SharedData.Require("reference/eespnet_s1.0_random_weights_legacy.pth");
        string input = SharedData.Require("reference/synth_input_1x3x224x224.f32");
        float[] expected = SharedData.ReadF32(SharedData.Require("reference/eespnet_s1.0_random__synth224__logits.f32"));
        string output = Path.Combine(CliHarness.TempDirectory(), "logits.f32");

        var result = CliHarness.Run("run", "--model", "espnetv2-s1.0", "--weights", weights, "--input", input, "--output", output);

        Assert.True(result.Code == 0, result.Err);
        Assert.Equal("", result.Err); // precompiled: nothing to compile
        Assert.StartsWith("espnetv2-s1.0 at 224x224: wrote 1x1000x1x1 float32 to ", result.Out);
        float[] actual = SharedData.ReadF32(output);
        Assert.Equal(1000, expected.Length);
        Assert.Equal(expected.Length, actual.Length);
        double worst = actual.Zip(expected, (a, b) => (double)Math.Abs(a - b)).Max();
        Assert.True(worst < 1e-4, $"max abs diff {worst}");
    }

    [Fact]
    public void Builtin_weights_and_synthetic_input_need_no_download_and_equal_the_files()
    {
        string dir = CliHarness.TempDirectory();
        string builtinOut = Path.Combine(dir, "builtin.f32");
        var result = CliHarness.Run("run", "--model", "espnet-p2-q3", "--height", "64", "--width", "128",
            "--weights", "builtin", "--input", "synthetic", "--output", builtinOut);
        Assert.True(result.Code == 0, result.Err);

        // The same run from the shared files gives the same bytes.
        string fileOut = Path.Combine(dir, "files.f32");
        Assert.Equal(0, CliHarness.Run("run", "--model", "espnet-p2-q3", "--height", "64", "--width", "128",
            "--weights", SharedData.Require(Weights), "--input", SharedData.Require(Input), "--output", fileOut).Code);
        Assert.Equal(File.ReadAllBytes(fileOut), File.ReadAllBytes(builtinOut));
    }

    [Fact]
    public void Builtin_weights_refuse_another_model()
    {
        var result = CliHarness.Run("run", "--model", "espnet-p2-q8", "--weights", "builtin", "--input", "synthetic", "--output", Path.Combine(CliHarness.TempDirectory(), "o.f32"));
        Assert.Equal(2, result.Code);
        Assert.Contains("builtin holds espnet-p2-q3", result.Err);
    }

    [Fact]
    public void Npy_input_and_output_carry_the_same_values_as_raw_float32()
    {
        string weights = SharedData.Require(Weights);
        byte[] raw = File.ReadAllBytes(SharedData.Require(Input));
        string dir = CliHarness.TempDirectory();
        string npyIn = Path.Combine(dir, "in.npy"), rawOut = Path.Combine(dir, "out.f32"), npyOut = Path.Combine(dir, "out.npy");
        File.WriteAllBytes(npyIn, [.. NpyHeader("(1, 3, 64, 128)"), .. raw]);
        string[] common = ["run", "--model", "espnet-p2-q3", "--height", "64", "--width", "128", "--weights", weights];

        Assert.Equal(0, CliHarness.Run([.. common, "--input", npyIn, "--output", npyOut]).Code);
        Assert.Equal(0, CliHarness.Run([.. common, "--input", SharedData.Require(Input), "--output", rawOut]).Code);

        byte[] npy = File.ReadAllBytes(npyOut), plain = File.ReadAllBytes(rawOut);
        Assert.Contains("'shape': (1, 20, 64, 128)", System.Text.Encoding.Latin1.GetString(npy, 0, 128));
        Assert.Equal(plain, npy[^plain.Length..]);
    }

    private static byte[] NpyHeader(string shape)
    {
        string dict = $"{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}";
        dict = dict.PadRight(64 - 10 - 1) + "\n";
        return [0x93, .. "NUMPY"u8, 1, 0, (byte)dict.Length, 0, .. System.Text.Encoding.Latin1.GetBytes(dict)];
    }
}
