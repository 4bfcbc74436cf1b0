using Espnet.Compiled.Tests.Support;

namespace Espnet.Compiled.Tests.Cli;

/// <summary>
/// `espnet run` never harms a file the user has: the destination is checked before the work, the output is
/// renamed into place only when complete, and the files it reads are recognised through any link. Bad paths,
/// empty options, folders and devices get their own one-line errors; NaN in the input is reported.
/// </summary>
public sealed class CliFileSafetyTests
{

    private static CliHarness.Result Run(string weights, string input, string output, params string[] more)
    {
        CliHarness.EnsureP2Q3At64x128Compiled();
        return CliHarness.Run(["run", "--model", "espnet-p2-q3", "--height", "64", "--width", "128",
            "--weights", weights, "--input", input, "--output", output, .. more]);
    }

    private static string CopyOfBuiltinWeights(string dir)
    {
        // The embedded weights, written out once through the CLI's own loader path: a real .pth to protect.
        string path = Path.Combine(dir, "weights.pth");
        using var source = typeof(Espnet.Compiled.Cli.UsageException).Assembly.GetManifestResourceStream("builtin/espnet_p_2_q_3.pth")!;
        using var target = File.Create(path);
        source.CopyTo(target);
        return path;
    }

    [Fact]
    public void A_hard_link_to_the_weights_is_refused_and_the_weights_are_untouched()
    {
        string dir = CliHarness.TempDirectory();
        string weights = CopyOfBuiltinWeights(dir);
        byte[] before = File.ReadAllBytes(weights);
        string link = Path.Combine(dir, "looks-new.f32");
        Assert.Equal(0, Link(weights, link));

        string line = CliHarness.AssertFails(Run(weights, "synthetic", link), 2);
        Assert.Contains("is the weights file (through a link)", line);
        Assert.Equal(before, File.ReadAllBytes(weights));
    }

    [Fact]
    public void A_symbolic_link_to_the_weights_folder_is_refused()
    {
        string dir = CliHarness.TempDirectory();
        string weights = CopyOfBuiltinWeights(dir);
        byte[] before = File.ReadAllBytes(weights);
        string alias = Path.Combine(CliHarness.TempDirectory(), "alias");
        Directory.CreateSymbolicLink(alias, dir);

        string line = CliHarness.AssertFails(Run(weights, "synthetic", Path.Combine(alias, "weights.pth")), 2);
        Assert.Contains("refusing to overwrite", line);
        Assert.Equal(before, File.ReadAllBytes(weights));
    }

    [Fact]
    public void A_missing_output_folder_is_reported_before_any_work()
    {
        string output = Path.Combine(CliHarness.TempDirectory(), "no-such-folder", "out.f32");
        string line = CliHarness.AssertFails(Run("builtin", "synthetic", output), 1);
        Assert.Contains("does not exist; create it first", line);
    }

    [Fact]
    public void An_existing_output_is_replaced_whole_and_no_temporary_file_is_left()
    {
        string dir = CliHarness.TempDirectory();
        string output = Path.Combine(dir, "out.f32");
        File.WriteAllText(output, "old");
        var result = Run("builtin", "synthetic", output);
        Assert.True(result.Code == 0, result.Err);
        Assert.Equal(4L * 20 * 64 * 128, new FileInfo(output).Length);
        Assert.Equal(new[] { "out.f32" }, Directory.GetFiles(dir).Select(Path.GetFileName).ToArray());
    }

    [Fact]
    public void A_failing_run_leaves_the_old_output_and_no_temporary_file()
    {
        string dir = CliHarness.TempDirectory();
        string output = Path.Combine(dir, "out.f32");
        File.WriteAllText(output, "old");
        string input = Path.Combine(dir, "short.f32");
        File.WriteAllBytes(input, new byte[400]);

        CliHarness.AssertFails(Run("builtin", input, output), 1);
        Assert.Equal("old", File.ReadAllText(output));
        Assert.Equal(new[] { "out.f32", "short.f32" }, Directory.GetFiles(dir).Select(Path.GetFileName).Order().ToArray());
    }

    [Theory]
    [InlineData("--input")]
    [InlineData("--weights")]
    [InlineData("--output")]
    public void An_empty_option_is_a_usage_error(string option)
    {
        var args = new Dictionary<string, string> { ["--weights"] = "builtin", ["--input"] = "synthetic", ["--output"] = Path.Combine(CliHarness.TempDirectory(), "o.f32") };
        args[option] = "";
        string line = CliHarness.AssertFails(Run(args["--weights"], args["--input"], args["--output"]), 2);
        Assert.Contains($"{option} is empty", line);
    }

    [Theory]
    [InlineData("--input")]
    [InlineData("--weights")]
    [InlineData("--output")]
    public void A_folder_gets_its_own_message(string option)
    {
        string folder = CliHarness.TempDirectory();
        var args = new Dictionary<string, string> { ["--weights"] = "builtin", ["--input"] = "synthetic", ["--output"] = Path.Combine(CliHarness.TempDirectory(), "o.f32") };
        args[option] = folder;
        string line = CliHarness.AssertFails(Run(args["--weights"], args["--input"], args["--output"]), 2);
        Assert.Contains($"{option} {folder} is a folder", line);
    }

    [Fact]
    public void A_device_as_input_is_refused_without_reading_it()
    {
        string line = CliHarness.AssertFails(Run("builtin", "/dev/zero", Path.Combine(CliHarness.TempDirectory(), "o.f32")), 2);
        Assert.Contains("--input /dev/zero is a device", line);
    }

    [Fact]
    public void An_input_longer_than_the_model_takes_is_refused_before_it_is_read_whole()
    {
        string input = Path.Combine(CliHarness.TempDirectory(), "long.f32");
        using (var f = File.Create(input)) f.SetLength(64L << 20); // 64 MB of zeros, the model takes 96 KB
        string line = CliHarness.AssertFails(Run("builtin", input, Path.Combine(CliHarness.TempDirectory(), "o.f32")), 1);
        Assert.Contains("long.f32 holds more than the 24576 floats the model takes", line);
    }

    [Fact]
    public void NaN_in_the_input_is_a_warning_with_the_count_or_an_error_with_strict()
    {
        string dir = CliHarness.TempDirectory();
        string input = Path.Combine(dir, "nan.f32");
        var values = new float[3 * 64 * 128];
        values[5] = float.NaN;
        values[9] = float.PositiveInfinity;
        File.WriteAllBytes(input, values.SelectMany(BitConverter.GetBytes).ToArray());

        var warned = Run("builtin", input, Path.Combine(dir, "o.f32"));
        Assert.True(warned.Code == 0, warned.Err);
        Assert.Contains("warning: nan.f32: 2 of 24576 input values are NaN or infinite", warned.Err);

        string line = CliHarness.AssertFails(Run("builtin", input, Path.Combine(dir, "o2.f32"), "--strict"), 1);
        Assert.Contains("2 of 24576 input values are NaN or infinite; refusing to run (--strict)", line);
        Assert.False(File.Exists(Path.Combine(dir, "o2.f32")));
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "link", SetLastError = true)]
    private static extern int Link(string existing, string created);
}
