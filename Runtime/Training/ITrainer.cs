using Espnet.Compiled.Weights;

namespace Espnet.Compiled.Training;

/// <summary>
/// A training loop's view of a trainer, on the CPU (<see cref="Trainer"/>) or the GPU (<see cref="Cuda.CudaTrainer"/>):
/// a step's gradients, an optimizer update, the optimizer's state for checkpoints (the same keys on both, so a run
/// can resume on the other device), and the trained weights brought into the network.
/// </summary>
public interface ITrainer
{
    /// <summary>Forward, per-pixel cross-entropy (class weights, <paramref name="ignore"/> left out), backward. Returns the loss.</summary>
    double ComputeGradients(ReadOnlySpan<float> input, ReadOnlySpan<byte> labels, ReadOnlySpan<float> classWeights = default, int ignore = 255);

    /// <summary>Forward, cross-entropy against one class per sample, backward. Returns the loss.</summary>
    double ComputeGradients(ReadOnlySpan<float> input, ReadOnlySpan<int> classes);

    /// <summary>Updates every trained parameter from the last gradients at learning rate <paramref name="lr"/>.</summary>
    void Step(double lr);

    /// <summary>A learning-rate multiplier per parameter (parameter groups).</summary>
    Func<ParameterInfo, double>? LearningRateScale { get; set; }

    /// <summary>The optimizer's state, one tensor per buffer per trained parameter ("key#0", "key#1"), and its step count.</summary>
    (List<(string Key, int[] Shape, float[] Values)> Tensors, int Steps) OptimizerState();

    /// <summary>Restores what <see cref="OptimizerState"/> saved; throws naming the first buffer that does not fit.</summary>
    void RestoreOptimizer(StateDict saved, int steps);

    /// <summary>Makes the network's parameter store hold the trained parameters (the GPU trainer copies them back; the CPU one trains in place).</summary>
    void SyncWeights();
}
