using System.Collections.Generic;
using System.Linq;
using Espnet.Compiled.Generator.Plan.Schedule;
using Espnet.Compiled.Generator.Shape;

namespace Espnet.Compiled.Generator.Plan.Passes;

/// <summary>
/// A network-level pass: a layer that is one scale-shift of its only input (a BN + PReLU layer), where it is that
/// input's last reader in the run order, runs in place: the input's producer writes where this layer's output goes (its buffer,
/// the concatenation slice <see cref="ConcatInPlace"/> gave it, or the caller's output) and the scale-shift
/// rewrites it there. ESPNet's decoder: the transposed conv then writes straight into the skip concatenation
/// and its 20x256x512 buffer leaves the arena; a concatenation's BN + PReLU rewrites the concatenation's buffer
/// (its producers' slices land in the BN's output). Not for the network input or a producer placed in a
/// concatenation.
/// </summary>
internal static class InPlace
{
    /// <summary>Producer -> the layer that runs in place over its output.</summary>
    /// <param name="at">Each layer's position in the run order.</param>
    public static Dictionary<int, int> Run(IReadOnlyList<LayerProgram> programs, IReadOnlyList<ShapedLayer> layers, int outputLayer,
        IReadOnlyDictionary<int, (int Concat, int Offset)> alias, int[] at)
    {
        // The last position at which each layer's output is read.
        var lastRead = Enumerable.Repeat(-1, layers.Count).ToArray();
        for (int i = 0; i < layers.Count; i++)
            foreach (int from in layers[i].Inputs)
                if (from >= 0) lastRead[from] = System.Math.Max(lastRead[from], at[i]);
        var into = new Dictionary<int, int>();
        for (int i = 0; i < layers.Count; i++)
        {
            if (layers[i].Inputs.Count != 1) continue;
            int x = layers[i].Inputs[0];
            if (x < 0) continue;
            if (lastRead[x] != at[i] || x == outputLayer || alias.ContainsKey(x)) continue;
            // A concatenation's producers are read through its slices: the rewrite must come after every read of each.
            if (alias.Any(a => a.Value.Concat == x && lastRead[a.Key] > at[i])) continue;
            if (layers[x].Out.Elements != layers[i].Out.Elements || !IsScaleShiftOfInput(programs[i])) continue;
            into[x] = i;
        }
        return into;
    }

    private static bool IsScaleShiftOfInput(LayerProgram p)
    {
        var ops = p.Ops.Where(op => op is not Note).ToList();
        if (ops.Count != 1 || ops[0] is not ScaleShift s || s.From is not View from || p.Operands.Count != 1) return false;
        var input = p.Operands[0];
        return from.Base == input.Name && from.Offset == 0 && from.Length == input.Length
            && s.Y.Base == "y" && s.Y.Offset == 0 && s.Y.Length == input.Length
            && (s.Residual is null || s.Residual.Base != input.Name);
    }
}
