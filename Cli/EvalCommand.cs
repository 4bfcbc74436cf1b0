using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Espnet.Compiled.Imaging;
using Espnet.Compiled.Zoo;

namespace Espnet.Compiled.Cli;

/// <summary>
/// `espnet eval`: mean IoU over a labelled folder, as the Cityscapes benchmark counts it: one confusion matrix over
/// every labelled pixel of every mask at the mask's own size (the prediction resized to it by nearest neighbour),
/// 255 ignored, IoU = TP / (TP + FP + FN) per class, the mean over classes that occur (in the masks or the
/// predictions), the model's void class (ESPNet's Cityscapes "background") left out of the mean.
/// </summary>
internal static class EvalCommand
{
    public const byte Ignore = 255;

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var model = new ModelOptions();
        var weights = new Option<string>("--weights", "-w") { Description = "Weights: the authors' .pth, or 'builtin' (ESPNet p2q3 Cityscapes, embedded)", Required = true };
        var data = new Option<string>("--data", "-d") { Description = "A Cityscapes folder (leftImg8bit/ + gtFine/) or images/ + masks/ (PNGs of train IDs, 255 = ignore)", Required = true };
        var json = new Option<bool>("--json") { Description = "Also print one JSON object on the last line" };
        var threads = ThreadsOption.Create();
        var command = new Command("eval", "Measure mIoU on a labelled folder (the Cityscapes benchmark's counting).");
        model.AddTo(command);
        foreach (var option in new Option[] { weights, data, json, threads }) command.Options.Add(option);
        command.SetAction(parsed => Program.Guard(stderr, () =>
        {
            int threadCount = ThreadsOption.Apply(parsed, threads, stderr);
            var request = model.Request(parsed);
            if (request.IsClassifier()) throw new UsageException($"{request.Name} is an image classifier: eval measures segmentation models");
            string folder = CommandInputs.Named(parsed.GetValue(data), "--data"), weightsPath = CommandInputs.Named(parsed.GetValue(weights), "--weights");
            if (weightsPath != BuiltinData.Weights) CommandInputs.CheckReadable(weightsPath, "--weights");
            var (layout, pairs, unmatched) = SegmentationFolders.Find(folder);
            if (pairs.Count == 0)
                throw new CommandException($"--data {folder} ({layout}) holds no picture with a mask" + (unmatched.Count > 0 ? $": {unmatched.Count} pictures have none" : ""));
            if (unmatched.Count > 0) stderr.WriteLine($"espnet: note: {unmatched.Count} picture{(unmatched.Count == 1 ? "" : "s")} without a mask skipped (e.g. {Path.GetFileName(unmatched[0])})");

            var (network, _) = ModelOptions.Resolve(request, stderr);
            CommandInputs.LoadNamedWeights(network, request, weightsPath);
            var labels = request.Labels();
            var segmenter = new Segmenter(network, labels);
            var confusion = new Confusion(request.Classes);
            var progress = new Progress(stderr, pairs.Count, "images");
            var masks = pairs.ToDictionary(p => p.Image, p => p.Mask);
            int done = 0;
            foreach (var decoded in ImagePipeline.DecodeAhead([.. pairs.Select(p => p.Image)], request.Recipe(), request.Height, request.Width))
            {
                if (decoded.Error is not null) throw new InvalidDataException(decoded.Error);   // a score over some of the pictures would mislead
                string maskPath = masks[decoded.Path];
                var (w, h, truth) = LabelPng.Read(maskPath);
                var predicted = segmenter.Run(decoded.Input!, w, h);
                confusion.Add(truth, predicted, Path.GetFileName(maskPath));
                progress.Update(++done);
            }
            progress.Finish();

            var iou = confusion.IoU();
            var evaluated = Enumerable.Range(0, request.Classes).Where(c => c != labels.VoidClass && !double.IsNaN(iou[c])).ToList();
            double mean = evaluated.Count == 0 ? double.NaN : evaluated.Average(c => iou[c]);
            double accuracy = confusion.PixelAccuracy();
            stdout.WriteLine($"{request.Label} on {folder} ({layout}): {pairs.Count} picture{(pairs.Count == 1 ? "" : "s")}, {confusion.Labelled:N0} labelled pixels " +
                             $"({progress.Elapsed.TotalSeconds:F1} s, {threadCount} thread{(threadCount == 1 ? "" : "s")})");
            stdout.WriteLine($"  {"class",-16} {"IoU %",7}");
            for (int c = 0; c < request.Classes; c++)
            {
                string value = c == labels.VoidClass ? "(void)" : double.IsNaN(iou[c]) ? "-" : (100 * iou[c]).ToString("F2", CultureInfo.InvariantCulture);
                stdout.WriteLine($"  {labels.ClassName(c),-16} {value,7}");
            }
            stdout.WriteLine($"  mIoU {100 * mean:F2} over {evaluated.Count} classes; pixel accuracy {100 * accuracy:F2}%");
            if (parsed.GetValue(json))
            {
                var report = new Dictionary<string, object?>
                {
                    ["model"] = request.Name,
                    ["height"] = request.Height,
                    ["width"] = request.Width,
                    ["layout"] = layout,
                    ["images"] = pairs.Count,
                    ["labelled_pixels"] = confusion.Labelled,
                    ["miou"] = double.IsNaN(mean) ? null : mean,
                    ["pixel_accuracy"] = accuracy,
                    ["classes"] = Enumerable.Range(0, request.Classes).Select(c => new Dictionary<string, object?>
                    {
                        ["id"] = c,
                        ["name"] = labels.ClassName(c),
                        ["iou"] = double.IsNaN(iou[c]) ? null : iou[c],
                        ["void"] = c == labels.VoidClass,
                    }).ToList(),
                };
                stdout.WriteLine(JsonSerializer.Serialize(report));
            }
            return Program.Success;
        }));
        return command;
    }
}

/// <summary>A confusion matrix over labelled pixels (rows: truth, columns: prediction).</summary>
internal sealed class Confusion(int classes)
{
    private readonly long[] _counts = new long[classes * classes];

    public long Labelled { get; private set; }

    public void Add(ReadOnlySpan<byte> truth, ReadOnlySpan<byte> predicted, string mask)
    {
        for (int i = 0; i < truth.Length; i++)
        {
            int t = truth[i];
            if (t == EvalCommand.Ignore) continue;
            if (t >= classes)
                throw new InvalidDataException($"{mask} holds class {t}, outside 0..{classes - 1} (255 = ignore): masks hold train IDs " +
                                               "(Cityscapes: *_labelTrainIds.png, not *_labelIds.png)");
            _counts[t * classes + predicted[i]]++;
            Labelled++;
        }
    }

    public long this[int truth, int predicted] => _counts[truth * classes + predicted];

    /// <summary>Per class TP / (TP + FP + FN); NaN for a class neither labelled nor predicted.</summary>
    public double[] IoU()
    {
        var iou = new double[classes];
        for (int c = 0; c < classes; c++)
        {
            long tp = this[c, c], fp = 0, fn = 0;
            for (int o = 0; o < classes; o++)
            {
                if (o == c) continue;
                fp += this[o, c];
                fn += this[c, o];
            }
            iou[c] = tp + fp + fn == 0 ? double.NaN : (double)tp / (tp + fp + fn);
        }
        return iou;
    }

    public double PixelAccuracy()
    {
        long correct = 0;
        for (int c = 0; c < classes; c++) correct += this[c, c];
        return Labelled == 0 ? double.NaN : (double)correct / Labelled;
    }
}
