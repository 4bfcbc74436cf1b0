using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Espnet.Compiled.Cpu.Fast;
using Espnet.Compiled.Weights;

namespace Espnet.Compiled.Cli;

/// <summary>
/// `espnet bench`: times forward passes of a model on a random input with seeded random weights. Prints a
/// readable table (progress on stderr); with --json, one JSON object on the last line of stdout.
/// </summary>
internal static class BenchCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var model = new ModelOptions();
        var threads = ThreadsOption.Create();
        var runs = new Option<int>("--runs") { Description = "Timed forward passes (default 10)", DefaultValueFactory = _ => 10 };
        var warmup = new Option<int>("--warmup") { Description = "Untimed passes first (default 2)", DefaultValueFactory = _ => 2 };
        var device = new Option<string>("--device") { Description = "cpu, or cuda (the generated CUDA kernels, timed with CUDA events)", DefaultValueFactory = _ => "cpu" };
        device.AcceptOnlyFromAmong("cpu", "cuda");
        var json = new Option<bool>("--json") { Description = "Also print one JSON object with the figures on the last line" };
        var peak = new Option<bool>("--peak") { Description = "Measure this machine's float32 peak (FMA chains at the kernels' vector width) instead of a model" };
        var layers = new Option<bool>("--layers") { Description = "Also time each layer (one extra pass) and print the slowest ten" };
        var train = new Option<bool>("--train") { Description = "Time training steps (forward, loss, backward, SGD update) instead of forward passes" };
        var batch = new Option<int>("--batch") { Description = "Batch of the timed training steps (default 4; compiled on first use)", DefaultValueFactory = _ => 4 };

        var command = new Command("bench", "Time forward passes on a random input: median and best time, GFLOP/s, allocations, peak memory.");
        model.AddTo(command);
        model.Model.Required = false;
        foreach (var option in new Option[] { threads, runs, warmup, device, json, layers, peak, train, batch }) command.Options.Add(option);
        command.SetAction(parsed => Program.Guard(stderr, () =>
        {
            int runCount = parsed.GetValue(runs), warmupCount = parsed.GetValue(warmup);
            if (runCount < 1) throw new UsageException($"--runs must be 1 or more (got {runCount})");
            if (warmupCount < 0) throw new UsageException($"--warmup must be 0 or more (got {warmupCount})");
            bool cuda = parsed.GetValue(device) == "cuda";
            int threadCount = ThreadsOption.Apply(parsed, threads, stderr);
            if (parsed.GetValue(peak))
            {
                var (one, all, n, bits) = PeakFlops.Measure(threadCount);
                stdout.WriteLine($"float32 peak, {bits}-bit FMA: {one:F1} GFLOP/s on one thread, {all:F1} GFLOP/s on {n} threads at once");
                if (parsed.GetValue(json))
                    stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{{\"peak_gflops_per_thread\":{one:F2},\"peak_gflops_all_threads\":{all:F2},\"threads\":{n},\"vector_bits\":{bits}}}"));
                return Program.Success;
            }
            if (parsed.GetResult(model.Model) is null) throw new UsageException("--model is required (or --peak)");

            var request = model.Request(parsed);
            if (cuda) _ = Cuda.CudaDevice.Default;
            if (cuda && !parsed.GetValue(train)) return CudaBench(request, runCount, warmupCount, parsed.GetValue(json), stdout, stderr);
            if (parsed.GetValue(train))
            {
                int b = parsed.GetValue(batch);
                if (b < 1) throw new UsageException($"--batch must be 1 or more (got {b})");
                return TrainBench.Run(request with { Batch = b }, runCount, warmupCount, threadCount, cuda, parsed.GetValue(json), stdout, stderr);
            }
            var (network, origin) = ModelOptions.Resolve(request, stderr);
            network.LoadWeights(RandomStateDict(network, seed: 1));
            var x = new float[network.Batch * network.InputShape.Elements];
            var rng = new Random(2);
            for (int i = 0; i < x.Length; i++) x[i] = (float)(2 * rng.NextDouble() - 1);
            var y = new float[network.Batch * network.OutputShape.Elements];

            for (int i = 0; i < warmupCount; i++)
            {
                stderr.Write($"\rwarm-up {i + 1}/{warmupCount}   ");
                network.Forward(x, y);
            }
            var times = new double[runCount];
            long allocated = 0;
            for (int i = 0; i < runCount; i++)
            {
                // Allocations on every thread, counted around the forward pass alone (the progress line allocates).
                long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
                long start = Stopwatch.GetTimestamp();
                network.Forward(x, y);
                times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                allocated += GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
                stderr.Write($"\rrun {i + 1}/{runCount}: {times[i]:F1} ms   ");
            }
            stderr.WriteLine();
            if (y.Any(float.IsNaN)) throw new CommandException($"{request.Label} produced NaN on the benchmark input");

            double median = SortedMedian(times);
            double gflops = 2.0 * network.MacCount * network.Batch / (median / 1e3) / 1e9;
            double peakMb = PeakResidentMegabytes();
            long perRun = allocated / runCount;

            var i0 = network.InputShape;
            stdout.WriteLine($"{request.Label}, batch {network.Batch}, {threadCount} thread{(threadCount == 1 ? "" : "s")}, cpu ({origin})");
            stdout.WriteLine($"  median      {median,10:F2} ms");
            stdout.WriteLine($"  best        {times[0],10:F2} ms   ({runCount} runs after {warmupCount} warm-up)");
            stdout.WriteLine($"  MACs        {network.MacCount / 1e9,10:F3} G    (convolutions, as the authors count)");
            stdout.WriteLine($"  rate        {gflops,10:F1} GFLOP/s at the median");
            stdout.WriteLine($"  allocated   {perRun,10} bytes per run (all threads)");
            stdout.WriteLine($"  peak RSS    {peakMb,10:F0} MB");
            if (parsed.GetValue(layers)) PrintSlowestLayers(network, x, y, stdout);
            if (parsed.GetValue(json))
            {
                var inv = CultureInfo.InvariantCulture;
                stdout.WriteLine(string.Create(inv,
                    $"{{\"model\":\"{request.Name}\",\"height\":{i0.Height},\"width\":{i0.Width},\"batch\":{network.Batch},\"threads\":{threadCount},\"device\":\"cpu\"," +
                    $"\"median_ms\":{median:F3},\"min_ms\":{times[0]:F3},\"runs\":{runCount},\"warmup\":{warmupCount},\"macs\":{network.MacCount}," +
                    $"\"gflops\":{gflops:F2},\"allocated_bytes_per_run\":{perRun},\"peak_rss_mb\":{peakMb:F1}}}"));
            }
            return Program.Success;
        }));
        return command;
    }

    /// <summary>`bench --device cuda`: the kernels alone, timed with CUDA events (median of the runs), on random weights and input.</summary>
    private static int CudaBench(Zoo.ModelRequest request, int runs, int warmup, bool json, TextWriter stdout, TextWriter stderr)
    {
        var (network, origin) = ModelOptions.Resolve(request, stderr);
        network.LoadWeights(RandomStateDict(network, seed: 1));
        using var gpu = new Cuda.CudaNetwork((CompiledNetwork)network);
        var x = new float[network.Batch * network.InputShape.Elements];
        var rng = new Random(2);
        for (int i = 0; i < x.Length; i++) x[i] = (float)(2 * rng.NextDouble() - 1);
        var y = new float[network.Batch * network.OutputShape.Elements];
        gpu.Forward(x, y);
        for (int i = 0; i < warmup; i++) gpu.TimeKernels();
        var times = new double[runs];
        for (int i = 0; i < runs; i++) times[i] = gpu.TimeKernels();
        double median = SortedMedian(times);
        double gflops = 2.0 * network.MacCount * network.Batch / (median / 1e3) / 1e9;
        stdout.WriteLine($"{request.Label}, batch {network.Batch}, cuda: {gpu.DeviceName} ({origin})");
        stdout.WriteLine($"  median      {median,10:F3} ms   (kernels, CUDA events)");
        stdout.WriteLine($"  best        {times[0],10:F3} ms   ({runs} runs after {warmup} warm-up)");
        stdout.WriteLine($"  rate        {gflops,10:F1} GFLOP/s at the median");
        if (json)
        {
            var i0 = network.InputShape;
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{{\"model\":\"{request.Name}\",\"height\":{i0.Height},\"width\":{i0.Width},\"batch\":{network.Batch},\"threads\":0,\"device\":\"cuda\"," +
                $"\"median_ms\":{median:F4},\"min_ms\":{times[0]:F4},\"runs\":{runs},\"warmup\":{warmup},\"macs\":{network.MacCount},\"gflops\":{gflops:F2}," +
                $"\"allocated_bytes_per_run\":0,\"peak_rss_mb\":{PeakResidentMegabytes():F1}}}"));
        }
        return Program.Success;
    }

    // ESPNET_BENCH_LAYERS=N shows N layers instead of ten (a profiling aid).
    private static int SlowestShown => int.TryParse(Environment.GetEnvironmentVariable("ESPNET_BENCH_LAYERS"), out int n) && n > 0 ? n : 10;

    private static void PrintSlowestLayers(ICompiledNetwork network, float[] x, float[] y, TextWriter stdout)
    {
        var clock = new LayerClock(network.Layers.Count);
        network.Forward(x, y, clock);
        double total = clock.Elapsed.Sum();
        stdout.WriteLine("  slowest layers:");
        foreach (var (ms, layer) in clock.Elapsed.Select((ms, i) => (ms, network.Layers[i])).OrderByDescending(t => t.ms).Take(SlowestShown))
            stdout.WriteLine($"    {ms,8:F2} ms {100 * ms / total,5:F1}%  {layer.Name}: {layer.Description}");
    }

    /// <summary>Time between consecutive layers' outputs (batch 1: the layers run in order).</summary>
    private sealed class LayerClock(int layers) : IActivationObserver
    {
        private long _last = Stopwatch.GetTimestamp();
        public double[] Elapsed { get; } = new double[layers];

        public bool ReadsValues => false;

        public void OnActivation(int sample, LayerInfo layer, ReadOnlySpan<float> values)
        {
            long now = Stopwatch.GetTimestamp();
            Elapsed[layer.Index] += Stopwatch.GetElapsedTime(_last, now).TotalMilliseconds;
            _last = Stopwatch.GetTimestamp();
        }
    }

    /// <summary>Seeded random weights shaped like the model's parameters: conv weights scaled by fan-in, BN statistics sane.</summary>
    internal static StateDict RandomStateDict(ICompiledNetwork network, int seed)
    {
        var rng = new Random(seed);
        var sd = new StateDict();
        foreach (var p in network.Parameters)
        {
            var v = new float[p.Elements];
            int fanIn = p.Shape.Length >= 2 ? p.Elements / p.Shape[0] : 1;
            for (int i = 0; i < v.Length; i++)
            {
                double u = rng.NextDouble();
                v[i] = (float)(p.Role switch
                {
                    ParameterRole.RunningVar => 0.5 + u,
                    ParameterRole.RunningMean or ParameterRole.Bias => 0.2 * (u - 0.5),
                    _ when p.Shape.Length == 1 => 0.25 + 0.5 * u,
                    _ => (2 * u - 1) * Math.Sqrt(3.0 / fanIn),
                });
            }
            sd.Add(p.Key, new StoredTensor(p.Shape, StoredDType.Float32, v));
        }
        return sd;
    }

    /// <summary>The process's peak resident set (VmHWM on Linux; the peak working set elsewhere).</summary>
    /// <summary>Sorts the timings in place (so times[0] is the best) and returns their median.</summary>
    internal static double SortedMedian(double[] times)
    {
        Array.Sort(times);
        int n = times.Length;
        return n % 2 == 1 ? times[n / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
    }

    internal static double PeakResidentMegabytes()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return long.Parse(line.AsSpan(6).Trim().ToString().Split(' ')[0], CultureInfo.InvariantCulture) / 1024.0;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return Process.GetCurrentProcess().PeakWorkingSet64 / (1024.0 * 1024.0);
    }
}

/// <summary>--threads, shared by the commands that compute: default the machine's processors; more is allowed, with a note.</summary>
internal static class ThreadsOption
{
    public static Option<int> Create() => new("--threads")
    {
        Description = $"Worker threads for the CPU kernels (default: the machine's {Environment.ProcessorCount} processors; results are identical for any count)",
        DefaultValueFactory = _ => Environment.ProcessorCount,
    };

    public static int Apply(ParseResult parsed, Option<int> option, TextWriter stderr)
    {
        int n = parsed.GetValue(option);
        if (n < 1) throw new UsageException($"--threads must be 1 or more (got {n})");
        if (n > Environment.ProcessorCount)
            stderr.WriteLine($"espnet: note: --threads {n} is more than the {Environment.ProcessorCount} processors here; allowed, but expect no gain");
        Workers.Threads = n;
        return n;
    }
}
