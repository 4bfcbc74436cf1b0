using Espnet.Compiled.Generator;
using Espnet.Compiled.Generator.Model;
using Espnet.Compiled.Tests.Support;

namespace Espnet.Compiled.Tests.Generator;

/// <summary>
/// The generated C# and the schedule it prints, for small representative networks, reviewed and committed
/// as *.verified.cs / *.verified.txt: with the reference kernels (the lowering as written, no passes) and the
/// fast ones (BatchNorm folded, epilogues fused, kernels selected).
/// </summary>
public sealed class SnapshotTests
{
    private const string Small = """
        using Espnet.Compiled;
        namespace Models;

        [Network(Height = 40, Width = 48{0})]
        [Conv("level1", "input", Out = 8, Stride = 2)]
        [AvgPool("sample1", "input")]
        [Concat("cat", "level1", "sample1")]
        [BatchNorm("b1", "cat")]
        [Esp("down", "b1", Out = 12, K = 3, Stride = 2)]
        [Esp("esp", "down", Out = 12, K = 3)]
        [Conv("classifier", "esp", Out = 4, Kernel = 1, BatchNorm = false, PRelu = false)]
        [ConvTranspose("up", "classifier", Out = 4)]
        public sealed partial class Small;
        """;

    private const string EspNetC = """
        using Espnet.Compiled;
        namespace Models;

        [EspNetC(Classes = 5, P = 1, Q = 1, Height = 32, Width = 32{0})]
        public sealed partial class Tiny;
        """;

    // The whole ESPNet: the decoder's last conv writes its output into the caller's output span, rows blocked,
    // where the transposed convolution reads it (the planner's TransposeInOutput).
    private const string EspNet = """
        using Espnet.Compiled;
        namespace Models;

        [EspNet(Classes = 5, P = 1, Q = 1, Height = 32, Width = 32{0})]
        public sealed partial class TinyDecoder;
        """;

    private const string V2Blocks = """
        using Espnet.Compiled;
        namespace Models;

        [Network(Height = 32, Width = 32, BatchNormEps = 1e-5{0})]
        [Conv("level1", "input", Out = 8, Stride = 2)]
        [DownSampler("level2_0", "level1", Out = 24, RLim = 13)]
        [Eesp("level2.0", "level2_0", Out = 16, K = 4, RLim = 5)]
        [DownSampler("level3_0", "level2.0", Out = 32, RLim = 7, Reinforce = false)]
        [GlobalAvgPool("pool", "level3_0")]
        [Linear("classifier", "pool", Out = 5)]
        public sealed partial class V2Blocks;
        """;

    private const string Heads = """
        using Espnet.Compiled;
        namespace Models;

        [Network(Height = 12, Width = 20, InputChannels = 6, BatchNormEps = 1e-5{0})]
        [GatedConv("gate", "input", Out = 4)]
        [PyramidPool("pyr", "gate", Proj = 2, Out = 3, LastBatchNorm = false)]
        [Resize("up", "pyr")]
        [PspPool("psp", "up", Out = 3, Levels = 2)]
        [Resize("out", "psp", Like = "input")]
        public sealed partial class Heads;
        """;

    public static TheoryData<string, string> Networks => new()
    {
        { "Small", Small },
        { "EspNetC_p1q1", EspNetC },
        { "EspNet_p1q1", EspNet },
        { "EspNetV2_blocks", V2Blocks },
        { "Segmentation_heads", Heads },
    };

    [Theory]
    [MemberData(nameof(Networks))]
    public void Reference_kernels(string name, string source) => Check(name, source.Replace("{0}", ", Kernels = CpuKernels.Reference"), name);

    [Theory]
    [MemberData(nameof(Networks))]
    public void Fast_kernels(string name, string source) => Check(name, source.Replace("{0}", ""), name + ".fast");

    private static void Check(string name, string source, string snapshot)
    {
        var result = GeneratorHarness.Run(source);
        Assert.DoesNotContain(result.GeneratorDiagnostics, d => d.Severity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error);
        Assert.Empty(result.CompilationErrors);
        string generated = Assert.Single(result.Sources).Value;
        // The CUDA translation unit is kept once, as it is compiled, in {name}.verified.cu: both CPU kernel choices
        // must print the same one; the C# snapshot holds the rest.
        var (cs, cu) = SplitCuda(generated, name);
        Snapshot.Verify(cs, "cs", snapshot);
        Snapshot.Verify(cu, "cu", name);

        var spec = (NetworkSpec)result.Driver.GetRunResult().Results.Single().TrackedSteps["LocationFreeSpec"].Single().Outputs.Single().Value;
        string? schedule = EspnetGenerator.Schedule(spec);
        Assert.NotNull(schedule);
        Snapshot.Verify(schedule, "txt", snapshot + ".schedule");
    }

    /// <summary>
    /// The generated C# with its CudaSource raw string literal replaced by a pointer to the .cu snapshot, and that
    /// literal's text, its indentation removed as the compiler does.
    /// </summary>
    private static (string Cs, string Cu) SplitCuda(string generated, string name)
    {
        var lines = generated.Split('\n');
        int open = Array.FindIndex(lines, l => l.Contains("CudaSource => \"\"\"", StringComparison.Ordinal));
        Assert.True(open >= 0, "the generated code has no CudaSource");
        int close = Array.FindIndex(lines, open + 1, l => l.TrimStart() == "\"\"\"u8;");
        int indent = lines[close].Length - lines[close].TrimStart().Length;
        string cu = string.Join("\n", lines[(open + 1)..close].Select(l => l.Length >= indent ? l[indent..] : l.TrimStart())) + "\n";
        string cs = string.Join("\n", lines[..(open + 1)].Append(new string(' ', indent) + $"(the CUDA translation unit: {name}.verified.cu)").Concat(lines[close..]));
        return (cs, cu);
    }
}
