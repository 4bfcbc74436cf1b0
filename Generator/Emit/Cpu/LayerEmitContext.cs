using Espnet.Compiled.Generator.Plan;
using Espnet.Compiled.Generator.Shape;

namespace Espnet.Compiled.Generator.Emit.Cpu;

/// <summary>What a per-kind emitter needs: the layer, its shapes, and how to name parameter slices.</summary>
internal sealed class LayerEmitContext(PlannedLayer layer, CodeWriter writer)
{
    public PlannedLayer Layer { get; } = layer;
    public CodeWriter W { get; } = writer;
    public Dims X => Layer.Shaped.InputDims[0];
    public Dims Y => Layer.Shaped.Out;

    /// <summary>A read-only slice of the parameter store holding the tensor with this state_dict key.</summary>
    public string P(string key)
    {
        var slot = Layer.Slot(key);
        return $"P({slot.Offset}, {slot.Elements})";
    }

    /// <summary>Emits BN in place over <paramref name="target"/>, then PReLU when <paramref name="actKey"/> is given.</summary>
    public void BatchNormPRelu(string target, int channels, int plane, string bnPrefix, string? actKey, double eps)
    {
        W.Line($"global::Espnet.Compiled.Cpu.Elementwise.BatchNorm({target}, {channels}, {plane}, {P(bnPrefix + "weight")}, {P(bnPrefix + "bias")}, {P(bnPrefix + "running_mean")}, {P(bnPrefix + "running_var")}, {CodeWriter.Float(eps)});");
        if (actKey is not null)
            W.Line($"global::Espnet.Compiled.Cpu.Elementwise.PRelu({target}, {channels}, {plane}, {P(actKey)});");
    }
}
