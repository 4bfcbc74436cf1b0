using System.Collections.Generic;
using System.Linq;
using Espnet.Compiled.Generator.Model;
using Espnet.Compiled.Generator.Shape;

namespace Espnet.Compiled.Generator.Plan.Schedule;

/// <summary>A span a layer's code reads, and where it comes from: an earlier layer's output, or the network input (-1).</summary>
public sealed record Operand(string Name, int Source, long Length);

/// <summary>
/// One layer lowered to primitives: the spans it reads (<see cref="Operands"/>, then <c>y</c> and
/// <c>scratch</c>), its ops in order, the scratch they need, its parameter slots in the authors' registration
/// order, the load-time derivations the passes added (<see cref="Prepare"/>), and a one-line description.
/// Backend-neutral: the C# printer and later ones print exactly this.
/// </summary>
public sealed record LayerProgram(
    EquatableArray<Operand> Operands,
    EquatableArray<Op> Ops,
    int ScratchFloats,
    EquatableArray<ParamSlot> Slots,
    EquatableArray<Op> Prepare,
    string Description)
{
    /// <summary>Multiply-accumulates in the authors' convention, summed from the ops.</summary>
    public long Macs => Ops.Sum(MacsOf);

    public long TransposedMacs => Ops.OfType<ConvTranspose>().Concat(Ops.OfType<ConvTranspose2x2>().Select(t => t.Of)).Concat(Ops.OfType<ConvTranspose2x2InOutput>().Select(t => t.Of)).Sum(t => t.Macs);

    public long Parameters => Slots.Where(s => s.Learnable).Sum(s => (long)s.Elements);

    private static long MacsOf(Op op) => op switch
    {
        Conv { Counted: true } c => c.Macs,
        FusedConv { Conv.Counted: true } f => f.Conv.Macs + (f.BiasCounted ? (long)f.Conv.Cout * f.Conv.Ho * f.Conv.Wo : 0),
        AddBias { Counted: true } b => (long)b.C * b.Plane,
        UpsampledDepthwisePool { Counted: true } u => u.Macs,
        DepthwiseBranches { Counted: true } d => d.Macs,
        _ => 0,
    };
}

/// <summary>
/// What a lowering file writes into: parameter slots (appended to the network's store in the order declared),
/// ops, scratch, operands. One per layer; <see cref="Build"/> freezes it.
/// </summary>
internal sealed class LayerBuilder
{
    private readonly ParameterLayout _store;
    private readonly int _firstSlot;
    private readonly List<Op> _ops = new();
    private readonly List<Operand> _operands = new();
    private int _scratch;

    public LayerBuilder(ShapedLayer layer, ParameterLayout store)
    {
        Layer = layer;
        _store = store;
        _firstSlot = store.Slots.Count;
    }

    public ShapedLayer Layer { get; }
    public LayerSpec Spec => Layer.Spec;
    public Dims X => Layer.InputDims[0];
    public Dims Y => Layer.Out;
    public int Plane => Y.H * Y.W;
    public string Description { get; set; } = "";

    /// <summary>The layer's first input as <c>x</c> (most kinds read one tensor).</summary>
    public View Input()
    {
        _operands.Add(new Operand("x", Layer.Inputs[0], X.Elements));
        return View.Of("x", X.Elements);
    }

    /// <summary>Input <paramref name="index"/> under its own name (<c>x0</c>, <c>x1</c>, ... or <c>image</c>).</summary>
    public View Input(int index, string name)
    {
        _operands.Add(new Operand(name, Layer.Inputs[index], Layer.InputDims[index].Elements));
        return View.Of(name, Layer.InputDims[index].Elements);
    }

    public View Output => View.Of("y", Y.Elements);

    /// <summary>A window of the layer's scratch; the scratch grows to cover it.</summary>
    public View Scratch(int offset, int length)
    {
        _scratch = System.Math.Max(_scratch, offset + length);
        return View.Of("scratch", 0).Slice(offset, length);
    }

    /// <summary>Reserves scratch without naming a window (layouts whose windows are computed piecewise).</summary>
    public void ReserveScratch(int floats) => _scratch = System.Math.Max(_scratch, floats);

    public Param Param(string key, SlotRole role, params int[] shape)
    {
        _store.Add(key, role, shape);
        var slot = _store.Slots[_store.Slots.Count - 1];
        return new Param(Store.Loaded, slot.Offset, slot.Elements, key);
    }

    public BatchNormParams BatchNorm(string prefix, int channels) => new(
        Param(prefix + "weight", SlotRole.Weight, channels),
        Param(prefix + "bias", SlotRole.Bias, channels),
        Param(prefix + "running_mean", SlotRole.RunningMean, channels),
        Param(prefix + "running_var", SlotRole.RunningVar, channels));

    public Param PRelu(string key, int channels) => Param(key, SlotRole.Weight, channels);

    public void Emit(Op op) => _ops.Add(op);

    public void Note(string text) => _ops.Add(new Note(text));

    /// <summary>Binds <paramref name="name"/> to <paramref name="view"/> and returns the whole of it by that name.</summary>
    public View Let(string name, View view)
    {
        _ops.Add(new Let(name, view));
        return View.Of(name, view.Length);
    }

    /// <summary>BN in place, then PReLU when a slope is given.</summary>
    public void BatchNormPRelu(View target, int channels, int plane, BatchNormParams bn, Param? slope, double eps)
    {
        Emit(new BatchNorm(target, channels, plane, bn, eps));
        if (slope is not null) Emit(new PRelu(target, channels, plane, slope));
    }

    public LayerProgram Build() => new(
        _operands.ToEquatableArray(),
        _ops.ToEquatableArray(),
        _scratch,
        _store.Slots.Skip(_firstSlot).ToEquatableArray(),
        EquatableArray<Op>.Empty,
        Description);
}
