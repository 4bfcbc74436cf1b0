using System.Collections.Generic;
using System.Linq;

namespace Espnet.Compiled.Generator.Plan;

/// <summary>
/// Places buffers in one arena by liveness: two buffers may share floats only if their lifetimes
/// (first and last position in the run order that touches them) do not overlap. Greedy, lowest offset.
/// </summary>
internal static class Arena
{
    public const int AlignFloats = 16;

    public static int Align(int floats) => (floats + AlignFloats - 1) / AlignFloats * AlignFloats;

    public sealed record Buffer(int Id, int Floats, int First, int Last);

    /// <summary>
    /// Places every buffer; tries a few greedy orders (largest first; longest-lived first; largest area — floats
    /// times lifetime — first) and keeps the smallest arena. The bound no placement beats is the most floats live
    /// at once (<see cref="LiveFloats"/>). <paramref name="pinned"/>: buffers already at fixed offsets, which the
    /// others keep clear of while both are live (not in the result).
    /// </summary>
    public static (Dictionary<int, int> Offsets, int Size) Place(IReadOnlyList<Buffer> buffers, IReadOnlyList<(Buffer Buffer, int Offset)>? pinned = null)
    {
        var live = buffers.Where(b => b.Floats > 0).ToList();
        var orders = new[]
        {
            live.OrderByDescending(b => b.Floats).ThenBy(b => b.Id).ToList(),
            live.OrderByDescending(b => b.Last - b.First).ThenByDescending(b => b.Floats).ThenBy(b => b.Id).ToList(),
            live.OrderByDescending(b => (long)b.Floats * (b.Last - b.First + 1)).ThenBy(b => b.Id).ToList(),
        };
        (Dictionary<int, int> Offsets, int Size) best = (new Dictionary<int, int>(), int.MaxValue);
        foreach (var order in orders)
        {
            var placed = PlaceInOrder(order, pinned ?? System.Array.Empty<(Buffer, int)>());
            if (placed.Size < best.Size) best = placed;
        }
        return best.Size == int.MaxValue ? (new Dictionary<int, int>(), 0) : best;
    }

    /// <summary>The most floats (aligned) live at any one layer: a lower bound on the arena.</summary>
    public static long LiveFloats(IReadOnlyList<Buffer> buffers)
    {
        var live = buffers.Where(b => b.Floats > 0).ToList();
        if (live.Count == 0) return 0;
        long most = 0;
        for (int t = live.Min(b => b.First); t <= live.Max(b => b.Last); t++)
            most = System.Math.Max(most, live.Where(b => b.First <= t && t <= b.Last).Sum(b => (long)Align(b.Floats)));
        return most;
    }

    private static (Dictionary<int, int> Offsets, int Size) PlaceInOrder(IEnumerable<Buffer> buffers, IReadOnlyList<(Buffer Buffer, int Offset)> pinned)
    {
        var placed = new List<(Buffer Buffer, int Offset)>(pinned);
        var offsets = new Dictionary<int, int>();
        int size = 0;
        foreach (var b in buffers)
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
