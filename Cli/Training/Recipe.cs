using Espnet.Compiled.Training;
using Espnet.Compiled.Zoo;

namespace Espnet.Compiled.Cli.Training;

/// <summary>Which optimizer a recipe uses.</summary>
internal enum OptimizerKind { Adam, Sgd }

/// <summary>How the class weights of the loss are found.</summary>
internal enum WeightingKind { None, EspNetFromData, EdgeNetsCityscapes }

/// <summary>
/// A training recipe: the authors' defaults for a family and dataset (docs/training.md), each overridable on the
/// command line. Scale ranges are relative to the scale that fits the picture to the network's size.
/// </summary>
internal sealed record Recipe(
    string Name, OptimizerKind Optimizer, double Lr, double WeightDecay, double Momentum, int Epochs, int Batch,
    string Schedule, WeightingKind Weighting, double ScaleLow, double ScaleHigh, double DecoderLrScale)
{
    public static readonly IReadOnlyList<string> Names = ["espnet-cityscapes", "edgenets-city", "edgenets-pascal", "espnetv2-imagenet"];

    public static Recipe For(string? name, ModelRequest model) => (name ?? Default(model)) switch
    {
        // ESPNet v1: Adam 5e-4, weight decay 5e-4, lr halved every 100 of 300 epochs, ENet-style class weights from the data.
        "espnet-cityscapes" => new("espnet-cityscapes", OptimizerKind.Adam, 5e-4, 5e-4, 0, 300, model.Family == ModelFamily.EspNetC ? 12 : 6,
            "step", WeightingKind.EspNetFromData, 0.75, 1.5, 1),
        // EdgeNets: SGD momentum 0.9, weight decay 4e-5, hybrid cyclic-then-linear schedule from 0.009, decoder at 10x.
        "edgenets-city" => new("edgenets-city", OptimizerKind.Sgd, 0.009, 4e-5, 0.9, 100, 25, "hybrid", WeightingKind.EdgeNetsCityscapes, 1.0, 2.0, 10),
        "edgenets-pascal" => new("edgenets-pascal", OptimizerKind.Sgd, 0.009, 4e-5, 0.9, 100, 40, "hybrid", WeightingKind.None, 0.5, 2.0, 10),
        "espnetv2-imagenet" => throw new UsageException("--recipe espnetv2-imagenet trains the classifiers on ImageNet folders, which espnet train does not read yet; train segmentation models"),
        var other => throw new UsageException($"unknown --recipe '{other}'; recipes: {string.Join(", ", Names)}"),
    };

    private static string Default(ModelRequest model) => model.Family switch
    {
        ModelFamily.EspNetV2 => "espnetv2-imagenet",
        ModelFamily.EspNetV2Segmentation when model.Head == EspNetV2Head.EdgeNets =>
            model.Dataset == SegmentationDataset.Pascal ? "edgenets-pascal" : "edgenets-city",
        _ => "espnet-cityscapes",
    };

    /// <summary>The learning rate of an epoch (0-based) under this recipe's schedule, from <paramref name="lr"/>.</summary>
    public double LearningRate(int epoch, double lr, int epochs) => Schedule switch
    {
        "step" => LearningRates.Step(epoch, lr, 100, 0.5),
        "hybrid" => LearningRates.Hybrid(epoch, lr, Math.Max(1, (int)Math.Round(0.61 * epochs)), epochs),
        _ => lr,
    };

    /// <summary>The same update rule for the GPU trainer.</summary>
    public Cuda.CudaOptimizer MakeCudaOptimizer(double weightDecay) => Optimizer == OptimizerKind.Adam
        ? Cuda.CudaOptimizer.Adam(weightDecay: weightDecay)
        : Cuda.CudaOptimizer.Sgd(Momentum, weightDecay: weightDecay);

    public Func<int, IParameterUpdate> MakeOptimizer(double weightDecay) => Optimizer == OptimizerKind.Adam
        ? n => new Adam(n, weightDecay: weightDecay)
        : n => new Sgd(n, momentum: Momentum, weightDecay: weightDecay);
}
