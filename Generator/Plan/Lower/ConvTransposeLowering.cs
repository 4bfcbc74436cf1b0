using Espnet.Compiled.Generator.Plan.Schedule;

namespace Espnet.Compiled.Generator.Plan.Lower;

/// <summary>Transposed convolution without bias (ESPNet's decoder), weights [in, out, k, k] under <c>name.weight</c>.</summary>
internal static class ConvTransposeLowering
{
    public static void Lower(LayerBuilder b)
    {
        var l = b.Spec;
        var weight = b.Param(l.Name + ".weight", SlotRole.Weight, b.X.C, l.Out, l.Kernel, l.Kernel);
        b.Description = $"transposed conv {l.Kernel}x{l.Kernel} stride {l.Stride}";
        b.Emit(new ConvTranspose(b.Input(), b.X.C, b.X.H, b.X.W, weight, b.Output, b.Y.C, b.Y.H, b.Y.W, l.Kernel, l.Stride));
    }
}
