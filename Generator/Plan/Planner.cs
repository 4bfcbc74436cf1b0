using System.Collections.Generic;
using System.Linq;
using Espnet.Compiled.Generator.Model;
using Espnet.Compiled.Generator.Shape;

namespace Espnet.Compiled.Generator.Plan;

/// <summary>Decides where every parameter and activation lives and what each layer costs.</summary>
internal static class Planner
{
    public static PlannedNetwork Run(ShapedNetwork network)
    {
        var layers = network.Layers;
        int count = layers.Count;

        // Lifetimes: a layer's output lives from the layer until its last reader; the network output to the end.
        var last = Enumerable.Range(0, count).ToArray();
        for (int i = 0; i < count; i++)
            foreach (int from in layers[i].Inputs)
                if (from >= 0) last[from] = System.Math.Max(last[from], i);
        last[network.OutputLayer] = count;

        var buffers = new List<Arena.Buffer>();
        for (int i = 0; i < count; i++)
        {
            buffers.Add(new Arena.Buffer(2 * i, (int)layers[i].Out.Elements, i, last[i]));
            buffers.Add(new Arena.Buffer(2 * i + 1, Costs.Scratch(layers[i]), i, i));
        }
        var (offsets, arenaFloats) = Arena.Place(buffers);

        var planned = new List<PlannedLayer>();
        var store = new ParameterLayout(0);
        foreach (var (layer, i) in layers.Select((l, i) => (l, i)))
        {
            int firstSlot = store.Slots.Count;
            store.Build(layer);
            var slots = store.Slots.Skip(firstSlot).ToEquatableArray();
            var (macs, transposed) = Costs.Of(layer);
            int scratch = Costs.Scratch(layer);
            planned.Add(new PlannedLayer(layer, slots,
                OutOffset: offsets[2 * i],
                ScratchOffset: scratch > 0 ? offsets[2 * i + 1] : 0,
                ScratchFloats: scratch,
                Parameters: slots.Where(s => s.Learnable).Sum(s => (long)s.Elements),
                Macs: macs,
                TransposedMacs: transposed));
        }

        return new PlannedNetwork(network, planned.ToEquatableArray(), arenaFloats, store.Offset,
            planned.Sum(l => l.Parameters), planned.Sum(l => l.Macs), planned.Sum(l => l.TransposedMacs));
    }
}
