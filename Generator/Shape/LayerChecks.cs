using System.Linq;
using Espnet.Compiled.Generator.Model;

namespace Espnet.Compiled.Generator.Shape;

/// <summary>
/// Checks every layer gets before its kind's shape rule: a usable name and inputs, a sane epsilon, and
/// arguments within bounds that keep every size computation in range (ESPN0010).
/// </summary>
internal static class LayerChecks
{
    /// <summary>Largest tensor (floats, batch included) a network may hold: 1 GiB, so every offset stays an int.</summary>
    public const long MaxTensorFloats = 1L << 28;

    public static void Arguments(ShapeContext ctx)
    {
        var l = ctx.Layer;
        if (string.IsNullOrWhiteSpace(l.Name) || l.Name.Any(char.IsControl))
            ctx.Invalid("#0", "\"" + Printable(l.Name) + "\"", "a layer name is its state_dict key prefix: use a non-empty name without control characters");
        if (l.Inputs.Count == 0)
            ctx.Invalid("#0", l.Name, l.Kind == LayerKind.Concat
                ? "a concatenation joins the layers named after it: name at least one, as in [Concat(\"" + Printable(l.Name) + "\", \"a\", \"b\")]"
                : "name the layer (or \"input\") it reads after its own name");
        for (int i = 0; i < l.Inputs.Count; i++)
            if (string.IsNullOrWhiteSpace(l.Inputs[i]))
                ctx.Invalid("#" + (i + 1), "\"\"", "name the layer (or \"input\") it reads");
        if (double.IsNaN(l.Eps) || double.IsInfinity(l.Eps) || l.Eps < 0)
            ctx.Invalid("Eps", l.Eps, "a BatchNorm epsilon is a small positive number such as 1e-3 or 1e-5");
        Bound(ctx, "Kernel", l.Kernel, 63);
        Bound(ctx, "Stride", l.Stride, 64);
        Bound(ctx, "Dilation", l.Dilation, 4096);
        Bound(ctx, "K", l.K, 32);
        Bound(ctx, "Times", l.Times, 32);
        Bound(ctx, "Out", l.Out, 1 << 20);
        Bound(ctx, "Proj", l.Proj, 1 << 20);
        foreach (int d in l.Dilations) Bound(ctx, "Dilations", d, 4096);
        // An empty list is not the default: written, it must say something.
        if (l.Dilations.Count == 0 && l.ArgumentLocations.Any(a => a.Argument == "Dilations"))
            ctx.Invalid("Dilations", "[]", "leave Dilations out for the default, or give one dilation per branch");
        if (l.Kind == LayerKind.Resize && (double.IsNaN(l.Factor) || double.IsInfinity(l.Factor) || l.Factor > 64))
            ctx.Invalid("Factor", l.Factor, "use a finite factor up to 64 (ESPNetv2 uses 2)");
    }

    /// <summary>ESPN0010 when a tensor would exceed <see cref="MaxTensorFloats"/>.</summary>
    public static bool FitsInMemory(ShapeContext ctx, Dims output, int batch)
    {
        if (output.Elements * batch <= MaxTensorFloats) return true;
        ctx.Invalid("#0", output.ToString(), $"its output of {(output.Elements * batch).ToString("N0", System.Globalization.CultureInfo.InvariantCulture)} floats exceeds the {(MaxTensorFloats).ToString("N0", System.Globalization.CultureInfo.InvariantCulture)} a network may hold; use a smaller input or batch");
        return false;
    }

    private static void Bound(ShapeContext ctx, string argument, int value, int max)
    {
        if (value > max) ctx.Invalid(argument, value, $"the largest supported value is {max}");
    }

    private static string Printable(string? name) =>
        name is null ? "" : new string(name.Select(c => char.IsControl(c) ? '?' : c).ToArray());
}
