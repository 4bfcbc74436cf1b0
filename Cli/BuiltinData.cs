using Espnet.Compiled.Weights;
using Espnet.Compiled.Zoo;

namespace Espnet.Compiled.Cli;

/// <summary>
/// What `run` can use without a download: `--weights builtin` (the authors' ESPNet p2q3 Cityscapes file,
/// embedded) and `--input synthetic` (the reference tests' input formula at the model's size).
/// </summary>
internal static class BuiltinData
{
    public const string Weights = "builtin", Input = "synthetic";
    private const string BuiltinModel = "espnet-p2-q3";

    public static StateDict ReadWeights(ModelRequest request)
    {
        if (request.Name != BuiltinModel || request.Classes != request.DefaultClasses)
            throw new UsageException($"--weights builtin holds {BuiltinModel} (Cityscapes, 20 classes) only; pass the .pth file for {request.Label}");
        using var stream = typeof(BuiltinData).Assembly.GetManifestResourceStream("builtin/espnet_p_2_q_3.pth")
                           ?? throw new CommandException("the built-in weights are missing from this build of espnet");
        return PthReader.Read(stream, "builtin espnet_p_2_q_3.pth");
    }

    /// <summary>x[n, c, h, w] = (((7h + 13w + 29c) mod 256) - 128) / 128, exact in float32 (shared/data/reference's inputs).</summary>
    public static float[] SyntheticInput(ICompiledNetwork network)
    {
        var s = network.InputShape;
        var x = new float[network.Batch * s.Elements];
        for (int n = 0; n < network.Batch; n++)
            for (int c = 0; c < s.Channels; c++)
                for (int h = 0; h < s.Height; h++)
                    for (int w = 0; w < s.Width; w++)
                        x[((n * s.Channels + c) * s.Height + h) * s.Width + w] = ((7 * h + 13 * w + 29 * c) % 256 - 128) / 128f;
        return x;
    }
}
