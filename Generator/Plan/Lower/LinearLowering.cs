using Espnet.Compiled.Generator.Plan.Schedule;

namespace Espnet.Compiled.Generator.Plan.Lower;

/// <summary>
/// Fully-connected layer: a 1x1 convolution over the flattened input seen as In x 1 x 1, plus bias. Its MACs
/// are not counted, as the authors' counters skip nn.Linear.
/// </summary>
internal static class LinearLowering
{
    public static void Lower(LayerBuilder b)
    {
        var l = b.Spec;
        int features = checked((int)b.X.Elements);
        var weight = b.Param(l.Name + ".weight", SlotRole.Weight, l.Out, features);
        var bias = l.Bias ? b.Param(l.Name + ".bias", SlotRole.Bias, l.Out) : null;
        b.Description = "fully connected" + (l.Bias ? " +bias" : "");
        var y = b.Output;
        b.Emit(new Conv(b.Input(), features, 1, 1, weight, y, l.Out, 1, 1, 1, 1, 1, 1, Counted: false));
        if (bias is not null) b.Emit(new AddBias(y, l.Out, 1, bias));
    }
}
