using System.Collections.Generic;
using System.Linq;
using Espnet.Compiled.Generator.Model;
using Espnet.Compiled.Generator.Plan.Lower;
using Espnet.Compiled.Generator.Plan.Passes;
using Espnet.Compiled.Generator.Plan.Schedule;
using Espnet.Compiled.Generator.Shape;

namespace Espnet.Compiled.Generator.Plan;

/// <summary>
/// Lowers every layer to its program (<c>Plan/Lower</c>), runs the passes the network's kernel set asks for
/// (<c>Plan/Passes</c>), then places every output and scratch buffer in one arena by liveness.
/// </summary>
internal static class Planner
{
    public static PlannedNetwork Run(ShapedNetwork network, PassOptions options)
    {
        var layers = network.Layers;
        int count = layers.Count;

        var store = new ParameterLayout(0);
        var derived = new DerivedLayout();
        var programs = new List<LayerProgram>();
        foreach (var layer in layers)
            programs.Add(PassPipeline.Run(Lowering.Lower(layer, store), derived, options));

        // Producers that write straight into a concatenation's slices (the fast set only).
        var alias = options.OutputInPlace ? ConcatInPlace.Run(programs, network.OutputLayer) : new Dictionary<int, (int Concat, int Offset)>();

        // The order layers run in (the fast set moves a layer up where that frees a larger buffer early).
        var order = options.OutputInPlace ? ExecutionOrder.Run(layers, network.OutputLayer, alias) : Enumerable.Range(0, count).ToList();
        var at = new int[count];
        for (int k = 0; k < count; k++) at[order[k]] = k;

        // Scale-shift layers that rewrite their input's buffer in place (the input's producer writes their output region).
        var into = options.OutputInPlace ? InPlace.Run(programs, layers, network.OutputLayer, alias, at) : new Dictionary<int, int>();
        int Holder(int i) => into.TryGetValue(i, out int next) ? Holder(next) : i;

        // The output layer's input kept inside the caller's output span (a transposed convolution four times larger).
        var inOutputInput = options.OutputInPlace ? TransposeInOutput.Run(programs, layers, network.OutputLayer, alias, into) : null;
        int blockedLayer = inOutputInput?.Producer ?? -1;

        // Lifetimes, in positions of that order: a layer's output lives from the layer until its last reader; the
        // network output to the end.
        var last = (int[])at.Clone();
        for (int i = 0; i < count; i++)
            foreach (int from in layers[i].Inputs)
                if (from >= 0) last[from] = System.Math.Max(last[from], at[i]);
        last[network.OutputLayer] = count;
        // A concatenation's buffer holds its producers' outputs: it lives from the first to the last reader of any.
        var first = (int[])at.Clone();
        foreach (var pair in alias)
        {
            int producer = pair.Key, concat = pair.Value.Concat;
            first[concat] = System.Math.Min(first[concat], first[producer]);
            last[concat] = System.Math.Max(last[concat], last[producer]);
        }
        // An in-place chain's region (the last layer's buffer, or its concatenation's) lives from the chain's first producer.
        foreach (var producer in into.Keys)
        {
            int holder = Holder(producer);
            int buffer = alias.TryGetValue(holder, out var slice) ? slice.Concat : holder;
            first[buffer] = System.Math.Min(first[buffer], first[producer]);
            last[buffer] = System.Math.Max(last[buffer], last[producer]);
        }

        var buffers = new List<Arena.Buffer>();
        for (int i = 0; i < count; i++)
        {
            bool elsewhere = options.OutputInPlace && i == network.OutputLayer || alias.ContainsKey(i) || into.ContainsKey(i) || i == blockedLayer;
            buffers.Add(new Arena.Buffer(2 * i, elsewhere ? 0 : (int)layers[i].Out.Elements, first[i], last[i]));
            buffers.Add(new Arena.Buffer(2 * i + 1, programs[i].ScratchFloats, at[i], at[i]));
        }
        // The caller's output span is idle until the output layer writes it: buffers whose lives end before that
        // layer runs can live there, and the arena need only hold the rest (the fast set, when the output layer
        // writes the caller's span itself). Greedy, largest first, while the placement still fits the span.
        var inOutput = new HashSet<int>();
        // The output layer's blocked input holds the span's last planes from its producer on. The region's offsets
        // start at the span's first 64-byte boundary (0 to 15 floats in): kept clear of the planes wherever that is.
        var pinned = new List<(Arena.Buffer, int)>();
        if (inOutputInput is { } blocked)
        {
            int end = (int)layers[network.OutputLayer].Out.Elements;
            pinned.Add((new Arena.Buffer(-1, end - blocked.InputAt, at[blocked.Producer], at[network.OutputLayer]), blocked.InputAt - Arena.AlignFloats));
        }
        if (options.OutputInPlace && !alias.ContainsKey(network.OutputLayer) && !into.ContainsKey(network.OutputLayer))
        {
            // Less one alignment's worth: the printed code starts the region at the span's first 64-byte boundary.
            int capacity = (int)layers[network.OutputLayer].Out.Elements - (Arena.AlignFloats - 1), before = at[network.OutputLayer];
            var chosen = new List<Arena.Buffer>();
            foreach (var b in buffers.Where(b => b.Floats > 0 && b.Last < before).OrderByDescending(b => b.Floats).ThenBy(b => b.Id))
            {
                chosen.Add(b);
                if (Arena.Place(chosen, pinned).Size > capacity) chosen.RemoveAt(chosen.Count - 1);
            }
            foreach (var b in chosen) inOutput.Add(b.Id);
        }
        var (outputOffsets, _) = Arena.Place(buffers.Where(b => inOutput.Contains(b.Id)).ToList(), pinned);
        var (offsets, arenaFloats) = Arena.Place(buffers.Where(b => !inOutput.Contains(b.Id)).ToList());
        foreach (var pair in outputOffsets) offsets[pair.Key] = pair.Value;

        int OutOffset(int i) =>
            i == blockedLayer ? inOutputInput!.Value.InputAt
            : into.ContainsKey(i) ? OutOffset(Holder(i))
            : options.OutputInPlace && i == network.OutputLayer ? PlannedLayer.CallersOutput
            : alias.TryGetValue(i, out var at) ? OutOffset(at.Concat) + at.Offset
            : offsets[2 * i];
        // Which region holds a layer's output: its own buffer's, or that of the buffer it is written into.
        bool OutInOutput(int i) =>
            into.ContainsKey(i) ? OutInOutput(Holder(i))
            : options.OutputInPlace && i == network.OutputLayer ? false
            : alias.TryGetValue(i, out var at) ? OutInOutput(at.Concat)
            : inOutput.Contains(2 * i);
        var planned = layers.Select((layer, i) => new PlannedLayer(layer, programs[i],
            OutOffset: OutOffset(i),
            ScratchOffset: programs[i].ScratchFloats > 0 ? offsets[2 * i + 1] : 0)
        {
            OutInOutput = OutOffset(i) != PlannedLayer.CallersOutput && i != blockedLayer && OutInOutput(i),
            ScratchInOutput = programs[i].ScratchFloats > 0 && inOutput.Contains(2 * i + 1),
            BlockedFloats = i == blockedLayer ? TransposeInOutput.BlockedFloats(layer.Out.C, layer.Out.H, layer.Out.W) : 0,
        }).ToEquatableArray();

        return new PlannedNetwork(network, planned, order.ToEquatableArray(), arenaFloats, Arena.LiveFloats(buffers), store.Offset, derived.Offset,
            planned.Sum(l => l.Parameters), planned.Sum(l => l.Macs), planned.Sum(l => l.TransposedMacs));
    }
}
