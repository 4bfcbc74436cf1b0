using System.CommandLine;
using System.Diagnostics;
using Espnet.Compiled.Imaging;
using Espnet.Compiled.Zoo;

namespace Espnet.Compiled.Cli;

/// <summary>
/// `espnet segment`: a picture (or a folder of them) in, a train-ID mask PNG at each picture's own size out,
/// with an optional overlay and raw logits. The family's own preprocessing (docs/front-door.md).
/// </summary>
internal static class SegmentCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var model = new ModelOptions();
        var weights = new Option<string>("--weights", "-w") { Description = "Weights: the authors' .pth, or 'builtin' (ESPNet p2q3 Cityscapes, embedded)", Required = true };
        var image = new Option<string>("--image", "-i") { Description = "A picture (PNG, JPEG, BMP, GIF, WebP; read by content), a folder of them (searched recursively), or 'synthetic' (a street drawn by the command)", Required = true };
        var output = new Option<string>("--out", "-o") { Description = "The mask PNG (8-bit class IDs at the picture's size), or a folder for a folder of pictures", Required = true };
        var overlay = new Option<string?>("--overlay") { Description = "Also write the picture with the classes' colours blended over it (a PNG, or a folder)" };
        var labelIds = new Option<bool>("--label-ids") { Description = "Write Cityscapes label IDs (as *_labelIds.png) instead of train IDs" };
        var logits = new Option<string?>("--logits") { Description = "Also write the raw logits (float32 NCHW at the network's output size; a file, or a folder)" };
        var force = new Option<bool>("--force") { Description = "Replace outputs that exist (default: refuse)" };
        var threads = ThreadsOption.Create();

        var command = new Command("segment", "Segment pictures: a class per pixel, written as a mask PNG (and an overlay to look at).");
        model.AddTo(command);
        foreach (var option in new Option[] { weights, image, output, overlay, labelIds, logits, force, threads }) command.Options.Add(option);
        command.SetAction(parsed => Program.Guard(stderr, () =>
        {
            int threadCount = ThreadsOption.Apply(parsed, threads, stderr);
            var request = model.Request(parsed);
            if (request.IsClassifier())
                throw new UsageException($"{request.Name} is an image classifier: use 'espnet classify' (segment takes espnet-*, espnetv2-seg-*)");
            var job = new Job(
                Image: CommandInputs.Named(parsed.GetValue(image), "--image"),
                Mask: CommandInputs.Named(parsed.GetValue(output), "--out"),
                Overlay: Optional(parsed.GetValue(overlay), "--overlay"),
                Logits: Optional(parsed.GetValue(logits), "--logits"),
                Weights: CommandInputs.Named(parsed.GetValue(weights), "--weights"),
                LabelIds: parsed.GetValue(labelIds),
                Force: parsed.GetValue(force),
                Labels: request.Labels());
            if (job.LabelIds && !job.Labels.HasLabelIds)
                throw new UsageException($"--label-ids maps Cityscapes train IDs to label IDs; {request.Name} predicts {job.Labels.Name} classes");
            if (job.Weights != BuiltinData.Weights) CommandInputs.CheckReadable(job.Weights, "--weights");
            if (Directory.Exists(job.Image)) return SegmentFolder(job, request, threadCount, stdout, stderr);
            if (job.Image != BuiltinData.Input) CommandInputs.CheckReadable(job.Image, "--image");
            return SegmentOne(job, request, threadCount, stdout, stderr);
        }));
        return command;
    }

    private sealed record Job(string Image, string Mask, string? Overlay, string? Logits, string Weights, bool LabelIds, bool Force, LabelSet Labels);

    private static string? Optional(string? value, string option) =>
        value is null ? null : CommandInputs.Named(value, option);

    private static int SegmentOne(Job job, ModelRequest request, int threadCount, TextWriter stdout, TextWriter stderr)
    {
        var reads = new List<(string, string)>();
        if (job.Image != BuiltinData.Input) reads.Add((job.Image, "--image"));
        if (job.Weights != BuiltinData.Weights) reads.Add((job.Weights, "weights"));
        if (SamePath(job.Overlay, job.Mask) || SamePath(job.Logits, job.Mask) || SamePath(job.Logits, job.Overlay))
            throw new UsageException("--out, --overlay and --logits must name different files");
        // Every destination is checked, and its temporary file opened, before any work.
        using var mask = OutputFile.Begin(job.Mask, "--out", job.Force, [.. reads]);
        using var overlay = job.Overlay is null ? null : OutputFile.Begin(job.Overlay, "--overlay", job.Force, [.. reads]);
        using var logitsFile = job.Logits is null ? null : OutputFile.Begin(job.Logits, "--logits", job.Force, [.. reads]);

        var (network, _) = ModelOptions.Resolve(request, stderr);
        // Decoding first: an unreadable picture is reported before the weights are read.
        var decoded = ImagePipeline.Decode(job.Image, request.Recipe(), request.Height, request.Width);
        if (decoded.Error is not null) throw new InvalidDataException(decoded.Error);
        CommandInputs.LoadNamedWeights(network, request, job.Weights);

        var segmenter = new Segmenter(network, job.Labels);
        var clock = Stopwatch.StartNew();
        var labels = segmenter.Run(decoded.Input!, decoded.Image!);
        var forward = clock.Elapsed;
        Write(job, segmenter, decoded.Image!, labels, mask, overlay, logitsFile);
        stdout.WriteLine($"{request.Label}: {Path.GetFileName(job.Image)} ({decoded.Image!.Width}x{decoded.Image.Height}) -> {job.Mask}" +
                         (job.Overlay is null ? "" : $", overlay {job.Overlay}") + (job.Logits is null ? "" : $", logits {job.Logits}") +
                         $" ({forward.TotalMilliseconds:F0} ms, {threadCount} thread{(threadCount == 1 ? "" : "s")})");
        stdout.WriteLine("  " + Summary(labels, job.Labels));
        return Program.Success;
    }

    private static bool SamePath(string? a, string? b) => a is not null && b is not null && Path.GetFullPath(a) == Path.GetFullPath(b);

    private static int SegmentFolder(Job job, ModelRequest request, int threadCount, TextWriter stdout, TextWriter stderr)
    {
        string root = Path.GetFullPath(job.Image);
        foreach (var (folder, option) in new[] { (job.Mask, "--out"), (job.Overlay, "--overlay"), (job.Logits, "--logits") })
        {
            if (folder is null) continue;
            if (File.Exists(folder)) throw new UsageException($"{option} {folder} is a file: with a folder of pictures, give a folder");
            if (Path.GetFullPath(folder).TrimEnd('/') == root.TrimEnd('/'))
                throw new UsageException($"{option} {folder} is the --image folder: outputs would mix with (and could replace) the pictures; give another folder");
        }
        var files = Directory.EnumerateFiles(root, "*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.Hidden })
            .Order(StringComparer.Ordinal).ToList();
        var pictures = new List<string>();
        var notImages = new List<string>();
        foreach (string file in files)
        {
            if (IsInside(file, job.Mask) || IsInside(file, job.Overlay) || IsInside(file, job.Logits)) continue;
            (SafeLooksLikeImage(file) ? pictures : notImages).Add(file);
        }
        if (pictures.Count == 0) throw new CommandException($"--image {job.Image} holds no pictures (PNG, JPEG, BMP, GIF or WebP)");

        // Where each picture's outputs go, all checked before any work: no clashes, nothing replaced without --force.
        string Target(string folder, string picture, string extension) =>
            Path.Combine(folder, Path.ChangeExtension(Path.GetRelativePath(root, picture), extension));
        var clashes = pictures.GroupBy(p => Target("", p, ".png"), StringComparer.Ordinal).Where(g => g.Count() > 1).ToList();
        if (clashes.Count > 0)
            throw new UsageException($"{string.Join(" and ", clashes[0].Select(p => Path.GetRelativePath(root, p)))} would write the same mask {clashes[0].Key}; rename one");
        if (!job.Force)
        {
            var existing = pictures.SelectMany(p => new[] { Target(job.Mask, p, ".png"), job.Overlay is null ? null : Target(job.Overlay, p, ".png"), job.Logits is null ? null : Target(job.Logits, p, ".f32") })
                .Where(t => t is not null && File.Exists(t)).ToList();
            if (existing.Count > 0)
                throw new UsageException($"{existing[0]} exists{(existing.Count > 1 ? $" (and {existing.Count - 1} more outputs)" : "")}: pass --force to replace them");
        }

        foreach (string file in notImages) stderr.WriteLine($"espnet: skipped {Path.GetRelativePath(root, file)}: not an image");
        var (network, _) = ModelOptions.Resolve(request, stderr);
        CommandInputs.LoadNamedWeights(network, request, job.Weights);
        var segmenter = new Segmenter(network, job.Labels);
        var progress = new Progress(stderr, pictures.Count, "images");
        int done = 0, failed = 0;
        foreach (var decoded in ImagePipeline.DecodeAhead(pictures, request.Recipe(), request.Height, request.Width))
        {
            string relative = Path.GetRelativePath(root, decoded.Path);
            if (decoded.Error is not null)
            {
                failed++;
                stderr.WriteLine($"{(progress.Elapsed > TimeSpan.Zero ? "\r" : "")}espnet: skipped {relative}: {decoded.Error}");
            }
            else
            {
                var labels = segmenter.Run(decoded.Input!, decoded.Image!);
                string maskPath = Target(job.Mask, decoded.Path, ".png");
                Directory.CreateDirectory(Path.GetDirectoryName(maskPath)!);
                using var mask = OutputFile.Begin(maskPath, "--out", true, (decoded.Path, "--image"));
                using var overlay = job.Overlay is null ? null : Begin(Target(job.Overlay, decoded.Path, ".png"), "--overlay", decoded.Path);
                using var logitsFile = job.Logits is null ? null : Begin(Target(job.Logits, decoded.Path, ".f32"), "--logits", decoded.Path);
                Write(job, segmenter, decoded.Image!, labels, mask, overlay, logitsFile);
                done++;
            }
            progress.Update(done + failed);
        }
        progress.Finish();
        double seconds = progress.Elapsed.TotalSeconds;
        stdout.WriteLine($"{request.Label}: {done} mask{(done == 1 ? "" : "s")} written to {job.Mask} in {seconds:F1} s ({done / Math.Max(seconds, 1e-9):F2} images/s, " +
                         $"{threadCount} thread{(threadCount == 1 ? "" : "s")})" +
                         (failed > 0 ? $"; {failed} picture{(failed == 1 ? "" : "s")} could not be read" : "") +
                         (notImages.Count > 0 ? $"; {notImages.Count} other file{(notImages.Count == 1 ? "" : "s")} skipped" : ""));
        return failed > 0 ? Program.Failure : Program.Success;
    }

    private static OutputFile Begin(string path, string option, string picture)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        return OutputFile.Begin(path, option, true, (picture, "--image"));
    }

    private static bool IsInside(string file, string? folder) =>
        folder is not null && Path.GetFullPath(file).StartsWith(Path.GetFullPath(folder).TrimEnd('/') + "/", StringComparison.Ordinal);

    private static bool SafeLooksLikeImage(string file)
    {
        try
        {
            return ImageFiles.LooksLikeImage(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static void Write(Job job, Segmenter segmenter, RgbImage image, byte[] labels, OutputFile mask, OutputFile? overlay, OutputFile? logits)
    {
        byte[] written = labels;
        if (job.LabelIds)
        {
            written = new byte[labels.Length];
            for (int i = 0; i < labels.Length; i++) written[i] = job.Labels.LabelId(labels[i]);
        }
        mask.Commit(stream => ImageFiles.WriteGray(stream, written, image.Width, image.Height));
        overlay?.Commit(stream => ImageFiles.WriteRgb(stream, SegmentationMaps.Overlay(image, labels, job.Labels)));
        var o = segmenter.Network.OutputShape;
        logits?.Commit(stream => TensorFile.Write(stream, segmenter.Logits, [1, o.Channels, o.Height, o.Width], TensorFile.IsNpy(job.Logits!)));
    }

    /// <summary>"38.1% road, 21.4% building, 12.0% vegetation, ...": the classes covering most of the picture.</summary>
    private static string Summary(byte[] labels, LabelSet set)
    {
        var counts = new long[256];
        foreach (byte l in labels) counts[l]++;
        var top = Enumerable.Range(0, 256).Where(c => counts[c] > 0).OrderByDescending(c => counts[c]).Take(5)
            .Select(c => $"{100.0 * counts[c] / labels.Length:F1}% {set.ClassName(c)}");
        return string.Join(", ", top);
    }
}

/// <summary>A loaded network turned into a labeller: forward, argmax at the output size, nearest resize to the picture's size.</summary>
internal sealed class Segmenter(ICompiledNetwork network, LabelSet labels)
{
    private readonly byte[] _outputLabels = new byte[network.OutputShape.Height * network.OutputShape.Width];

    public ICompiledNetwork Network { get; } = network;
    public LabelSet Labels { get; } = labels;
    public float[] Logits { get; } = new float[network.OutputShape.Elements];

    /// <summary>Class IDs at the picture's own size (the authors resize the label map back with nearest neighbour).</summary>
    public byte[] Run(float[] input, RgbImage image) => Run(input, image.Width, image.Height);

    /// <summary>Class IDs at a size of the caller's (a mask's, in `eval`).</summary>
    public byte[] Run(float[] input, int width, int height)
    {
        var o = Network.OutputShape;
        Network.Forward(input, Logits);
        SegmentationMaps.Argmax(Logits, o.Channels, _outputLabels);
        var labels = new byte[width * height];
        PilResize.Nearest(_outputLabels, o.Width, o.Height, labels, width, height);
        return labels;
    }
}
