using System.Collections.Generic;
using System.Linq;
using Espnet.Compiled.Generator.Model;
using Espnet.Compiled.Generator.Plan.Schedule;

namespace Espnet.Compiled.Generator.Plan.Passes;

/// <summary>
/// A network-level pass: a layer whose output a concatenation only copies into one of its channel slices
/// writes that slice directly instead, and the copy goes. The concatenation's buffer then lives from its
/// first producer to the last reader of it or of any producer (a producer's other readers read the slice).
/// Not for the network input, the network output, a producer already placed in another concatenation, or a
/// concatenation that is itself placed in another (no chains).
/// </summary>
internal static class ConcatInPlace
{
    /// <summary>Where each aliased layer writes: (the concatenation's layer index, float offset in it).</summary>
    public static Dictionary<int, (int Concat, int Offset)> Run(List<LayerProgram> programs, int outputLayer)
    {
        var alias = new Dictionary<int, (int, int)>();
        var receives = new HashSet<int>();
        for (int c = 0; c < programs.Count; c++)
        {
            var program = programs[c];
            if (c == outputLayer || alias.ContainsKey(c) || !IsConcatenation(program)) continue;
            var kept = new List<Op>();
            foreach (var op in program.Ops)
            {
                if (op is FastCopy { Of: var copy } && Source(program, copy.X) is int s && s >= 0 && s != outputLayer
                    && !alias.ContainsKey(s) && !receives.Contains(s) && copy.X.Offset == 0 && copy.Y.Base == "y"
                    && programs[s].Operands.All(o => o.Source != c))
                {
                    alias[s] = (c, copy.Y.Offset);
                    receives.Add(c);
                    continue;
                }
                kept.Add(op);
            }
            programs[c] = program with { Ops = kept.ToEquatableArray() };
        }
        return alias;
    }

    // Only copies of whole inputs into slices of y (and comments).
    private static bool IsConcatenation(LayerProgram p) =>
        p.Ops.Count > 0 && p.Ops.All(op => op is Note || op is FastCopy { Of: { Y.Base: "y" } }) && p.Ops.Any(op => op is FastCopy);

    private static int? Source(LayerProgram p, View x)
    {
        foreach (var o in p.Operands)
            if (o.Name == x.Base && o.Length == x.Length) return o.Source;
        return null;
    }
}
