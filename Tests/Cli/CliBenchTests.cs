using System.Text.Json;
using Espnet.Compiled.Cpu.Fast;
using Espnet.Compiled.Tests.Kernels;

namespace Espnet.Compiled.Tests.Cli;

/// <summary>`espnet bench`: the table, the JSON contract, and its usage errors. (It sets the worker count: kept apart.)</summary>
[Collection(nameof(KernelSettings))]
public sealed class CliBenchTests
{
    [Fact]
    public void Json_on_the_last_line_carries_the_contract_fields()
    {
        // Its own process: "allocated" counts every thread of the process, and in here the test runner's threads
        // allocate too.
        CliHarness.EnsureP2Q3At64x128Compiled();
        var result = CliHarness.RunProcess("bench", "--model", "espnet-p2-q3", "--height", "64", "--width", "128", "--threads", "2", "--runs", "3", "--warmup", "1", "--json");
        Assert.True(result.Code == 0, result.Err);
        Assert.Contains("median", result.Out);
        string last = result.Out.TrimEnd().Split('\n')[^1];
        using var json = JsonDocument.Parse(last);
        var root = json.RootElement;
        foreach (string field in new[] { "model", "height", "width", "batch", "threads", "device", "median_ms", "min_ms", "runs", "macs", "gflops", "allocated_bytes_per_run", "peak_rss_mb" })
            Assert.True(root.TryGetProperty(field, out _), $"no '{field}' in {last}");
        Assert.Equal("espnet-p2-q3", root.GetProperty("model").GetString());
        Assert.Equal(64, root.GetProperty("height").GetInt32());
        Assert.Equal(128, root.GetProperty("width").GetInt32());
        Assert.Equal(2, root.GetProperty("threads").GetInt32());
        Assert.Equal(3, root.GetProperty("runs").GetInt32());
        Assert.Equal("cpu", root.GetProperty("device").GetString());
        Assert.Equal(0, root.GetProperty("allocated_bytes_per_run").GetInt64());
        Assert.True(root.GetProperty("min_ms").GetDouble() <= root.GetProperty("median_ms").GetDouble());
        Assert.True(root.GetProperty("macs").GetInt64() > 0 && root.GetProperty("gflops").GetDouble() > 0);
    }

    [Theory]
    [InlineData("--runs must be 1 or more (got 0)", "--runs", "0")]
    [InlineData("--warmup must be 0 or more (got -1)", "--warmup", "-1")]
    [InlineData("--threads must be 1 or more (got 0)", "--threads", "0")]
    public void Bad_counts_are_usage_errors(string message, string option, string value)
    {
        using (KernelSettings.Threads(Workers.Threads))
        {
            string line = CliHarness.AssertFails(CliHarness.Run("bench", "--model", "espnet-p2-q3", "--height", "64", "--width", "128", option, value), 2);
            Assert.Equal("espnet: " + message, line);
        }
    }

    [Fact]
    public void A_size_the_generator_rejects_is_its_diagnostic()
    {
        string line = CliHarness.AssertFails(CliHarness.Run("bench", "--model", "espnet-p2-q3", "--height", "100", "--width", "128"), 2);
        Assert.Contains("ESPN0004", line);
    }

    [Fact]
    public void More_threads_than_processors_is_allowed_with_a_note()
    {
        CliHarness.Result result;
        using (KernelSettings.Threads(Workers.Threads))
            result = CliHarness.Run("bench", "--model", "espnet-c-p2-q3", "--height", "64", "--width", "64", "--threads", $"{Environment.ProcessorCount + 2}", "--runs", "1", "--warmup", "0");
        Assert.True(result.Code == 0, result.Err);
        Assert.Contains($"more than the {Environment.ProcessorCount} processors here; allowed", result.Err);
    }

    [Fact]
    public void Peak_measures_the_machine()
    {
        var result = CliHarness.Run("bench", "--peak", "--json", "--threads", "1");
        Assert.True(result.Code == 0, result.Err);
        using var json = JsonDocument.Parse(result.Out.TrimEnd().Split('\n')[^1]);
        Assert.True(json.RootElement.GetProperty("peak_gflops_per_thread").GetDouble() > 1);
    }
}
