using System.Linq;
namespace Espnet.Compiled.Generator.Model;

/// <summary>The kinds of layer the vocabulary has. Each has one file per generator stage.</summary>
public enum LayerKind { Conv, BatchNorm, Esp, AvgPool, Concat, Add, ConvTranspose, Eesp, DownSampler, GlobalAvgPool, Linear, Resize, PyramidPool, GatedConv, PspPool }

/// <summary>Which CPU kernels a network compiles to (mirrors the runtime's CpuKernels).</summary>
public enum KernelSet { Fast = 0, Reference = 1 }

/// <summary>How parameter keys are spelled under a layer's prefix (mirrors the runtime's KeyStyle).</summary>
public enum KeyStyle { Module = 0, Bare = 1, Sequential = 2 }

/// <summary>
/// One declared layer: what it computes, never how. Fields not used by a kind keep their defaults.
/// No symbols, syntax or Location in here (a test checks), so the pipeline caches on content.
/// </summary>
public sealed record LayerSpec(
    LayerKind Kind,
    string Name,
    EquatableArray<string> Inputs,
    int Out = 0,
    int Kernel = 1,
    int Stride = 1,
    int Dilation = 1,
    int Groups = 1,
    bool Bias = false,
    bool BatchNorm = false,
    bool PRelu = false,
    double Eps = 0,
    KeyStyle Keys = KeyStyle.Module,
    int K = 0,
    EquatableArray<int> Dilations = default,
    bool Residual = false,
    bool Fusion = true,
    int Times = 1,
    int RLim = 0,
    bool Reinforce = false,
    bool ReinforcementWeights = false,
    double Factor = 2.0,
    int Proj = 0,
    LocationInfo? Location = null,
    EquatableArray<ArgumentLocation> ArgumentLocations = default)
{
    public bool Wrote(string argument)
    {
        foreach (var a in ArgumentLocations)
            if (a.Argument == argument) return true;
        return false;
    }

    /// <summary>The location of a named argument if it was written, else the attribute's.</summary>
    public LocationInfo? LocationOf(string argument)
    {
        foreach (var a in ArgumentLocations)
            if (a.Argument == argument) return a.Location;
        return Location;
    }
}

/// <summary>A whole declared network: the class it belongs to, its input, and its layers in order.</summary>
public sealed record NetworkSpec(
    string? Namespace,
    string ClassName,
    string Accessibility,
    EquatableArray<string> ContainingTypes,
    string Origin,
    int Batch,
    int InputChannels,
    int Height,
    int Width,
    string? Output,
    EquatableArray<LayerSpec> Layers,
    LocationInfo? Location,
    EquatableArray<ArgumentLocation> ArgumentLocations,
    EquatableArray<DiagnosticInfo> Diagnostics,
    KernelSet Kernels = KernelSet.Fast)
{
    public LocationInfo? LocationOf(string argument)
    {
        foreach (var a in ArgumentLocations)
            if (a.Argument == argument) return a.Location;
        return Location;
    }

    /// <summary>The same network with every source location removed: what the emitted code depends on.</summary>
    public NetworkSpec WithoutLocations() => this with
    {
        Location = null,
        ArgumentLocations = EquatableArray<ArgumentLocation>.Empty,
        Layers = Layers.Select(l => l with { Location = null, ArgumentLocations = EquatableArray<ArgumentLocation>.Empty }).ToEquatableArray(),
        Diagnostics = Diagnostics.Select(d => d with { Location = null }).ToEquatableArray(),
    };
}
