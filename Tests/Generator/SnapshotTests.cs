using Espnet.Compiled.Tests.Support;

namespace Espnet.Compiled.Tests.Generator;

/// <summary>The generated C# for small representative networks, reviewed and committed as *.verified.cs.</summary>
public sealed class SnapshotTests
{
    [Fact]
    public void Small_layered_network()
    {
        var result = GeneratorHarness.Run("""
            using Espnet.Compiled;
            namespace Models;

            [Network(Height = 40, Width = 48)]
            [Conv("level1", "input", Out = 8, Stride = 2)]
            [AvgPool("sample1", "input")]
            [Concat("cat", "level1", "sample1")]
            [BatchNorm("b1", "cat")]
            [Esp("down", "b1", Out = 12, K = 3, Stride = 2)]
            [Esp("esp", "down", Out = 12, K = 3)]
            [Conv("classifier", "esp", Out = 4, Kernel = 1, BatchNorm = false, PRelu = false)]
            [ConvTranspose("up", "classifier", Out = 4)]
            public sealed partial class Small;
            """);
        Assert.Empty(result.GeneratorDiagnostics);
        Assert.Empty(result.CompilationErrors);
        Snapshot.Verify(Assert.Single(result.Sources).Value, "cs", "Small");
    }

    [Fact]
    public void EspNetC_p1q1_from_the_whole_model_attribute()
    {
        var result = GeneratorHarness.Run("""
            using Espnet.Compiled;
            namespace Models;

            [EspNetC(Classes = 5, P = 1, Q = 1, Height = 32, Width = 32)]
            public sealed partial class Tiny;
            """);
        Assert.Empty(result.CompilationErrors);
        Snapshot.Verify(Assert.Single(result.Sources).Value, "cs", "EspNetC_p1q1");
    }

    [Fact]
    public void EspNetV2_blocks()
    {
        var result = GeneratorHarness.Run("""
            using Espnet.Compiled;
            namespace Models;

            [Network(Height = 32, Width = 32, BatchNormEps = 1e-5)]
            [Conv("level1", "input", Out = 8, Stride = 2)]
            [DownSampler("level2_0", "level1", Out = 24, RLim = 13)]
            [Eesp("level2.0", "level2_0", Out = 16, K = 4, RLim = 5)]
            [DownSampler("level3_0", "level2.0", Out = 32, RLim = 7, Reinforce = false)]
            [GlobalAvgPool("pool", "level3_0")]
            [Linear("classifier", "pool", Out = 5)]
            public sealed partial class V2Blocks;
            """);
        Assert.Empty(result.GeneratorDiagnostics);
        Assert.Empty(result.CompilationErrors);
        Snapshot.Verify(Assert.Single(result.Sources).Value, "cs", "EspNetV2_blocks");
    }

    [Fact]
    public void Segmentation_head_blocks()
    {
        var result = GeneratorHarness.Run("""
            using Espnet.Compiled;
            namespace Models;

            [Network(Height = 12, Width = 20, InputChannels = 6, BatchNormEps = 1e-5)]
            [GatedConv("gate", "input", Out = 4)]
            [PyramidPool("pyr", "gate", Proj = 2, Out = 3, LastBatchNorm = false)]
            [Resize("up", "pyr")]
            [PspPool("psp", "up", Out = 3, Levels = 2)]
            [Resize("out", "psp", Like = "input")]
            public sealed partial class Heads;
            """);
        Assert.Empty(result.GeneratorDiagnostics);
        Assert.Empty(result.CompilationErrors);
        Snapshot.Verify(Assert.Single(result.Sources).Value, "cs", "Segmentation_heads");
    }
}
