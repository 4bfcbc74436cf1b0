using Espnet.Compiled.Weights;

namespace Espnet.Compiled;

/// <summary>A network compiled by the generator for one fixed input shape and batch.</summary>
public interface ICompiledNetwork
{
    /// <summary>The declaring class's name.</summary>
    string Name { get; }
    int Batch { get; }
    /// <summary>Per-sample input shape (C, H, W).</summary>
    TensorShape InputShape { get; }
    /// <summary>Per-sample output shape (C, H, W).</summary>
    TensorShape OutputShape { get; }
    /// <summary>Learnable parameters, as the authors count them (BN running statistics excluded).</summary>
    long ParameterCount { get; }
    /// <summary>Multiply-accumulates of ordinary convolutions per sample (the authors' FLOP convention).</summary>
    long MacCount { get; }
    /// <summary>Floats in the intermediate-activation arena (one sample).</summary>
    int ArenaFloats { get; }
    IReadOnlyList<ParameterInfo> Parameters { get; }
    IReadOnlyList<LayerInfo> Layers { get; }

    /// <summary>Copies every tensor of a state_dict into the parameter store; throws <see cref="WeightLoadException"/>
    /// naming every missing, unexpected or mis-shaped key, and leaves the store untouched in that case.</summary>
    void LoadWeights(StateDict stateDict);

    /// <summary>Writes the network with its current weights as a static-shape ONNX model (opset 17).</summary>
    void ExportOnnx(Stream destination);

    /// <summary>Runs the network on <see cref="Batch"/> samples (NCHW float32). Allocates nothing.</summary>
    void Forward(ReadOnlySpan<float> input, Span<float> output, IActivationObserver? observer = null);
}

/// <summary>Sees every layer's output during a forward pass (debugging against reference intermediates).</summary>
public interface IActivationObserver
{
    void OnActivation(int sample, LayerInfo layer, ReadOnlySpan<float> values);

    /// <summary>
    /// Whether <see cref="OnActivation"/> looks at the values (false: a clock that only timestamps layers; a layer whose
    /// output the plan keeps in a blocked layout then passes an empty span instead of gathering it).
    /// </summary>
    bool ReadsValues => true;
}

public readonly record struct TensorShape(int Channels, int Height, int Width)
{
    public int Elements => Channels * Height * Width;
    public override string ToString() => $"{Channels}x{Height}x{Width}";
}

/// <summary>What a parameter slot holds; BN running statistics are state, not learnable parameters.</summary>
public enum ParameterRole { Weight, Bias, RunningMean, RunningVar }

/// <summary>One tensor of the parameter store: its state_dict key, offset in floats, and shape.</summary>
public sealed record ParameterInfo(string Key, int Offset, int[] Shape, ParameterRole Role)
{
    public int Elements
    {
        get { int n = 1; foreach (int d in Shape) n *= d; return n; }
    }
    public bool IsLearnable => Role is ParameterRole.Weight or ParameterRole.Bias;
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}

/// <summary>A layer as compiled: its name (state_dict prefix), kind, output shape and cost.</summary>
public sealed record LayerInfo(int Index, string Name, string Kind, string Description, TensorShape Output, long Parameters, long Macs);
