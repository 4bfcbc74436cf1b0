using Espnet.Compiled.Generator.Plan.Schedule;

namespace Espnet.Compiled.Generator.Plan.Lower;

/// <summary>Elementwise sum of two maps.</summary>
internal static class AddLowering
{
    public static void Lower(LayerBuilder b)
    {
        b.Description = "add";
        var left = b.Input(0, "x0");
        var right = b.Input(1, "x1");
        b.Emit(new Add(left, right, b.Output));
    }
}
