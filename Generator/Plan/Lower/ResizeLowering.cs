using Espnet.Compiled.Generator.Plan.Schedule;

namespace Espnet.Compiled.Generator.Plan.Lower;

/// <summary>Bilinear resize with aligned corners. A Resize "like" another layer reads only that layer's shape, not its data.</summary>
internal static class ResizeLowering
{
    public static void Lower(LayerBuilder b)
    {
        b.Description = "bilinear resize (aligned corners)";
        b.Emit(new Bilinear(b.Input(), b.X.C, b.X.H, b.X.W, b.Output, b.Y.H, b.Y.W));
    }
}
