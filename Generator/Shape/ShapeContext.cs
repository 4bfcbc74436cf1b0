using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Espnet.Compiled.Generator.Model;

namespace Espnet.Compiled.Generator.Shape;

/// <summary>Collects diagnostics for one layer; the per-kind rules report through it.</summary>
internal sealed class ShapeContext(LayerSpec layer, List<DiagnosticInfo> sink)
{
    public LayerSpec Layer { get; } = layer;
    public bool Failed { get; private set; }

    public void Error(string id, string argument, params object[] args)
    {
        Failed = true;
        Report(id, argument, args);
    }

    public void Warning(string id, string argument, params object[] args) => Report(id, argument, args);

    /// <summary>ESPN0010 for an argument outside its range.</summary>
    public void Invalid(string argument, object value, string why) => Error("ESPN0010", argument, Layer.Name, argument, value, why);

    private void Report(string id, string argument, object[] args) =>
        sink.Add(new DiagnosticInfo(id, Layer.LocationOf(argument),
            args.Select(a => System.Convert.ToString(a, CultureInfo.InvariantCulture) ?? "").ToEquatableArray()));

    /// <summary>Output size of a k x k window with dilation d, padding ((k-1)/2)*d, stride s (PyTorch's rule).</summary>
    public static int ConvOut(int size, int kernel, int stride, int dilation)
    {
        int pad = (kernel - 1) / 2 * dilation;
        int span = dilation * (kernel - 1) + 1;
        int numerator = size + 2 * pad - span;
        return numerator < 0 ? 0 : numerator / stride + 1;
    }

    /// <summary>Warn once when a dilated kernel spans more than the map it runs over.</summary>
    public void CheckReach(int kernel, IEnumerable<int> dilations, Dims map, string argument)
    {
        foreach (int d in dilations.Where(d => d > 1).OrderBy(d => d))
        {
            int span = d * (kernel - 1) + 1;
            if (span > map.H || span > map.W)
            {
                Warning("ESPN0007", argument, Layer.Name, d, span, map.H, map.W);
                return;
            }
        }
    }
}
