using System.Collections.Generic;
using System.Linq;
using Espnet.Compiled.Generator.Shape;

namespace Espnet.Compiled.Generator.Plan.Passes;

/// <summary>
/// A network-level pass: the order the layers run in. Declaration order, except that a layer which is the last
/// reader of a larger input than its own output runs right after its last input is produced, so that input's
/// buffer is freed early (ESPNet's decoder reads the 131-channel <c>encoder.b2</c> through a 1x1 conv to 20
/// channels: run it before level 3, not after, and 17 MB leave the arena's peak). A layer that writes a slice of a
/// concatenation (<see cref="ConcatInPlace"/>) holds that whole buffer from its new place; concatenations and the
/// output layer keep their place.
/// </summary>
internal static class ExecutionOrder
{
    public static List<int> Run(IReadOnlyList<ShapedLayer> layers, int outputLayer, IReadOnlyDictionary<int, (int Concat, int Offset)> alias)
    {
        int count = layers.Count;
        var lastReader = Enumerable.Repeat(-1, count).ToArray();
        for (int i = 0; i < count; i++)
            foreach (int from in layers[i].Inputs)
                if (from >= 0) lastReader[from] = System.Math.Max(lastReader[from], i);
        var concats = new HashSet<int>(alias.Values.Select(v => v.Concat));

        var order = new List<int>();
        for (int i = 0; i < count; i++)
        {
            long freed = layers[i].Inputs.Where(from => from >= 0 && lastReader[from] == i).Distinct().Sum(from => layers[from].Out.Elements);
            // What moving costs: its output held longer — or, for a producer writing a concatenation's slice, the
            // whole concatenation's buffer.
            long held = alias.TryGetValue(i, out var slice) ? layers[slice.Concat].Out.Elements : layers[i].Out.Elements;
            bool movable = i != outputLayer && !concats.Contains(i) && freed > held;
            int after = layers[i].Inputs.Count == 0 ? -1 : layers[i].Inputs.Max(from => from < 0 ? -1 : order.IndexOf(from));
            if (movable && after + 1 < order.Count) order.Insert(after + 1, i);
            else order.Add(i);
        }
        return order;
    }
}
