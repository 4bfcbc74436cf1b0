using System.Diagnostics;
using System.Globalization;
using Espnet.Compiled.Training;
using Espnet.Compiled.Zoo;

namespace Espnet.Compiled.Cli;

/// <summary>`espnet bench --train`: times training steps (forward over the batch, cross-entropy, backward, SGD) on random data, on the CPU or the GPU.</summary>
internal static class TrainBench
{
    public static int Run(ModelRequest request, int runs, int warmup, int threads, bool cuda, bool json, TextWriter stdout, TextWriter stderr)
    {
        var (resolved, origin) = ModelOptions.Resolve(request, stderr);
        var network = (CompiledNetwork)resolved;
        network.LoadWeights(BenchCommand.RandomStateDict(network, seed: 1));
        using var gpu = cuda ? new Cuda.CudaTrainer(network, Cuda.CudaOptimizer.Sgd(0.9, weightDecay: 4e-5)) : null;
        var cpu = gpu is null ? new Trainer(network, n => new Sgd(n, momentum: 0.9, weightDecay: 4e-5)) : null;
        ITrainer trainer = (ITrainer?)gpu ?? cpu!;
        var rng = new Random(2);
        var x = new float[network.Batch * network.InputShape.Elements];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(2 * rng.NextDouble() - 1);
        var o = network.OutputShape;
        bool classifier = o.Height * o.Width == 1;
        var pixels = new byte[classifier ? 0 : network.Batch * o.Height * o.Width];
        for (int i = 0; i < pixels.Length; i++) pixels[i] = (byte)rng.Next(o.Channels);
        var classes = new int[classifier ? network.Batch : 0];
        for (int i = 0; i < classes.Length; i++) classes[i] = rng.Next(o.Channels);

        double Step()
        {
            double loss = classifier ? trainer.ComputeGradients(x, classes) : trainer.ComputeGradients(x, pixels);
            trainer.Step(1e-3);
            return loss;
        }
        double firstLoss = double.NaN;   // the first step's loss, the same on any device for the same seeds
        for (int i = 0; i < warmup; i++)
        {
            stderr.Write($"\rwarm-up {i + 1}/{warmup}   ");
            double loss = Step();
            if (i == 0) firstLoss = loss;
        }
        var times = new double[runs];
        long allocated = 0;
        for (int i = 0; i < runs; i++)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            long start = Stopwatch.GetTimestamp();
            double loss = Step();
            times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            if (warmup == 0 && i == 0) firstLoss = loss;
            allocated += GC.GetTotalAllocatedBytes(precise: true) - before;
            if (!double.IsFinite(loss)) throw new CommandException($"{request.Label}: the loss became {loss} on the benchmark data");
            stderr.Write($"\rstep {i + 1}/{runs}: {times[i]:F0} ms   ");
        }
        stderr.WriteLine();
        double median = BenchCommand.SortedMedian(times);
        double imagesPerSecond = network.Batch / (median / 1e3);
        long perStep = allocated / runs;
        double peakMb = BenchCommand.PeakResidentMegabytes();
        string where = gpu is not null ? $"cuda: {gpu.DeviceName}" : $"{threads} thread{(threads == 1 ? "" : "s")}, cpu";
        stdout.WriteLine($"{request.Label}, training step (forward, loss, backward, SGD), {where} ({origin})");
        stdout.WriteLine($"  median      {median,10:F1} ms per step");
        stdout.WriteLine($"  best        {times[0],10:F1} ms   ({runs} steps after {warmup} warm-up)");
        stdout.WriteLine($"  throughput  {imagesPerSecond,10:F2} images/s");
        long arena = gpu?.ArenaFloats ?? cpu!.Context.Arena.Length;
        stdout.WriteLine($"  arena       {arena * 4.0 / (1 << 20),10:F1} MB  (saved activations and gradients)");
        stdout.WriteLine($"  allocated   {perStep,10} bytes per step (all threads)");
        stdout.WriteLine($"  peak RSS    {peakMb,10:F0} MB");
        if (json)
        {
            var i0 = network.InputShape;
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{{\"model\":\"{request.Name}\",\"mode\":\"train\",\"height\":{i0.Height},\"width\":{i0.Width},\"batch\":{network.Batch},\"threads\":{(gpu is null ? threads : 0)},\"device\":\"{(gpu is null ? "cpu" : "cuda")}\"," +
                $"\"median_ms\":{median:F3},\"min_ms\":{times[0]:F3},\"runs\":{runs},\"warmup\":{warmup},\"images_per_s\":{imagesPerSecond:F3},\"first_loss\":{firstLoss:R}," +
                $"\"allocated_bytes_per_step\":{perStep},\"peak_rss_mb\":{peakMb:F1}}}"));
        }
        return Program.Success;
    }
}
