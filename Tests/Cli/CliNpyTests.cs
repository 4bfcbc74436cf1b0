using Espnet.Compiled.Tests.Support;

namespace Espnet.Compiled.Tests.Cli;

/// <summary>`espnet run` with .npy input: the header's shape must be the model's input, and a damaged header is an error, not a crash.</summary>
public sealed class CliNpyTests
{
    private const string Weights = "weights/ESPNet/pretrained/decoder/espnet_p_2_q_3.pth";
    private const string Input = "reference/synth_input_1x3x64x128.f32";

    [Theory]
    [InlineData("(1, 3, 128, 64)")] // H and W swapped
    [InlineData("(1, 64, 128, 3)")] // NHWC
    [InlineData("(64, 128, 3)")]    // HWC
    [InlineData("(24576,)")]        // flat
    public void A_wrongly_shaped_npy_with_the_right_count_is_rejected_naming_both_shapes(string shape)
    {
        string input = WriteNpy("x.npy", NpyHeader(shape), File.ReadAllBytes(SharedData.Require(Input)));

        string line = CliHarness.AssertFails(Run64x128(input), 1);
        Assert.Equal($"espnet: x.npy has shape {shape} but espnet-p2-q3 at 64x128 expects (1, 3, 64, 128) or (3, 64, 128)", line);
    }

    [Fact]
    public void A_chw_npy_without_the_batch_axis_is_accepted_and_matches_the_raw_input()
    {
        byte[] raw = File.ReadAllBytes(SharedData.Require(Input));
        string input = WriteNpy("chw.npy", NpyHeader("(3, 64, 128)"), raw);
        string dir = CliHarness.TempDirectory();
        string npyOut = Path.Combine(dir, "from-npy.f32"), rawOut = Path.Combine(dir, "from-raw.f32");

        var result = Run64x128(input, npyOut);
        Assert.True(result.Code == 0, result.Err);
        Assert.Equal(0, Run64x128(SharedData.Require(Input), rawOut).Code);
        Assert.Equal(File.ReadAllBytes(rawOut), File.ReadAllBytes(npyOut));
    }

    [Fact]
    public void A_raw_f32_input_keeps_the_count_check_only()
    {
        string input = WriteNpy("x.f32", [], File.ReadAllBytes(SharedData.Require(Input)));
        var result = Run64x128(input);
        Assert.True(result.Code == 0, result.Err);
    }

    [Fact]
    public void A_right_shape_with_too_little_data_is_still_caught_by_the_count()
    {
        byte[] raw = File.ReadAllBytes(SharedData.Require(Input));
        string input = WriteNpy("short.npy", NpyHeader("(1, 3, 64, 128)"), raw[..(raw.Length / 2)]);

        string line = CliHarness.AssertFails(Run64x128(input), 1);
        Assert.Contains("short.npy holds 12288 floats but espnet-p2-q3 at 64x128 expects 1x3x64x128 = 24576", line);
    }

    [Theory]
    [InlineData(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 2, 0, 16, 0 })]        // v2 ends before its 4-byte length
    [InlineData(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 3, 0, 16, 0, 0 })]     // v3, 11 bytes
    [InlineData(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 2, 0, 0xF8, 0xFF, 0xFF, 0x7F })] // length near int.MaxValue
    [InlineData(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 2, 0, 0xFF, 0xFF, 0xFF, 0xFF })] // length 4 GiB - 1
    [InlineData(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0, 0x40 })]        // v1, 9 bytes
    public void A_truncated_npy_header_is_one_line_and_exit_1(byte[] bytes)
    {
        string input = WriteNpy("cut.npy", bytes, []);

        string line = CliHarness.AssertFails(Run64x128(input), 1);
        Assert.Equal("espnet: cut.npy: truncated .npy header", line);
    }

    [Fact]
    public void An_unreadable_shape_is_one_line_and_exit_1()
    {
        string input = WriteNpy("odd.npy", NpyHeader("(1, 3, n, 128)"), File.ReadAllBytes(SharedData.Require(Input)));

        string line = CliHarness.AssertFails(Run64x128(input), 1);
        Assert.StartsWith("espnet: odd.npy: .npy header has an unreadable shape", line);
    }

    private static CliHarness.Result Run64x128(string input, string? output = null)
    {
        CliHarness.EnsureP2Q3At64x128Compiled();
        return CliHarness.Run("run", "--model", "espnet-p2-q3", "--height", "64", "--width", "128", "--weights", SharedData.Require(Weights),
            "--input", input, "--output", output ?? Path.Combine(CliHarness.TempDirectory(), "out.f32"));
    }

    private static string WriteNpy(string name, byte[] header, byte[] data)
    {
        string path = Path.Combine(CliHarness.TempDirectory(), name);
        File.WriteAllBytes(path, [.. header, .. data]);
        return path;
    }

    private static byte[] NpyHeader(string shape)
    {
        string dict = $"{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}";
        dict = dict.PadRight(64 - 10 - 1) + "\n";
        return [0x93, .. "NUMPY"u8, 1, 0, (byte)dict.Length, 0, .. System.Text.Encoding.Latin1.GetBytes(dict)];
    }
}
