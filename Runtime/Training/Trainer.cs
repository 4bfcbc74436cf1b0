using System.Runtime.CompilerServices;
using Espnet.Compiled.Cpu;

namespace Espnet.Compiled.Training;

/// <summary>
/// Trains a compiled network: one step is the generated forward pass over the batch, the loss, the generated
/// backward pass, and an optimizer update of every parameter the network reads (each with its own optimizer
/// state, as PyTorch keeps per-parameter state; BatchNorm running statistics are updated by the forward pass,
/// not the optimizer). After a step the network's inference path uses the new weights.
/// </summary>
public sealed class Trainer : ITrainer
{
    private readonly CompiledNetwork _network;
    private readonly (int Offset, int Length)[] _trained;
    private readonly ParameterInfo[] _trainedInfo;
    private readonly Func<int, IParameterUpdate>? _make;
    private IParameterUpdate[]? _updates;

    /// <param name="optimizer">One update rule per trained parameter tensor, given its length (e.g. <c>n => new Sgd(n, 0.9)</c>).</param>
    public Trainer(CompiledNetwork network, Func<int, IParameterUpdate>? optimizer = null)
    {
        _network = network;
        if (network.TrainingArenaFloats <= 0) network.TrainForward(null!, default);   // throws the network's own reason
        Context = new TrainingContext(network.Batch, network.TrainingArenaFloats, network.Store.Length);
        _trainedInfo = TrainedParameters(network);
        _trained = [.. _trainedInfo.Select(p => (p.Offset, p.Elements))];
        _make = optimizer;
    }

    public TrainingContext Context { get; }

    /// <summary>The parameter tensors an optimizer updates, in store order: the learnable ones the graph reads (one nothing reads gets no update, as in PyTorch).</summary>
    public static ParameterInfo[] TrainedParameters(CompiledNetwork network)
    {
        var byOffset = network.Parameters.Where(p => p.IsLearnable).ToDictionary(p => p.Offset);
        var trained = new List<ParameterInfo>();
        foreach (int offset in network.TrainedParameters)
            if (byOffset.TryGetValue(offset, out var info)) trained.Add(info);
        return [.. trained];
    }

    /// <summary>BatchNorm with the running statistics, not updated (EdgeNets' second stage).</summary>
    public bool FreezeBatchNorm
    {
        get => Context.FreezeBatchNorm;
        set => Context.FreezeBatchNorm = value;
    }

    /// <summary>The logits of the last forward pass, batch-wide (N x classes x H x W).</summary>
    public ReadOnlySpan<float> Logits => Context.Arena.Slice(_network.TrainingOutputOffset, _network.Batch * _network.OutputShape.Elements);

    /// <summary>d loss / d parameter of the last pass, at the parameter store's offsets.</summary>
    public ReadOnlySpan<float> ParameterGradients => Context.ParameterGradients;

    /// <summary>
    /// Forward, per-pixel cross-entropy against <paramref name="labels"/> (N x H x W class IDs at the output's size;
    /// <paramref name="ignore"/> left out; optional class weights), backward. Returns the loss; the gradients are in
    /// <see cref="ParameterGradients"/>. The parameters do not change.
    /// </summary>
    public double ComputeGradients(ReadOnlySpan<float> input, ReadOnlySpan<byte> labels, ReadOnlySpan<float> classWeights = default, int ignore = 255)
    {
        var o = _network.OutputShape;
        int n = _network.Batch;
        if (input.Length != n * _network.InputShape.Elements)
            throw new ArgumentException($"{_network.Name} trains on batches of {n}x{_network.InputShape} = {n * _network.InputShape.Elements} floats, not {input.Length}");
        if (labels.Length != n * o.Height * o.Width)
            throw new ArgumentException($"{_network.Name} needs {n}x{o.Height}x{o.Width} labels (the output's size), not {labels.Length}");
        Array.Clear(Context.ParameterGradients);
        _network.TrainForward(Context, input);
        var arena = Context.Arena;
        double loss = Cpu.Fast.FastTraining.CrossEntropy(arena.Slice(_network.TrainingOutputOffset, n * o.Elements), labels, n, o.Channels, o.Height * o.Width,
            classWeights, ignore, arena.Slice(_network.TrainingOutputGradientOffset, n * o.Elements));
        _network.TrainBackward(Context);
        return loss;
    }

