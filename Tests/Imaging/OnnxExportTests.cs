using Espnet.Compiled.Tests.RealWeights;
using Espnet.Compiled.Tests.Support;
using Espnet.Compiled.Weights;
using Espnet.Compiled.Zoo;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Espnet.Compiled.Tests.Imaging;

[EspNetC(Classes = 20, P = 2, Q = 3, Height = 64, Width = 128)]
public sealed partial class EspNetCP2Q3At64x128;

[EspNet(Classes = 12, P = 2, Q = 8, Height = 64, Width = 128, Skip = EspNetDecoderSkip.Reinforced)]
public sealed partial class CamVidAt64x128;

/// <summary>
/// Every family exported to ONNX and run by ONNX Runtime: its outputs against our forward pass on the same
/// input (the authors' weights where they exist, the seeded random classifier fixture otherwise).
/// </summary>
// Runs networks on the shared worker threads: kept apart from the tests that count those threads' allocations.
[Collection(nameof(Espnet.Compiled.Tests.Kernels.KernelSettings))]
public sealed class OnnxExportTests(ITestOutputHelper output)
{
    public static TheoryData<string> Models => ["espnet-p2-q3", "espnet-c-p2-q3", "espnet-camvid", "edgenets-s2.0", "edgenets-s1.0-96x160", "psp-s0.5-96x160", "espnetv2-s1.0"];

    /// <summary>The network, its weights, and the amplitude of inputs its preprocessing produces (ESPNet's: about ±0.02 after /255).</summary>
    private static (ICompiledNetwork Network, string Weights, float Amplitude) Create(string name) => name switch
    {
        "espnet-p2-q3" => (new EspNetP2Q3At64x128(), "weights/ESPNet/pretrained/decoder/espnet_p_2_q_3.pth", 0.02f),
        "espnet-c-p2-q3" => (new EspNetCP2Q3At64x128(), "weights/ESPNet/pretrained/encoder/espnet_p_2_q_3.pth", 0.02f),
        "espnet-camvid" => (new CamVidAt64x128(), "weights/ESPNet/pretrained/decoder/espnet_p_2_q_8_camvid.pth", 0.02f),
        "edgenets-s2.0" => (new EdgeNetsS20CityAt64x128(), "weights/EdgeNets/model/segmentation/model_zoo/espnetv2/espnetv2_s_2.0_city_1024x512.pth", 2f),
        "edgenets-s1.0-96x160" => (new EdgeNetsS10CityAt96x160(), "weights/EdgeNets/model/segmentation/model_zoo/espnetv2/espnetv2_s_1.0_city_1024x512.pth", 2f),
        "psp-s0.5-96x160" => (new PspHeadS05At96x160(), "weights/ESPNetv2/segmentation/pretrained_models/espnetv2_segmentation_s_0.5.pth", 0.02f),
        _ => (ModelCatalog.CreatePrecompiled(ModelCatalog.Parse("espnetv2-s1.0"))!, "reference/eespnet_s1.0_random_weights_legacy.pth", 2f),
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void ONNX_Runtime_runs_the_export_with_our_outputs(string name)
    {
        var (network, weights, amplitude) = Create(name);
        network.LoadWeights(PthReader.Read(SharedData.Require(weights)));
        const int seed = 41;
        var rng = new Random(seed);
        var s = network.InputShape;
        var input = new float[network.Batch * s.Elements];
        for (int i = 0; i < input.Length; i++) input[i] = (float)(rng.NextDouble() * 2 - 1) * amplitude;
        var ours = new float[network.Batch * network.OutputShape.Elements];
        network.Forward(input, ours);

        var model = new MemoryStream();
        network.ExportOnnx(model);
        using var options = new SessionOptions { IntraOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        using var session = new InferenceSession(model.ToArray(), options);
        var o = network.OutputShape;
        Assert.Equal([network.Batch, s.Channels, s.Height, s.Width], session.InputMetadata["input"].Dimensions);
        Assert.Equal([network.Batch, o.Channels, o.Height, o.Width], session.OutputMetadata["output"].Dimensions);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("input", new DenseTensor<float>(input, [network.Batch, s.Channels, s.Height, s.Width]))]);
        float[] theirs = [.. results.Single().AsEnumerable<float>()];

        double scale = theirs.Max(Math.Abs), rawWorst = ours.Zip(theirs).Max(p => Math.Abs(p.First - p.Second));
        output.WriteLine($"{name}: max |output| {scale:G4}, max |ours - ONNX Runtime| {rawWorst:E2}");
        double worst = Compare.AssertClose(ours, theirs, $"{name}: ours vs ONNX Runtime (seed {seed})", Compare.ForwardTolerance);
        output.WriteLine($"{name}: {model.Length / 1024} KB ONNX, worst relative difference {worst:E2}");
    }
}

/// <summary>`espnet export-onnx` end to end: the file it writes, run by ONNX Runtime, gives what `espnet run` writes.</summary>
// Runs networks on the shared worker threads: kept apart from the tests that count those threads' allocations.
[Collection(nameof(Espnet.Compiled.Tests.Kernels.KernelSettings))]
public sealed class CliExportOnnxTests
{
    [Fact]
    public void The_exported_file_gives_what_run_writes()
    {
        Cli.CliHarness.EnsureP2Q3At64x128Compiled();
        string dir = Cli.CliHarness.TempDirectory();
        string onnx = Path.Combine(dir, "espnet.onnx"), logits = Path.Combine(dir, "out.f32");
        string[] model = ["--model", "espnet-p2-q3", "--height", "64", "--width", "128", "--weights", "builtin"];
        var export = Cli.CliHarness.Run(["export-onnx", .. model, "--out", onnx]);
        Assert.True(export.Code == 0, export.Err);
        Assert.Contains("'input' 1x3x64x128 -> 'output' 1x20x64x128", export.Out);
        Assert.Contains("BGR, Cityscapes mean/std", export.Out);
        Assert.Equal(0, Cli.CliHarness.Run(["run", .. model, "--input", "synthetic", "--output", logits]).Code);

        var input = new float[3 * 64 * 128];
        for (int c = 0; c < 3; c++)
            for (int h = 0; h < 64; h++)
                for (int w = 0; w < 128; w++)
                    input[(c * 64 + h) * 128 + w] = ((7 * h + 13 * w + 29 * c) % 256 - 128) / 128f;   // run's synthetic input
        using var session = new InferenceSession(onnx);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("input", new DenseTensor<float>(input, [1, 3, 64, 128]))]);
        float[] theirs = [.. results.Single().AsEnumerable<float>()];
        // The synthetic pattern is ±1, 50x ESPNet's preprocessed range: outputs reach ~1e3, so the float32 noise floor applies.
        Compare.AssertClose(SharedData.ReadF32(logits), theirs, "run vs the exported model in ONNX Runtime", Compare.ForwardTolerance, noiseFloor: 2.5e-6);

        Assert.Contains("exists: pass --force", Cli.CliHarness.AssertFails(Cli.CliHarness.Run(["export-onnx", .. model, "--out", onnx]), 2));
    }
}
