using System.CommandLine;
using Espnet.Compiled.Imaging;
using Espnet.Compiled.Onnx;
using Espnet.Compiled.Zoo;

namespace Espnet.Compiled.Cli;

/// <summary>`espnet export-onnx`: the compiled network with its weights as a static-shape ONNX model.</summary>
internal static class ExportOnnxCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var model = new ModelOptions();
        var weights = new Option<string>("--weights", "-w") { Description = "Weights: the authors' .pth, or 'builtin' (ESPNet p2q3 Cityscapes, embedded)", Required = true };
        var output = new Option<string>("--out", "-o") { Description = "The .onnx file to write", Required = true };
        var force = new Option<bool>("--force") { Description = "Replace the file if it exists (default: refuse)" };
        var command = new Command("export-onnx", $"Write the model with its weights as a static-shape ONNX model (opset {OnnxGraph.Opset}, input 'input', output 'output').");
        model.AddTo(command);
        foreach (var option in new Option[] { weights, output, force }) command.Options.Add(option);
        command.SetAction(parsed => Program.Guard(stderr, () =>
        {
            var request = model.Request(parsed);
            string weightsPath = CommandInputs.Named(parsed.GetValue(weights), "--weights"), outputPath = CommandInputs.Named(parsed.GetValue(output), "--out");
            if (weightsPath != BuiltinData.Weights) CommandInputs.CheckReadable(weightsPath, "--weights");
            using var file = OutputFile.Begin(outputPath, "--out", parsed.GetValue(force), weightsPath == BuiltinData.Weights ? [] : [(weightsPath, "weights")]);
            var (network, _) = ModelOptions.Resolve(request, stderr);
            CommandInputs.LoadNamedWeights(network, request, weightsPath);
            long bytes = 0;
            file.Commit(stream =>
            {
                network.ExportOnnx(stream);
                bytes = stream.Position;
            });
            var i = network.InputShape;
            var o = network.OutputShape;
            stdout.WriteLine($"{request.Label}: wrote {outputPath} (ONNX opset {OnnxGraph.Opset}, {bytes / 1e6:F1} MB): " +
                             $"'input' {network.Batch}x{i} -> 'output' {network.Batch}x{o}");
            stdout.WriteLine($"  input preprocessing: {Preprocessing.Describe(request.Recipe())}");
            return Program.Success;
        }));
        return command;
    }
}
