using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Espnet.Compiled.Cli.Training;
using Espnet.Compiled.Imaging;
using Espnet.Compiled.Training;
using Espnet.Compiled.Weights;
using Espnet.Compiled.Zoo;

namespace Espnet.Compiled.Cli;

/// <summary>
/// `espnet train`: the generated training pass over a labelled folder, with a recipe's optimizer, schedule,
/// class weights and augmentation; checkpoints (safetensors) that `espnet run --weights` takes, and a log.
/// </summary>
internal static class TrainCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var model = new ModelOptions();
        var data = new Option<string>("--data", "-d") { Description = "Training folder: Cityscapes layout (leftImg8bit/ + gtFine/) or images/ + masks/ (PNGs of train IDs, 255 = ignore)", Required = true };
        var output = new Option<string>("--out", "-o") { Description = "Folder for last.safetensors, best.safetensors and log.csv (created if missing)", Required = true };
        var epochs = new Option<int?>("--epochs") { Description = "Epochs (default: the recipe's)" };
        var batch = new Option<int?>("--batch") { Description = "Batch size, fixed in the compiled training pass (default: the recipe's)" };
        var recipe = new Option<string?>("--recipe") { Description = "espnet-cityscapes, edgenets-city, edgenets-pascal (default: the model family's)" };
        var lr = new Option<double?>("--lr") { Description = "Base learning rate (default: the recipe's)" };
        var weights = new Option<string?>("--weights", "-w") { Description = "Start from these weights (.pth, safetensors, or 'builtin'); layers whose shape differs (another class count) are re-initialised" };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --out (weights, optimizer state, epoch)" };
        var val = new Option<string?>("--val") { Description = "Validation folder (same layouts): mIoU after each epoch; best.safetensors keeps the best" };
        var flip = new Option<string>("--flip") { Description = "Random mirroring: horizontal (default), vertical (what ESPNet's scripts do), none", DefaultValueFactory = _ => "horizontal" };
        var freeze = new Option<bool>("--freeze-bn") { Description = "BatchNorm on its running statistics, not updated (EdgeNets' second stage)" };
        var ignoreUnknown = new Option<bool>("--ignore-unknown-labels") { Description = "Treat mask values outside the classes as 255 (ignore) instead of stopping" };
        var seed = new Option<int>("--seed") { Description = "Seed of initialisation, shuffling and augmentation (default 1882, the authors')", DefaultValueFactory = _ => 1882 };
        var threads = ThreadsOption.Create();
        var device = new Option<string>("--device") { Description = "cpu, or cuda (the generated CUDA training kernels, compiled for the GPU present by NVRTC)", DefaultValueFactory = _ => "cpu" };
        flip.AcceptOnlyFromAmong("horizontal", "vertical", "none");
        device.AcceptOnlyFromAmong("cpu", "cuda");

        var command = new Command("train", "Train (or fine-tune) a segmentation model on a labelled folder.");
        model.AddTo(command);
        foreach (var option in new Option[] { data, output, epochs, batch, recipe, lr, weights, resume, val, flip, freeze, ignoreUnknown, seed, threads, device })
            command.Options.Add(option);
        command.SetAction(parsed => Program.Guard(stderr, () =>
        {
            bool cuda = parsed.GetValue(device) == "cuda";
            if (cuda && parsed.GetValue(freeze)) throw new UsageException("--freeze-bn trains on the CPU only so far; leave it out or use --device cpu");
            if (cuda) _ = Cuda.CudaDevice.Default;   // no driver: said before any work
            int threadCount = ThreadsOption.Apply(parsed, threads, stderr);
            var single = model.Request(parsed);
            if (single.IsClassifier()) throw new UsageException($"{single.Name} is an image classifier: espnet train trains segmentation models (ImageNet training is not built yet)");
            var r = Recipe.For(parsed.GetValue(recipe), single);
            int b = parsed.GetValue(batch) ?? r.Batch, e = parsed.GetValue(epochs) ?? r.Epochs;
            if (b < 1) throw new UsageException($"--batch must be 1 or more (got {b})");
            if (e < 1) throw new UsageException($"--epochs must be 1 or more (got {e})");
            double baseLr = parsed.GetValue(lr) ?? r.Lr;
            if (!(baseLr > 0)) throw new UsageException($"--lr must be positive (got {baseLr})");
            var request = single with { Batch = b };
            var run = new Run(request, r, e, baseLr, CommandInputs.Named(parsed.GetValue(output), "--out"), parsed.GetValue(seed), stdout, stderr);
            return run.Execute(CommandInputs.Named(parsed.GetValue(data), "--data"), parsed.GetValue(val), parsed.GetValue(weights), parsed.GetValue(resume),
                Enum.Parse<FlipKind>(parsed.GetValue(flip)!, ignoreCase: true), parsed.GetValue(freeze), parsed.GetValue(ignoreUnknown), threadCount, cuda);
        }));
        return command;
    }

    private sealed class Run(ModelRequest request, Recipe recipe, int epochs, double baseLr, string outDir, int seed, TextWriter stdout, TextWriter stderr)
    {
        private string Last => Path.Combine(outDir, "last.safetensors");
        private string LastOptimizer => Path.Combine(outDir, "last.optimizer.safetensors");
        private string Best => Path.Combine(outDir, "best.safetensors");
        private string Log => Path.Combine(outDir, "log.csv");

        public int Execute(string dataDir, string? valDir, string? weightsPath, bool resume, FlipKind flip, bool freeze, bool ignoreUnknown, int threads, bool cuda)
        {
            if (File.Exists(outDir)) throw new UsageException($"--out {outDir} is a file: give a folder");
            if (!resume && (File.Exists(Last) || File.Exists(Log)))
                throw new UsageException($"--out {outDir} holds a training run (last.safetensors, log.csv): pass --resume to continue it, or give another folder");
            if (resume && !File.Exists(Last)) throw new UsageException($"--resume: {Last} does not exist; start without --resume");
            if (resume && weightsPath is not null) throw new UsageException("--resume continues from --out's last.safetensors: leave out --weights");
            if (weightsPath is not null && weightsPath != BuiltinData.Weights) CommandInputs.CheckReadable(weightsPath, "--weights");

            var (layout, pairs, unmatched) = SegmentationFolders.Find(dataDir);
            if (unmatched.Count > 0)
                throw new InvalidDataException($"{unmatched.Count} picture{(unmatched.Count == 1 ? " has" : "s have")} no mask in --data {dataDir} ({layout}), e.g. {Path.GetFileName(unmatched[0])}; every training picture needs one");
            if (pairs.Count == 0) throw new CommandException($"--data {dataDir} ({layout}) holds no pictures");
            List<LabelledPicture>? valPairs = null;
            if (valDir is not null)
            {
                var (_, vp, vu) = SegmentationFolders.Find(valDir);
                if (vp.Count == 0) throw new CommandException($"--val {valDir} holds no picture with a mask");
                if (vu.Count > 0) stderr.WriteLine($"espnet: note: {vu.Count} validation pictures without a mask are left out");
                valPairs = vp;
            }
            Directory.CreateDirectory(outDir);

            var (resolved, _) = ModelOptions.Resolve(request, stderr);
            var network = (CompiledNetwork)resolved;
            int firstEpoch = 0;
            double bestScore = double.NegativeInfinity;
            Initialization.PyTorchDefaults(network, seed);
            if (resume) (firstEpoch, bestScore) = ResumeWeights(network);
            else if (weightsPath is not null) FineTuneFrom(network, weightsPath);
            // The GPU trainer takes the weights as they are now: made after they are loaded.
            using var gpu = cuda ? new Cuda.CudaTrainer(network, recipe.MakeCudaOptimizer(recipe.WeightDecay)) : null;
            ITrainer trainer = gpu ?? (ITrainer)new Trainer(network, recipe.MakeOptimizer(recipe.WeightDecay)) { FreezeBatchNorm = freeze };
            if (recipe.DecoderLrScale != 1) trainer.LearningRateScale = p => p.Key.StartsWith("base_net.", StringComparison.Ordinal) ? 1 : recipe.DecoderLrScale;
            if (resume) ResumeOptimizer(trainer);
            if (firstEpoch >= epochs)
            {
                stdout.WriteLine($"{request.Label}: {outDir} already holds {firstEpoch} epochs; nothing to do (raise --epochs)");
                return Program.Success;
            }

            var o = network.OutputShape;
            var labels = request.Labels();
            float[] classWeights = ClassWeightsFor(pairs, request.Classes);
            var batches = new SegmentationBatches(pairs, request.Recipe(), request.Batch, request.Height, request.Width, o.Height, o.Width, request.Classes,
                recipe.ScaleLow, recipe.ScaleHigh, flip, ignoreUnknown, seed);
            stdout.WriteLine($"{request.Label}: training on {pairs.Count} pictures ({layout}), recipe {recipe.Name} ({recipe.Optimizer}, lr {baseLr.ToString(CultureInfo.InvariantCulture)}, " +
                             $"{recipe.Schedule} schedule), epochs {firstEpoch + 1}-{epochs}, {batches.BatchesPerEpoch} steps each, " +
                             (gpu is not null ? $"cuda: {gpu.DeviceName}" : $"{threads} thread{(threads == 1 ? "" : "s")}"));
            for (int epoch = firstEpoch; epoch < epochs; epoch++)
            {
                double epochLr = recipe.LearningRate(epoch, baseLr, epochs), lossSum = 0;
                int steps = 0;
                var progress = new Progress(stderr, batches.BatchesPerEpoch, "steps");
                var clock = Stopwatch.StartNew();
                foreach (var batch in batches.Epoch(epoch))
                {
                    double loss = trainer.ComputeGradients(batch.Inputs, batch.Labels, classWeights);
                    if (!double.IsFinite(loss))
                        throw new CommandException($"epoch {epoch + 1}, step {steps + 1}: the loss is {loss}; lower --lr (now {epochLr.ToString(CultureInfo.InvariantCulture)})");
                    trainer.Step(epochLr);
                    lossSum += loss;
                    steps++;
                    progress.Suffix = string.Create(CultureInfo.InvariantCulture,
                        $"  epoch {epoch + 1}/{epochs}  loss {lossSum / steps:F4}  lr {epochLr:G4}  {steps * request.Batch / clock.Elapsed.TotalSeconds:F1} images/s");
                    progress.Update(steps);
                }
                progress.Finish();
                trainer.SyncWeights();   // validation and checkpoints read the network's store
                double meanLoss = lossSum / steps, rate = steps * request.Batch / clock.Elapsed.TotalSeconds;
                double? miou = valPairs is null ? null : Validate(network, valPairs, labels);
                double score = miou ?? -meanLoss;
                bool best = score > bestScore;
                if (best) bestScore = score;
                SaveCheckpoint(network, trainer, epoch + 1, meanLoss, miou, bestScore, best);
                AppendLog(epoch + 1, meanLoss, epochLr, miou);
                stdout.WriteLine($"epoch {epoch + 1}/{epochs}: loss {meanLoss:F4}, lr {epochLr.ToString("G6", CultureInfo.InvariantCulture)}, {rate:F1} images/s" +
                                 (miou is double m ? $", val mIoU {100 * m:F2}%" : "") + (best ? " (best)" : ""));
            }
            stdout.WriteLine($"checkpoints: {Last}, {Best}; log: {Log}");
            return Program.Success;
        }

        private float[] ClassWeightsFor(List<LabelledPicture> pairs, int classes)
        {
            switch (recipe.Weighting)
            {
                case WeightingKind.EspNetFromData:
                    return ClassWeights.EspNet(pairs.Select(p => LabelPng.Read(p.Mask).Values.Select(v => v < classes ? v : (byte)0).ToArray()), classes);
                case WeightingKind.EdgeNetsCityscapes when classes == ClassWeights.EdgeNetsCityscapes.Count:
                    return [.. ClassWeights.EdgeNetsCityscapes];
                case WeightingKind.EdgeNetsCityscapes:
                    stderr.WriteLine($"espnet: note: EdgeNets' Cityscapes class weights are for 20 classes; training {classes} classes unweighted");
                    return [];
                default:
                    return [];
            }
        }

        /// <summary>Fine-tuning: every tensor of the file whose key and shape fit; those whose shape differs are re-initialised (said on stderr).</summary>
        private void FineTuneFrom(CompiledNetwork network, string weightsPath)
        {
            var file = weightsPath == BuiltinData.Weights ? BuiltinData.ReadWeights(request with { Batch = 1, Classes = request.DefaultClasses }) : PthReader.Read(weightsPath, WeightBudget.For(network));
            var merged = new StateDict();
            var reset = new List<string>();
            foreach (var p in network.Parameters)
            {
                if (file.TryGet(p.Key, out var t) && !t.Shape.SequenceEqual(p.Shape))
                {
                    reset.Add(p.Key);
                    merged.Add(p.Key, new StoredTensor(p.Shape, StoredDType.Float32, network.Store.Slice(p.Offset, p.Elements).ToArray()));
                }
                else if (t is not null) merged.Add(p.Key, t);
            }
            foreach (string key in file.Keys)
                if (!merged.TryGet(key, out _) && !key.EndsWith("num_batches_tracked", StringComparison.Ordinal)) merged.Add(key, file[key]);
            network.LoadWeights(merged);       // missing or foreign keys: the loader's own error names them
            if (reset.Count > 0)
                stderr.WriteLine($"espnet: {reset.Count} tensor{(reset.Count == 1 ? "" : "s")} of {Path.GetFileName(weightsPath)} do not fit {request.Classes} classes and were re-initialised: {string.Join(", ", reset.Take(6))}{(reset.Count > 6 ? ", ..." : "")}");
        }

        private (int Epoch, double Best) ResumeWeights(CompiledNetwork network)
        {
            using var stream = File.OpenRead(Last);
            var (tensors, metadata) = SafeTensors.Read(stream, WeightBudget.For(network));
            string declaration = ModelCatalog.Declaration(request with { Batch = 1 });
            if (metadata.GetValueOrDefault("declaration") != declaration)
                throw new WeightLoadException($"{Last} was trained as {metadata.GetValueOrDefault("model", "another model")} ({metadata.GetValueOrDefault("declaration", "?")}), not {request.Label}");
            network.LoadWeights(tensors);
            int epoch = int.Parse(metadata["epoch"], CultureInfo.InvariantCulture);
            double best = double.Parse(metadata.GetValueOrDefault("best", "-Infinity"), CultureInfo.InvariantCulture);
            stderr.WriteLine($"espnet: resuming {request.Name} after epoch {epoch}");
            return (epoch, best);
        }

        private void ResumeOptimizer(ITrainer trainer)
        {
            if (File.Exists(LastOptimizer))
            {
                using var o = File.OpenRead(LastOptimizer);
                var (state, meta) = SafeTensors.Read(o);
                trainer.RestoreOptimizer(state, int.Parse(meta.GetValueOrDefault("steps", "0"), CultureInfo.InvariantCulture));
            }
            else stderr.WriteLine($"espnet: note: {LastOptimizer} is missing; the optimizer starts afresh");
        }

        private void SaveCheckpoint(CompiledNetwork network, ITrainer trainer, int epoch, double loss, double? miou, double best, bool isBest)
        {
            var metadata = new Dictionary<string, string>
            {
                ["model"] = request.Name,
                ["declaration"] = ModelCatalog.Declaration(request with { Batch = 1 }),
                ["epoch"] = epoch.ToString(CultureInfo.InvariantCulture),
                ["loss"] = loss.ToString("R", CultureInfo.InvariantCulture),
                ["best"] = best.ToString("R", CultureInfo.InvariantCulture),
                ["recipe"] = recipe.Name,
            };
            if (miou is double m) metadata["miou"] = m.ToString("R", CultureInfo.InvariantCulture);
            var tensors = network.Parameters.Select(p => (p.Key, p.Shape, network.Store.Slice(p.Offset, p.Elements).ToArray())).ToList();
            // Weights first, then the optimizer: a crash between the two leaves a model that loads and a note on resume.
            using (var file = OutputFile.Begin(Last, "--out", true)) file.Commit(s => SafeTensors.Write(s, tensors, metadata));
            var (state, steps) = trainer.OptimizerState();
            using (var file = OutputFile.Begin(LastOptimizer, "--out", true))
                file.Commit(s => SafeTensors.Write(s, state, new Dictionary<string, string> { ["steps"] = steps.ToString(CultureInfo.InvariantCulture) }));
            if (isBest)
                using (var file = OutputFile.Begin(Best, "--out", true)) file.Commit(s => SafeTensors.Write(s, tensors, metadata));
        }

        private void AppendLog(int epoch, double loss, double lr, double? miou)
        {
            bool header = !File.Exists(Log);
            using var writer = new StreamWriter(Log, append: true);
            if (header) writer.WriteLine("epoch,loss,lr,miou");
            writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{epoch},{loss:R},{lr:R},{(miou is double m ? m.ToString("R", CultureInfo.InvariantCulture) : "")}"));
        }

        /// <summary>mIoU of the inference path on the validation pictures (eval's counting), batch by batch.</summary>
        private double Validate(CompiledNetwork network, List<LabelledPicture> pairs, LabelSet labels)
        {
            int n = network.Batch, size = network.InputShape.Elements;
            var o = network.OutputShape;
            var inputs = new float[n * size];
            var logits = new float[n * o.Elements];
            var confusion = new Confusion(request.Classes);
            var small = new byte[o.Height * o.Width];
            for (int start = 0; start < pairs.Count; start += n)
            {
                var group = pairs.Skip(start).Take(n).ToList();
                for (int s = 0; s < n; s++)
                    Preprocessing.Write(request.Recipe(), ImageFiles.Read(group[Math.Min(s, group.Count - 1)].Image), request.Height, request.Width, inputs.AsSpan(s * size, size));
                network.Forward(inputs, logits);
                for (int s = 0; s < group.Count; s++)
                {
                    var (w, h, truth) = LabelPng.Read(group[s].Mask);
                    SegmentationMaps.Argmax(logits.AsSpan(s * o.Elements, o.Elements), o.Channels, small);
                    var predicted = new byte[w * h];
                    PilResize.Nearest(small, o.Width, o.Height, predicted, w, h);
                    confusion.Add(truth, predicted, Path.GetFileName(group[s].Mask));
                }
            }
            var iou = confusion.IoU();
            var scored = Enumerable.Range(0, request.Classes).Where(c => c != labels.VoidClass && !double.IsNaN(iou[c])).ToList();
            return scored.Count == 0 ? 0 : scored.Average(c => iou[c]);
        }
    }
}
