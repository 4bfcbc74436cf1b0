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
        var device = new Option<string>("--device") { Description = "cpu or cuda (the CUDA backend is not built yet)", DefaultValueFactory = _ => "cpu" };
        device.AcceptOnlyFromAmong("cpu", "cuda");

        var command = new Command("run", "Run one forward pass: read an input tensor, write the output logits.");
        model.AddTo(command);
        foreach (var option in new Option[] { weights, input, output, threads, device }) command.Options.Add(option);
        command.SetAction(parsed => Program.Guard(stderr, () =>
        {
            if (parsed.GetValue(device) == "cuda") throw new CommandException("CUDA backend not built yet; use --device cpu");
            int threadCount = ThreadsOption.Apply(parsed, threads, stderr);
            string inputPath = parsed.GetValue(input)!, outputPath = parsed.GetValue(output)!, weightsPath = parsed.GetValue(weights)!;
            if (SamePath(outputPath, inputPath)) throw new UsageException($"--output {outputPath} is the input file; refusing to overwrite it");
            if (SamePath(outputPath, weightsPath)) throw new UsageException($"--output {outputPath} is the weights file; refusing to overwrite it");

            var request = model.Request(parsed);
            var (network, _) = ModelOptions.Resolve(request, stderr);
            float[] x = inputPath == BuiltinData.Input ? BuiltinData.SyntheticInput(network) : ReadInput(inputPath, request, network);
            var clock = Stopwatch.StartNew();
            if (weightsPath == BuiltinData.Weights) network.LoadWeights(BuiltinData.ReadWeights(request));
            else LoadWeights(network, weightsPath);
            var loadTime = clock.Elapsed;

            var y = new float[network.Batch * network.OutputShape.Elements];
            clock.Restart();
            network.Forward(x, y);
            var forwardTime = clock.Elapsed;
            var o = network.OutputShape;
            TensorFile.Write(outputPath, y, [network.Batch, o.Channels, o.Height, o.Width]);
            stdout.WriteLine($"{request.Label}: wrote {network.Batch}x{o} float32 to {outputPath} " +
                             $"(forward {forwardTime.TotalMilliseconds:F0} ms, weights {loadTime.TotalMilliseconds:F0} ms, cpu, {threadCount} thread{(threadCount == 1 ? "" : "s")})");
            return Program.Success;
        }));
        return command;
    }

    private static void LoadWeights(ICompiledNetwork network, string path)
    {
        var stateDict = PthReader.Read(path);
        try
        {
            network.LoadWeights(stateDict);
        }
        catch (WeightLoadException e)
        {
            throw new WeightLoadException($"{Path.GetFileName(path)}: {e.Message}"); // which file, when a script passes several
        }
    }

    private static float[] ReadInput(string path, ModelRequest request, ICompiledNetwork network)
    {
        float[] x = TensorFile.Read(path, out int[]? shape);
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

    /// <summary>Whether two paths name the same file, after making them absolute and following symbolic links.</summary>
    private static bool SamePath(string a, string b) => string.Equals(Resolve(a), Resolve(b), StringComparison.Ordinal);

    private static string Resolve(string path)
    {
        string full = Path.GetFullPath(path);
        try
        {
            return File.ResolveLinkTarget(full, returnFinalTarget: true)?.FullName ?? full;
        }
        catch (IOException)
        {
            return full;
        }
    }
}
