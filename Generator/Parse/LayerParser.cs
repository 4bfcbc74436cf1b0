using System.Linq;
using Espnet.Compiled.Generator.Model;

namespace Espnet.Compiled.Generator.Parse;

/// <summary>Reads one layer attribute ([Conv], [Esp], ...) into a <see cref="LayerSpec"/>.</summary>
internal static class LayerParser
{
    private const string ShapeInputName = Shape.ShapeInference.InputName;

    public static LayerSpec? TryParse(AttributeReader a)
    {
        var names = a.PositionalStrings();
        if (names.Count == 0) return null;
        string name = names[0];
        var inputs = names.Skip(1).ToEquatableArray();
        var location = a.Location;
        var args = a.ArgumentLocations();
        var keys = (KeyStyle)a.Enum("Keys", 0);

        return a.AttributeName switch
        {
            "ConvAttribute" => new LayerSpec(LayerKind.Conv, name, inputs,
                Out: a.Int("Out", 0), Kernel: a.Int("Kernel", 3), Stride: a.Int("Stride", 1),
                Dilation: a.Int("Dilation", 1), Groups: a.Int("Groups", 1), Bias: a.Bool("Bias", false),
                BatchNorm: a.Bool("BatchNorm", true), PRelu: a.Bool("PRelu", true), Eps: a.Double("Eps", 0),
                Keys: keys, Location: location, ArgumentLocations: args),
            "BatchNormAttribute" => new LayerSpec(LayerKind.BatchNorm, name, inputs,
                BatchNorm: true, PRelu: a.Bool("PRelu", true), Eps: a.Double("Eps", 0),
                Keys: keys, Location: location, ArgumentLocations: args),
            "EspAttribute" => new LayerSpec(LayerKind.Esp, name, inputs,
                Out: a.Int("Out", 0), K: a.Int("K", 5), Stride: a.Int("Stride", 1), Kernel: 3,
                Dilations: (a.IntArray("Dilations") ?? System.Array.Empty<int>()).ToEquatableArray(),
                Residual: a.Bool("Residual", true), Fusion: a.Bool("Fusion", true),
                BatchNorm: true, PRelu: true, Eps: a.Double("Eps", 0),
                Location: location, ArgumentLocations: args),
            "AvgPoolAttribute" => new LayerSpec(LayerKind.AvgPool, name, inputs,
                Times: a.Int("Times", 1), Kernel: 3, Stride: 2, Location: location, ArgumentLocations: args),
            "ConcatAttribute" => new LayerSpec(LayerKind.Concat, name, inputs, Location: location, ArgumentLocations: args),
            "AddAttribute" => new LayerSpec(LayerKind.Add, name, inputs, Location: location, ArgumentLocations: args),
            "ConvTransposeAttribute" => new LayerSpec(LayerKind.ConvTranspose, name, inputs,
                Out: a.Int("Out", 0), Kernel: a.Int("Kernel", 2), Stride: a.Int("Stride", 2),
                Location: location, ArgumentLocations: args),
            "EespAttribute" => new LayerSpec(LayerKind.Eesp, name, inputs,
                Out: a.Int("Out", 0), K: a.Int("K", 4), RLim: a.Int("RLim", 7), Stride: a.Int("Stride", 1), Kernel: 3,
                Dilations: (a.IntArray("Dilations") ?? System.Array.Empty<int>()).ToEquatableArray(),
                BatchNorm: true, PRelu: true, Eps: a.Double("Eps", 0),
                Location: location, ArgumentLocations: args),
            // Input reinforcement reads the image: the network input becomes the layer's second input.
            "DownSamplerAttribute" => new LayerSpec(LayerKind.DownSampler, name,
                a.Bool("Reinforce", true) ? inputs.Append(ShapeInputName).ToEquatableArray() : inputs,
                Out: a.Int("Out", 0), K: a.Int("K", 4), RLim: a.Int("RLim", 9), Stride: 2, Kernel: 3,
                Dilations: (a.IntArray("Dilations") ?? System.Array.Empty<int>()).ToEquatableArray(),
                Reinforce: a.Bool("Reinforce", true), ReinforcementWeights: a.Bool("ReinforcementWeights", true),
                BatchNorm: true, PRelu: true, Eps: a.Double("Eps", 0),
                Location: location, ArgumentLocations: args),
            "GlobalAvgPoolAttribute" => new LayerSpec(LayerKind.GlobalAvgPool, name, inputs, Location: location, ArgumentLocations: args),
            "LinearAttribute" => new LayerSpec(LayerKind.Linear, name, inputs,
                Out: a.Int("Out", 0), Bias: a.Bool("Bias", true), Location: location, ArgumentLocations: args),
            // Resize to another layer's size: that layer becomes the second input (only its shape is read).
            "ResizeAttribute" => new LayerSpec(LayerKind.Resize, name,
                a.String("Like") is { } like ? inputs.Append(like).ToEquatableArray() : inputs,
                Factor: a.Double("Factor", 2.0), Location: location,
                ArgumentLocations: args.Concat(args.Where(x => x.Argument == "Like").Select(x => new ArgumentLocation("#2", x.Location))).ToEquatableArray()),
            "PyramidPoolAttribute" => new LayerSpec(LayerKind.PyramidPool, name, inputs,
                Out: a.Int("Out", 0), Proj: a.Int("Proj", 0), BatchNorm: a.Bool("LastBatchNorm", true), Bias: !a.Bool("LastBatchNorm", true),
                PRelu: true, Eps: a.Double("Eps", 0), Location: location, ArgumentLocations: args),
            "GatedConvAttribute" => new LayerSpec(LayerKind.GatedConv, name, inputs,
                Out: a.Int("Out", 0), Kernel: 3, Eps: a.Double("Eps", 0), Location: location, ArgumentLocations: args),
            "PspPoolAttribute" => new LayerSpec(LayerKind.PspPool, name, inputs,
                Out: a.Int("Out", 0), Times: a.Int("Levels", 4), Eps: a.Double("Eps", 0), Location: location, ArgumentLocations: args),
            _ => null,
        };
    }
}
