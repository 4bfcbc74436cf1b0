using Espnet.Compiled.Generator.Model;
using Espnet.Compiled.Generator.Plan.Schedule;
using Espnet.Compiled.Generator.Shape;

namespace Espnet.Compiled.Generator.Plan;

public enum SlotRole { Weight = 0, Bias = 1, RunningMean = 2, RunningVar = 3 }

/// <summary>One tensor of the parameter store: state_dict key, shape, and where it lives in the store.</summary>
public sealed record ParamSlot(string Key, EquatableArray<int> Shape, SlotRole Role, int Offset)
{
    public int Elements
    {
        get { int n = 1; foreach (int d in Shape) n *= d; return n; }
    }
    public bool Learnable => Role is SlotRole.Weight or SlotRole.Bias;
}

/// <summary>A layer placed in memory: its program (after the passes), its output and scratch regions in the arena.</summary>
public sealed record PlannedLayer(ShapedLayer Shaped, LayerProgram Program, int OutOffset, int ScratchOffset)
{
    /// <summary>The output lies in the caller's output span (free until the output layer writes it), not the arena.</summary>
    public bool OutInOutput { get; init; }

    /// <summary>The scratch lies in the caller's output span.</summary>
    public bool ScratchInOutput { get; init; }

    /// <summary>
    /// Nonzero: the output lies in the caller's output span from float <see cref="OutOffset"/> (not the 64-byte region
    /// start) in the row-blocked layout, spanning this many floats (<c>Passes/TransposeInOutput</c>).
    /// </summary>
    public int BlockedFloats { get; init; }

    public bool OutBlocked => BlockedFloats > 0;

    /// <summary>The <see cref="OutOffset"/> of an output layer that writes the caller's output span directly.</summary>
    public const int CallersOutput = -1;

    public LayerSpec Spec => Shaped.Spec;
    public string Name => Shaped.Spec.Name;
    public EquatableArray<ParamSlot> Slots => Program.Slots;
    public int ScratchFloats => Program.ScratchFloats;
    public long Parameters => Program.Parameters;
    public long Macs => Program.Macs;
    public long TransposedMacs => Program.TransposedMacs;
}

/// <summary>
/// The whole plan a printer reads: layers in declaration order, the order they run in (<see cref="Order"/>:
/// layer indices), arena and parameter store sizes, totals.
/// </summary>
public sealed record PlannedNetwork(
    ShapedNetwork Shaped,
    EquatableArray<PlannedLayer> Layers,
    EquatableArray<int> Order,
    int ArenaFloats,
    long LiveFloats,
    int ParameterFloats,
    int DerivedFloats,
    long ParameterCount,
    long MacCount,
    long TransposedMacCount)
{
    public NetworkSpec Spec => Shaped.Spec;
    public PlannedLayer OutputLayer => Layers[Shaped.OutputLayer];
}
