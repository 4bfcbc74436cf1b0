using Espnet.Compiled.Cli;

namespace Espnet.Compiled.Tests.Cli;

/// <summary>Runs the `espnet` command in-process and captures what it prints.</summary>
public static class CliHarness
{
    public sealed record Result(int Code, string Out, string Err);

    // Everything the CLI tests write lives here and goes when the test process exits.
    private static readonly string Scratch = Path.Combine(Path.GetTempPath(), $"espnet-cli-tests-{Environment.ProcessId}");

    /// <summary>A compile cache of this test process's own, so tests never touch ~/.cache and always exercise the compile path.</summary>
    public static readonly string CacheDirectory = Path.Combine(Scratch, "cache");

    static CliHarness()
    {
        Environment.SetEnvironmentVariable("ESPNET_CACHE_DIR", CacheDirectory);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { Directory.Delete(Scratch, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        };
    }

    public static Result Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = Program.Run(args, stdout, stderr);
        return new Result(code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Runs the `espnet` command as a process of its own (same build, same compile cache).</summary>
    public static Result RunProcess(params string[] args)
    {
        var start = new System.Diagnostics.ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "espnet.dll"));
        foreach (string a in args) start.ArgumentList.Add(a);
        start.Environment["ESPNET_CACHE_DIR"] = CacheDirectory;
        using var process = System.Diagnostics.Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return new Result(process.ExitCode, stdout, stderr.Result);
    }

    private static readonly Lazy<Result> s_p2q3At64x128 = new(() => Run("info", "--model", "espnet-p2-q3", "--height", "64", "--width", "128"));

    /// <summary>Compiles espnet-p2-q3 at 64x128 once per process, so that the first test to use it does not
    /// also see the one-time "compiling ..." progress line on stderr.</summary>
    public static void EnsureP2Q3At64x128Compiled() => Assert.Equal(0, s_p2q3At64x128.Value.Code);

    /// <summary>The contract for every failure: the exit code, and exactly one stderr line with no stack trace.</summary>
    public static string AssertFails(Result result, int expectedCode)
    {
        Assert.True(result.Code == expectedCode, $"exit code {result.Code}, expected {expectedCode}; stderr: {result.Err}");
        string[] lines = result.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one stderr line, got {lines.Length}:\n{result.Err}");
        Assert.DoesNotContain("   at ", result.Err);
        return lines[0];
    }

    /// <summary>A scratch folder for one test's files.</summary>
    public static string TempDirectory()
    {
        string dir = Path.Combine(Scratch, Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        return dir;
    }
}
