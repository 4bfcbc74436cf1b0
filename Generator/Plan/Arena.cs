using System.Collections.Generic;
using System.Linq;

namespace Espnet.Compiled.Generator.Plan;

/// <summary>
/// Places buffers in one arena by liveness: two buffers may share floats only if their lifetimes
/// (first and last layer index that touches them) do not overlap. Greedy, largest first, lowest offset.
/// </summary>
internal static class Arena
{
    public const int AlignFloats = 16;

    public static int Align(int floats) => (floats + AlignFloats - 1) / AlignFloats * AlignFloats;

    public sealed record Buffer(int Id, int Floats, int First, int Last);

    public static (Dictionary<int, int> Offsets, int Size) Place(IReadOnlyList<Buffer> buffers)
    {
        var placed = new List<(Buffer Buffer, int Offset)>();
        var offsets = new Dictionary<int, int>();
        int size = 0;
        foreach (var b in buffers.Where(b => b.Floats > 0).OrderByDescending(b => b.Floats).ThenBy(b => b.Id))
        {
            var clashes = placed
                .Where(p => p.Buffer.First <= b.Last && b.First <= p.Buffer.Last)
                .OrderBy(p => p.Offset);
            int offset = 0;
            foreach (var (other, at) in clashes)
            {
                if (offset + Align(b.Floats) <= at) break;
                offset = System.Math.Max(offset, at + Align(other.Floats));
            }
            placed.Add((b, offset));
            offsets[b.Id] = offset;
            size = System.Math.Max(size, offset + Align(b.Floats));
        }
        return (offsets, size);
    }
}
