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

        // Lifetimes: a layer's output lives from the layer until its last reader; the network output to the end.
        var last = Enumerable.Range(0, count).ToArray();
        for (int i = 0; i < count; i++)
            foreach (int from in layers[i].Inputs)
                if (from >= 0) last[from] = System.Math.Max(last[from], i);
        last[network.OutputLayer] = count;
        // A concatenation's buffer holds its producers' outputs: it lives from the first to the last reader of any.
        var first = Enumerable.Range(0, count).ToArray();
        foreach (var pair in alias)
        {
            int producer = pair.Key, concat = pair.Value.Concat;
            first[concat] = System.Math.Min(first[concat], producer);
            last[concat] = System.Math.Max(last[concat], last[producer]);
        }

        var buffers = new List<Arena.Buffer>();
        for (int i = 0; i < count; i++)
        {
            bool elsewhere = options.OutputInPlace && i == network.OutputLayer || alias.ContainsKey(i);
            buffers.Add(new Arena.Buffer(2 * i, elsewhere ? 0 : (int)layers[i].Out.Elements, first[i], last[i]));
            buffers.Add(new Arena.Buffer(2 * i + 1, programs[i].ScratchFloats, i, i));
        }
        var (offsets, arenaFloats) = Arena.Place(buffers);

        int OutOffset(int i) =>
            options.OutputInPlace && i == network.OutputLayer ? PlannedLayer.CallersOutput
            : alias.TryGetValue(i, out var at) ? offsets[2 * at.Concat] + at.Offset
            : offsets[2 * i];
        var planned = layers.Select((layer, i) => new PlannedLayer(layer, programs[i],
            OutOffset: OutOffset(i),
            ScratchOffset: programs[i].ScratchFloats > 0 ? offsets[2 * i + 1] : 0)).ToEquatableArray();

        return new PlannedNetwork(network, planned, arenaFloats, store.Offset, derived.Offset,
            planned.Sum(l => l.Parameters), planned.Sum(l => l.Macs), planned.Sum(l => l.TransposedMacs));
    }
}
