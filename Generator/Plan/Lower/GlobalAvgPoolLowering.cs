using Espnet.Compiled.Generator.Plan.Schedule;

namespace Espnet.Compiled.Generator.Plan.Lower;

/// <summary>Global average pooling to C x 1 x 1.</summary>
internal static class GlobalAvgPoolLowering
{
    public static void Lower(LayerBuilder b)
    {
        b.Description = "global average pool";
        b.Emit(new GlobalAvgPool(b.Input(), b.X.C, b.X.H * b.X.W, b.Output));
    }
}
