using Espnet.Compiled.Generator.Model;

namespace Espnet.Compiled.Generator.Shape;

/// <summary>Channels, height and width of one sample's tensor.</summary>
public readonly record struct Dims(int C, int H, int W)
{
    public long Elements => (long)C * H * W;
    public override string ToString() => $"{C}x{H}x{W}";
}

/// <summary>A layer with every shape known. Inputs index earlier layers; -1 is the network input.
/// <see cref="ImagePools"/>: how often a DownSampler pools the image for input reinforcement (0 when it has none).</summary>
public sealed record ShapedLayer(LayerSpec Spec, EquatableArray<int> Inputs, EquatableArray<Dims> InputDims, Dims Out, EquatableArray<int> Dilations, int ImagePools = 0);

/// <summary>The network after shape inference; <see cref="Valid"/> is false when any error was reported.</summary>
public sealed record ShapedNetwork(NetworkSpec Spec, Dims Input, EquatableArray<ShapedLayer> Layers, int OutputLayer, bool Valid);
