using Espnet.Compiled.Generator.Plan.Schedule;

namespace Espnet.Compiled.Generator.Plan.Lower;

/// <summary>Channel concatenation: each input copied into its channel range.</summary>
internal static class ConcatLowering
{
    public static void Lower(LayerBuilder b)
    {
        b.Description = "concat";
        int offset = 0;
        for (int i = 0; i < b.Layer.Inputs.Count; i++)
        {
            var x = b.Input(i, "x" + i);
            b.Emit(new Copy(x, b.Output.Slice(offset, x.Length)));
            offset += x.Length;
        }
    }
}