    /// <summary>Forward, cross-entropy against one class ID per sample (image classification), backward. Returns the loss.</summary>
    public double ComputeGradients(ReadOnlySpan<float> input, ReadOnlySpan<int> classes)
    {
        var o = _network.OutputShape;
        int n = _network.Batch;
        if (input.Length != n * _network.InputShape.Elements)
            throw new ArgumentException($"{_network.Name} trains on batches of {n}x{_network.InputShape} = {n * _network.InputShape.Elements} floats, not {input.Length}");
        if (o.Height * o.Width != 1 || classes.Length != n)
            throw new ArgumentException($"{_network.Name} gives {o} per sample: one class per sample needs a 1x1 output and {n} targets");
        Array.Clear(Context.ParameterGradients);
        _network.TrainForward(Context, input);
        var arena = Context.Arena;
        double loss = Cpu.Fast.FastTraining.CrossEntropy(arena.Slice(_network.TrainingOutputOffset, n * o.Elements), classes, n, o.Channels, 1,
            default, -1, arena.Slice(_network.TrainingOutputGradientOffset, n * o.Elements));
        _network.TrainBackward(Context);
        return loss;
    }

    /// <summary>A learning-rate multiplier per parameter (parameter groups: EdgeNets trains its decoder at 10x).</summary>
    public Func<ParameterInfo, double>? LearningRateScale { get; set; }

    /// <summary>Updates every trained parameter from the gradients of the last <see cref="ComputeGradients"/>, at learning rate <paramref name="lr"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Step(double lr)
    {
        var updates = Updates();
        for (int i = 0; i < _trained.Length; i++)
        {
            var (offset, length) = _trained[i];
            double scale = LearningRateScale?.Invoke(_trainedInfo[i]) ?? 1;
            updates[i].Step(_network.Mutable(offset, length), Context.ParameterGradients.AsSpan(offset, length), lr * scale);
        }
        _network.ParametersChanged();
    }

    private IParameterUpdate[] Updates() => _updates ?? CreateUpdates();

    // Apart from Updates: a lambda capturing a local makes its closure on every call of the method that declares it.
    private IParameterUpdate[] CreateUpdates()
    {
        var make = _make ?? throw new InvalidOperationException("this trainer was made without an optimizer");
        return _updates = [.. _trained.Select(t => make(t.Length))];
    }

    /// <summary>The CPU trainer trains the network's store in place: nothing to copy.</summary>
    public void SyncWeights()
    {
    }

    /// <summary>The optimizer's state, one tensor per buffer per trained parameter ("key#0", "key#1"), and its step count.</summary>
    public (List<(string Key, int[] Shape, float[] Values)> Tensors, int Steps) OptimizerState()
    {
        var updates = Updates();
        var keys = _network.Parameters.ToDictionary(p => p.Offset, p => p.Key);
        var tensors = new List<(string, int[], float[])>();
        for (int i = 0; i < _trained.Length; i++)
            for (int b = 0; b < updates[i].State.Count; b++)
                tensors.Add(($"{keys[_trained[i].Offset]}#{b}", [_trained[i].Length], updates[i].State[b]));
        return (tensors, updates.Length == 0 ? 0 : updates[0].Steps);
    }

    /// <summary>Restores what <see cref="OptimizerState"/> saved; throws naming the first buffer that does not fit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void RestoreOptimizer(Weights.StateDict saved, int steps)
    {
        var updates = Updates();
        var keys = _network.Parameters.ToDictionary(p => p.Offset, p => p.Key);
        for (int i = 0; i < _trained.Length; i++)
        {
            for (int b = 0; b < updates[i].State.Count; b++)
            {
                string key = $"{keys[_trained[i].Offset]}#{b}";
                if (!saved.TryGet(key, out var tensor) || tensor.Values.Length != updates[i].State[b].Length)
                    throw new Weights.WeightLoadException($"the optimizer state has no buffer {key} of {updates[i].State[b].Length} values: it was saved by another model or optimizer");
                tensor.Values.CopyTo(updates[i].State[b], 0);
            }
            updates[i].Steps = steps;
        }
    }
}

/// <summary>An optimizer's update of one parameter tensor (its state is its own).</summary>
public interface IParameterUpdate
{
    void Step(Span<float> parameter, ReadOnlySpan<float> gradient, double lr);

    /// <summary>The buffers the update keeps between steps (momentum; Adam's moments), for checkpoints.</summary>
    IReadOnlyList<float[]> State { get; }

    /// <summary>Steps taken (Adam's bias correction; whether SGD's momentum buffer has started).</summary>
    int Steps { get; set; }
}
