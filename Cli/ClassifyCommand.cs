using System.CommandLine;
using System.Diagnostics;
using Espnet.Compiled.Imaging;
using Espnet.Compiled.Zoo;

namespace Espnet.Compiled.Cli;

/// <summary>`espnet classify`: a picture in, the top-K ImageNet classes with their probabilities out.</summary>
internal static class ClassifyCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var model = new ModelOptions();
        var weights = new Option<string>("--weights", "-w") { Description = "Weights: the authors' espnetv2_s_*_imagenet_224x224.pth", Required = true };
        var image = new Option<string>("--image", "-i") { Description = "A picture (PNG, JPEG, BMP, GIF, WebP; read by content)", Required = true };
        var top = new Option<int>("--top", "-k") { Description = "How many classes to list (default 5)", DefaultValueFactory = _ => 5 };
        var threads = ThreadsOption.Create();

        var command = new Command("classify", "Classify a picture with an ESPNetv2 ImageNet classifier: the top classes and their probabilities.");
        model.AddTo(command);
        foreach (var option in new Option[] { weights, image, top, threads }) command.Options.Add(option);
        command.SetAction(parsed => Program.Guard(stderr, () =>
        {
            ThreadsOption.Apply(parsed, threads, stderr);
            var request = model.Request(parsed);
            if (!request.IsClassifier())
                throw new UsageException($"{request.Name} is a segmentation model: use 'espnet segment' (classify takes espnetv2-s0.5 ... espnetv2-s2.0)");
            int k = parsed.GetValue(top);
            if (k < 1) throw new UsageException($"--top must be 1 or more (got {k})");
            string imagePath = CommandInputs.Named(parsed.GetValue(image), "--image"), weightsPath = CommandInputs.Named(parsed.GetValue(weights), "--weights");
            CommandInputs.CheckReadable(imagePath, "--image");
            if (weightsPath != BuiltinData.Weights) CommandInputs.CheckReadable(weightsPath, "--weights");

            var (network, _) = ModelOptions.Resolve(request, stderr);
            var decoded = ImagePipeline.Decode(imagePath, request.Recipe(), request.Height, request.Width);
            if (decoded.Error is not null) throw new InvalidDataException(decoded.Error);
            CommandInputs.LoadNamedWeights(network, request, weightsPath);
            var logits = new float[network.OutputShape.Elements];
            var clock = Stopwatch.StartNew();
            network.Forward(decoded.Input, logits);
            var forward = clock.Elapsed;

            var probabilities = Softmax(logits);
            var names = request.Classes == 1000 ? ImageNetClasses.Names : null;
            stdout.WriteLine($"{request.Label}: {Path.GetFileName(imagePath)} ({decoded.Image!.Width}x{decoded.Image.Height}, {forward.TotalMilliseconds:F0} ms)");
            foreach (int c in Enumerable.Range(0, probabilities.Length).OrderByDescending(c => probabilities[c]).ThenBy(c => c).Take(k))
                stdout.WriteLine($"  {100 * probabilities[c],6:F2}%  {names?[c] ?? $"class {c}"} ({c})");
            return Program.Success;
        }));
        return command;
    }

    /// <summary>Probabilities in double (the largest logit subtracted first, so large logits do not overflow).</summary>
    internal static double[] Softmax(ReadOnlySpan<float> logits)
    {
        double max = double.NegativeInfinity;
        foreach (float v in logits) max = Math.Max(max, v);
        var p = new double[logits.Length];
        double total = 0;
        for (int i = 0; i < p.Length; i++) total += p[i] = Math.Exp(logits[i] - max);
        for (int i = 0; i < p.Length; i++) p[i] /= total;
        return p;
    }
}
