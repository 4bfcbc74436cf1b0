using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Espnet.Compiled.Generator.Model;

namespace Espnet.Compiled.Generator.Parse;

/// <summary>Diagnostics shared by the whole-model expanders ([EspNet], [EspNetV2], ...), raised at their arguments.</summary>
internal static class ZooDiagnostics
{
    public static DiagnosticInfo Info(string id, LocationInfo? at, params object[] args) =>
        new(id, at, args.Select(x => System.Convert.ToString(x, CultureInfo.InvariantCulture) ?? "").ToEquatableArray());

    /// <summary>
    /// ESPN0004 when a decoder that halves the map log2(multiple) times and adds or concatenates each level back
    /// gets a size that is not a multiple of <paramref name="multiple"/>; suggests the nearest valid sizes.
    /// </summary>
    public static void CheckRestorable(string argument, int size, int multiple, LocationInfo? at, List<DiagnosticInfo> diagnostics)
    {
        if (size <= 0 || size % multiple == 0) return;
        int reduced = (size + multiple - 1) / multiple;
        int down = size / multiple * multiple, up = down + multiple;
        if (down == 0) (down, up) = (multiple, 2 * multiple);
        diagnostics.Add(Info("ESPN0004", at, argument, size, multiple, reduced, multiple, reduced * multiple, down, up));
    }
}
