using System.CommandLine;
using System.Diagnostics;
using Espnet.Compiled.Weights;
using Espnet.Compiled.Zoo;

namespace Espnet.Compiled.Cli;

/// <summary>`espnet run`: one forward pass from a float32 file to a float32 file.</summary>
internal static class RunCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var model = new ModelOptions();
        var weights = new Option<string>("--weights", "-w") { Description = "Weights: the authors' .pth (legacy or zip layout), or 'builtin' (ESPNet p2q3 Cityscapes, embedded)", Required = true };
        var input = new Option<string>("--input", "-i") { Description = "Input tensor: raw float32 little-endian NCHW, batch 1 (or float32 .npy of shape (1, C, H, W) or (C, H, W)), or 'synthetic' (the reference tests' input pattern)", Required = true };
        var output = new Option<string>("--output", "-o") { Description = "Output logits: raw float32 little-endian NCHW (.npy if the name ends in .npy)", Required = true };
        var threads = ThreadsOption.Create();
        var device = new Option<string>("--device") { Description = "cpu, or cuda (the generated CUDA kernels, compiled for the GPU present by NVRTC)", DefaultValueFactory = _ => "cpu" };
        var strict = new Option<bool>("--strict") { Description = "Refuse an input holding NaN or infinity (default: warn, and run)" };
        device.AcceptOnlyFromAmong("cpu", "cuda");

        var command = new Command("run", "Run one forward pass: read an input tensor, write the output logits.");
        model.AddTo(command);
        foreach (var option in new Option[] { weights, input, output, threads, device, strict }) command.Options.Add(option);
        command.SetAction(parsed => Program.Guard(stderr, () =>
        {
            bool cuda = parsed.GetValue(device) == "cuda";
            if (cuda) _ = Cuda.CudaDevice.Default;   // no driver: said before any work
            int threadCount = ThreadsOption.Apply(parsed, threads, stderr);
            var request = model.Request(parsed);
            string inputPath = CommandInputs.Named(parsed.GetValue(input), "--input"), outputPath = CommandInputs.Named(parsed.GetValue(output), "--output");
            string weightsPath = CommandInputs.Named(parsed.GetValue(weights), "--weights");
            if (inputPath != BuiltinData.Input) CommandInputs.CheckReadable(inputPath, "--input");
            if (weightsPath != BuiltinData.Weights) CommandInputs.CheckReadable(weightsPath, "--weights");
            // The destination is checked, and a temporary file opened beside it, before any work.
            var reads = new List<(string, string)>();
            if (inputPath != BuiltinData.Input) reads.Add((inputPath, "input"));
            if (weightsPath != BuiltinData.Weights) reads.Add((weightsPath, "weights"));
            using var outputFile = OutputFile.Begin(outputPath, "--output", [.. reads]);

            var (network, _) = ModelOptions.Resolve(request, stderr);
            float[] x = inputPath == BuiltinData.Input ? BuiltinData.SyntheticInput(network) : ReadInput(inputPath, request, network);
            CheckFinite(x, inputPath, parsed.GetValue(strict), stderr);
            var clock = Stopwatch.StartNew();
            CommandInputs.LoadNamedWeights(network, request, weightsPath);
            var loadTime = clock.Elapsed;

            var y = new float[network.Batch * network.OutputShape.Elements];
            using var gpu = cuda ? new Cuda.CudaNetwork((CompiledNetwork)network) : null;   // no driver: one line, exit 1
            clock.Restart();
            if (gpu is not null) gpu.Forward(x, y);
            else network.Forward(x, y);
            var forwardTime = clock.Elapsed;
            var o = network.OutputShape;
            outputFile.Commit(stream => TensorFile.Write(stream, y, [network.Batch, o.Channels, o.Height, o.Width], TensorFile.IsNpy(outputPath)));
            stdout.WriteLine($"{request.Label}: wrote {network.Batch}x{o} float32 to {outputPath} " +
                             $"(forward {forwardTime.TotalMilliseconds:F0} ms, weights {loadTime.TotalMilliseconds:F0} ms, " +
                             (gpu is not null ? $"cuda: {gpu.DeviceName})" : $"cpu, {threadCount} thread{(threadCount == 1 ? "" : "s")})"));
            return Program.Success;
        }));
        return command;
    }

    private static float[] ReadInput(string path, ModelRequest request, ICompiledNetwork network)
    {
        float[] x = TensorFile.Read(path, (long)network.Batch * network.InputShape.Elements, out int[]? shape);
        var i = network.InputShape;
        int[] batched = [network.Batch, i.Channels, i.Height, i.Width], single = [i.Channels, i.Height, i.Width];
        // An .npy file says its shape: a transposed (HWC) or HxW-swapped array has the right count but the wrong layout.
        if (shape is not null && !shape.SequenceEqual(batched) && !(network.Batch == 1 && shape.SequenceEqual(single)))
            throw new InvalidDataException($"{Path.GetFileName(path)} has shape {TensorFile.FormatShape(shape)} but {request.Label} expects " +
                                           TensorFile.FormatShape(batched) + (network.Batch == 1 ? $" or {TensorFile.FormatShape(single)}" : ""));
        int expected = network.Batch * network.InputShape.Elements;
        if (x.Length != expected)
            throw new InvalidDataException($"{Path.GetFileName(path)} holds {x.Length} floats but {request.Label} expects " +
                                           $"{network.Batch}x{network.InputShape} = {expected} (pass --height/--width to match the input)");
        return x;
    }

    /// <summary>NaN or infinity in the input: a warning with the count (the output will hold them too), or an error with --strict.</summary>
    private static void CheckFinite(float[] x, string path, bool strict, TextWriter stderr)
    {
        int bad = 0;
        foreach (float v in x)
            if (!float.IsFinite(v)) bad++;
        if (bad == 0) return;
        string message = $"{Path.GetFileName(path)}: {bad} of {x.Length} input values are NaN or infinite";
        if (strict) throw new InvalidDataException(message + "; refusing to run (--strict)");
        stderr.WriteLine($"espnet: warning: {message}; the output will hold NaN too (--strict refuses such input)");
    }
}
