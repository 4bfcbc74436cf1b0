using Espnet.Compiled.Tests.Support;
using Microsoft.CodeAnalysis;

namespace Espnet.Compiled.Tests.Generator;

/// <summary>One test per diagnostic: its ID, severity, the exact text it points at, and the numbers in its message.</summary>
public sealed class DiagnosticTests
{
    private const string Usings = "using Espnet.Compiled;\nnamespace Models;\n";

    private static (GeneratorHarness.Result, Diagnostic) Single(string declaration, string id)
    {
        var result = GeneratorHarness.Run(Usings + declaration);
        var matching = result.GeneratorDiagnostics.Where(d => d.Id == id).ToList();
        Assert.True(matching.Count == 1,
            $"expected one {id}, got: {string.Join(" | ", result.GeneratorDiagnostics.Select(d => d.Id + " " + d.GetMessage()))}");
        return (result, matching[0]);
    }

    private static void AssertAt((GeneratorHarness.Result Result, Diagnostic D) found, DiagnosticSeverity severity, string text, params string[] messageParts)
    {
        var d = found.D;
        Assert.Equal(severity, d.Severity);
        Assert.Equal(GeneratorHarness.FileName, d.Location.GetLineSpan().Path);
        Assert.Equal(text, GeneratorHarness.TextAt(found.Result, d));
        string message = d.GetMessage(System.Globalization.CultureInfo.InvariantCulture);
        foreach (string part in messageParts) Assert.Contains(part, message);
    }

    [Fact]
    public void ESPN0001_classes_below_one() =>
        AssertAt(Single("[EspNet(Classes = 0, Height = 64, Width = 128)] public partial class M;", "ESPN0001"),
            DiagnosticSeverity.Error, "Classes = 0", "Classes = 0", "at least one class");

    [Fact]
    public void ESPN0002_negative_module_count() =>
        AssertAt(Single("[EspNetC(P = 2, Q = -1)] public partial class M;", "ESPN0002"),
            DiagnosticSeverity.Error, "Q = -1", "Q = -1", "cannot be negative");

    [Fact]
    public void ESPN0003_decoder_with_fewer_than_five_classes_points_at_classes() =>
        AssertAt(Single("[EspNet(Classes = 3, Height = 64, Width = 128)] public partial class M;", "ESPN0003"),
            DiagnosticSeverity.Error, "Classes = 3", "combine_l2_l3.1", "Out = 3", "K = 5", "3/5 = 0", "Classes >= 5");

    [Fact]
    public void ESPN0003_layer_level_esp_narrower_than_its_branches() =>
        AssertAt(Single("[Network(Height = 16, Width = 16)][Esp(\"e\", \"input\", Out = 3, K = 4, Residual = false)] public partial class M;", "ESPN0003"),
            DiagnosticSeverity.Error, "Out = 3", "'e'", "K = 4", "Out >= 4");

    [Fact]
    public void ESPN0004_decoder_size_not_a_multiple_of_8() =>
        AssertAt(Single("[EspNet(Classes = 20, Height = 100, Width = 128)] public partial class M;", "ESPN0004"),
            DiagnosticSeverity.Error, "Height = 100", "Height = 100", "multiple of 8", "13", "104", "Height = 96 or 104");

    [Fact]
    public void ESPN0004_segmentation_size_not_a_multiple_of_16() =>
        AssertAt(Single("[EspNetV2Segmentation(Scale = 1.0, Height = 96, Width = 168)] public partial class M;", "ESPN0004"),
            DiagnosticSeverity.Error, "Width = 168", "Width = 168", "multiple of 16", "11", "176", "Width = 160 or 176");

    [Fact]
    public void ESPN0016_scale_without_a_released_PSP_head() =>
        AssertAt(Single("[EspNetV2Segmentation(Scale = 2.0, Height = 64, Width = 128, Head = EspNetV2Head.Psp)] public partial class M;", "ESPN0016"),
            DiagnosticSeverity.Error, "Scale = 2.0", "0.5, 1.0, 1.5 for the PSP head");

    [Fact]
    public void ESPN0005_concat_of_different_sizes_points_at_the_mismatched_input() =>
        AssertAt(Single("""
            [Network(Height = 16, Width = 16)]
            [Conv("a", "input", Out = 4, Stride = 2)]
            [Concat("c", "a", "input")]
            public partial class M;
            """, "ESPN0005"),
            DiagnosticSeverity.Error, "\"input\"", "'c'", "'a' (4x8x8)", "'input' (3x16x16)");

    [Fact]
    public void ESPN0006_residual_between_different_widths() =>
        AssertAt(Single("[Network(Height = 16, Width = 16)][Esp(\"e\", \"input\", Out = 8, K = 4)] public partial class M;", "ESPN0006"),
            DiagnosticSeverity.Error, "Out = 8", "'e'", "3x16x16", "8x16x16", "Residual = false");

    [Fact]
    public void ESPN0006_add_of_different_shapes() =>
        AssertAt(Single("""
            [Network(Height = 16, Width = 16)]
            [Conv("a", "input", Out = 4)]
            [Conv("b", "input", Out = 5)]
            [Add("s", "a", "b")]
            public partial class M;
            """, "ESPN0006"),
            DiagnosticSeverity.Error, "\"b\"", "'s'", "4x16x16", "5x16x16");

    [Fact]
    public void ESPN0007_dilation_beyond_the_map_is_a_warning_and_still_compiles()
    {
        var result = GeneratorHarness.Run(Usings + "[Network(Height = 8, Width = 32)][Conv(\"a\", \"input\", Out = 4, Dilation = 8)] public partial class M;");
        var d = Assert.Single(result.GeneratorDiagnostics);
        Assert.Equal("ESPN0007", d.Id);
        AssertAt((result, d), DiagnosticSeverity.Warning, "Dilation = 8", "dilation 8", "17x17", "8x32");
        Assert.Single(result.Sources);
        Assert.Empty(result.CompilationErrors);
    }

    [Fact]
    public void ESPN0008_reference_to_an_undeclared_layer() =>
        AssertAt(Single("[Network(Height = 16, Width = 16)][Conv(\"a\", \"input\", Out = 4)][Conv(\"b\", \"missing\", Out = 4)] public partial class M;", "ESPN0008"),
            DiagnosticSeverity.Error, "\"missing\"", "'b' reads 'missing'", "input, a");

    [Fact]
    public void ESPN0009_duplicate_layer_name() =>
        AssertAt(Single("[Network(Height = 16, Width = 16)][Conv(\"a\", \"input\", Out = 4)][Conv(\"a\", \"a\", Out = 4)] public partial class M;", "ESPN0009"),
            DiagnosticSeverity.Error, "\"a\"", "'a'", "unique");

    [Fact]
    public void ESPN0010_invalid_argument() =>
        AssertAt(Single("[Network(Height = 16, Width = 16)][Conv(\"a\", \"input\", Out = 0)] public partial class M;", "ESPN0010"),
            DiagnosticSeverity.Error, "Out = 0", "'a'", "Out = 0");

    [Fact]
    public void ESPN0010_network_without_a_size() =>
        AssertAt(Single("[Network(Width = 16)][Conv(\"a\", \"input\", Out = 4)] public partial class M;", "ESPN0010"),
            DiagnosticSeverity.Error, "Network(Width = 16)", "Height = 0");

    [Fact]
    public void ESPN0010_dilation_list_of_the_wrong_length() =>
        AssertAt(Single("[Network(Height = 16, Width = 16)][Esp(\"e\", \"input\", Out = 9, K = 3, Residual = false, Dilations = new[] { 1, 2 })] public partial class M;", "ESPN0010"),
            DiagnosticSeverity.Error, "Dilations = new[] { 1, 2 }", "[1, 2]", "one dilation per branch (3)");

    [Fact]
    public void ESPN0011_groups_that_do_not_divide_the_channels() =>
        AssertAt(Single("[Network(Height = 16, Width = 16)][Conv(\"a\", \"input\", Out = 4, Groups = 2)] public partial class M;", "ESPN0011"),
            DiagnosticSeverity.Error, "Groups = 2", "Groups = 2", "input channels (3)", "output channels (4)");

    [Fact]
    public void ESPN0012_class_not_partial() =>
        AssertAt(Single("[EspNetC(Height = 64, Width = 64)] public class M { }", "ESPN0012"),
            DiagnosticSeverity.Error, "M", "'M'", "partial");

    [Fact]
    public void ESPN0013_network_without_layers() =>
        AssertAt(Single("[Network(Height = 16, Width = 16)] public partial class M;", "ESPN0013"),
            DiagnosticSeverity.Error, "Network(Height = 16, Width = 16)", "'M'", "declares no layers");

    [Fact]
    public void ESPN0014_eesp_width_not_a_multiple_of_k_squared() =>
        AssertAt(Single("[Network(Height = 16, Width = 16)][Conv(\"a\", \"input\", Out = 8)][Eesp(\"e\", \"a\", Out = 24, K = 4)] public partial class M;", "ESPN0014"),
            DiagnosticSeverity.Error, "Out = 24", "'e'", "Out = 24 is not a multiple of K x K = 16", "K = 4 branches", "use Out = 16 or 32");

    [Fact]
    public void ESPN0014_downsampler_eesp_width_counts_out_minus_input() =>
        AssertAt(Single("[Network(Height = 16, Width = 16)][Conv(\"a\", \"input\", Out = 8)][DownSampler(\"d\", \"a\", Out = 20, K = 4, Reinforce = false)] public partial class M;", "ESPN0014"),
            DiagnosticSeverity.Error, "Out = 20", "'d'", "Out - input channels = 20 - 8 = 12", "K x K = 16", "use Out = 24");

    [Fact]
    public void ESPN0015_eesp_input_channels_not_divisible_by_k() =>
        AssertAt(Single("[Network(Height = 16, Width = 16)][Conv(\"a\", \"input\", Out = 6)][Eesp(\"e\", \"a\", Out = 16, K = 4)] public partial class M;", "ESPN0015"),
            DiagnosticSeverity.Error, "\"a\"", "'e' reads 6 channels", "K = 4 groups", "make 'a' produce a multiple of 4 channels");

    [Fact]
    public void ESPN0016_unknown_espnetv2_scale_lists_the_valid_ones() =>
        AssertAt(Single("[EspNetV2(Scale = 0.75, Classes = 10)] public partial class M;", "ESPN0016"),
            DiagnosticSeverity.Error, "Scale = 0.75", "Scale = 0.75", "0.5, 1.0, 1.25, 1.5, 2.0");

    [Fact]
    public void ESPN0017_downsampler_not_wider_than_its_input() =>
        AssertAt(Single("[Network(Height = 16, Width = 16)][Conv(\"a\", \"input\", Out = 16)][DownSampler(\"d\", \"a\", Out = 16)] public partial class M;", "ESPN0017"),
            DiagnosticSeverity.Error, "Out = 16", "'d'", "Out = 16 must exceed its input's 16 channels", "use Out = 32 or more");

    [Fact]
    public void ESPN0018_image_pooling_that_never_meets_the_output_height() =>
        AssertAt(Single("""
            [Network(Height = 16, Width = 16)]
            [ConvTranspose("up", "input", Out = 8)]
            [DownSampler("d", "up", Out = 24, K = 4)]
            public partial class M;
            """, "ESPN0018"),
            DiagnosticSeverity.Error, "DownSampler(\"d\", \"up\", Out = 24, K = 4)", "'d'", "the 3x16x16 image", "output height 16", "the heights go 8 and never reach 16", "Reinforce = false");

    [Fact]
    public void ESPN0018_pooled_image_of_another_width() =>
        // The image's first pooling is 3x8x6; the DownSampler's output (from a 15x13 map) is 20x8x7.
        AssertAt(Single("""
            [Network(Height = 16, Width = 12)]
            [ConvTranspose("t1", "input", Out = 4, Kernel = 3, Stride = 1)]
            [Conv("s", "t1", Out = 4, Stride = 2)]
            [ConvTranspose("t2", "s", Out = 4, Kernel = 3, Stride = 1)]
            [ConvTranspose("t3", "t2", Out = 4, Kernel = 3, Stride = 1)]
            [ConvTranspose("t4", "t3", Out = 4, Kernel = 3, Stride = 1)]
            [DownSampler("d", "t4", Out = 20, K = 4, Reinforce = true)]
            public partial class M;
            """, "ESPN0018"),
            DiagnosticSeverity.Error, "Reinforce = true", "'d'", "the 3x16x12 image", "output height 8", "after 1 pooling the image is 3x8x6, but the output is 20x8x7");

    [Fact]
    public void ESPN0018_espnetv2_input_too_flat_for_the_height_only_pooling_loop() =>
        // The authors pool the image until its height matches: 2x64 -> 1x32 stops at once, but level2_0 is 1x16.
        AssertAt(Single("[EspNetV2(Scale = 0.5, Height = 2, Width = 64)] public partial class M;", "ESPN0018"),
            DiagnosticSeverity.Error, "Height = 2", "'level2_0'", "the 3x2x64 image", "after 1 pooling the image is 3x1x32, but the output is 32x1x16");

    [Fact]
    public void A_valid_EspNetV2_compiles_without_diagnostics()
    {
        var result = GeneratorHarness.Run(Usings + "[EspNetV2(Scale = 0.5, Classes = 10)] public sealed partial class M;");
        Assert.Empty(result.GeneratorDiagnostics);
        Assert.Empty(result.CompilationErrors);
    }

    [Fact]
    public void ESPN0019_two_model_attributes_on_one_class()
    {
        var result = GeneratorHarness.Run(Usings + "[EspNet(Height = 64, Width = 128)][EspNetC(Height = 64, Width = 128)] public partial class M;");
        var found = result.GeneratorDiagnostics.Where(d => d.Id == "ESPN0019").ToList();
        Assert.Equal(2, found.Count); // one at each attribute; neither network is emitted
        AssertAt((result, found[0]), DiagnosticSeverity.Error, "EspNet(Height = 64, Width = 128)", "'M'", "[EspNet], [EspNetC]");
        Assert.Empty(result.Sources);
    }

    [Fact]
    public void ESPN0020_generic_class() =>
        AssertAt(Single("[EspNetC(Height = 64, Width = 64)] public partial class M<T>;", "ESPN0020"),
            DiagnosticSeverity.Error, "M", "'M'", "generic");

    [Fact]
    public void ESPN0020_class_with_a_base_class() =>
        AssertAt(Single("public class Base { } [EspNetC(Height = 64, Width = 64)] public partial class M : Base;", "ESPN0020"),
            DiagnosticSeverity.Error, "M", "derived from 'Base'");

    [Fact]
    public void ESPN0020_nested_in_a_struct() =>
        AssertAt(Single("public partial struct Outer { [EspNetC(Height = 64, Width = 64)] public partial class M; }", "ESPN0020"),
            DiagnosticSeverity.Error, "M", "'Outer' is a struct");

    [Fact]
    public void ESPN0020_static_class() =>
        AssertAt(Single("[Network(Height = 32, Width = 32)][Conv(\"c\", \"input\", Out = 8)] public static partial class M;", "ESPN0020"),
            DiagnosticSeverity.Error, "M", "'M' is static");

    [Fact]
    public void ESPN0010_batchnorm_epsilon_of_zero() =>
        AssertAt(Single("[Network(Height = 32, Width = 32, BatchNormEps = 0)][Conv(\"c\", \"input\", Out = 8)] public partial class M;", "ESPN0010"),
            DiagnosticSeverity.Error, "BatchNormEps = 0", "BatchNormEps = 0 is invalid", "small positive number");

    [Fact]
    public void ESPN0010_an_empty_dilation_list_is_not_the_default() =>
        AssertAt(Single("[Network(Height = 32, Width = 32)][Conv(\"c\", \"input\", Out = 20)][Esp(\"e\", \"c\", Out = 20, K = 2, Dilations = new int[0])] public partial class M;", "ESPN0010"),
            DiagnosticSeverity.Error, "Dilations = new int[0]", "Dilations = [] is invalid", "leave Dilations out for the default");

    [Fact]
    public void ESPN0022_a_layer_nothing_reads_is_a_warning_and_still_compiles()
    {
        var found = Single("[Network(Height = 32, Width = 32, Output = \"b\")][Conv(\"a\", \"input\", Out = 8)][Conv(\"b\", \"input\", Out = 8)][Conv(\"after\", \"input\", Out = 8)] public partial class M;", "ESPN0022");
        AssertAt(found, DiagnosticSeverity.Warning, "\"a\"", "'a' is computed but no layer reads it", "('b')");
        Assert.Empty(found.Item1.CompilationErrors);
    }

    [Theory]
    [InlineData(3000)]
    [InlineData(1)]
    public void Long_and_odd_layer_names_compile(int length)
    {
        string name = length == 1 ? "a\\\"b c/d.é" : new string('x', length);
        var result = GeneratorHarness.Run(Usings + $"[Network(Height = 32, Width = 32)][Conv(\"{name}\", \"input\", Out = 8)] public partial class M;");
        Assert.Empty(result.GeneratorDiagnostics);
        Assert.Empty(result.CompilationErrors);
    }

    [Theory]
    [InlineData("[Concat(\"c\")]", "\"c\"", "a concatenation joins the layers named after it")]
    [InlineData("[Concat(\"c\", null)]", "\"c\"", "a concatenation joins the layers named after it")]
    [InlineData("[Conv(\"\", \"input\", Out = 4)]", "\"\"", "non-empty name")]
    [InlineData("[Conv(\"a\", \"\", Out = 4)]", "\"\"", "name the layer")]
    [InlineData("[Conv(\"a\", \"input\", Out = 4, Eps = double.NaN)]", "Eps = double.NaN", "small positive number")]
    [InlineData("[Conv(\"a\", \"input\", Out = 4, Dilation = 100000)]", "Dilation = 100000", "largest supported value is 4096")]
    [InlineData("[Conv(\"a\", \"input\", Out = 4)][Resize(\"r\", \"a\", Factor = double.PositiveInfinity)]", "Factor = double.PositiveInfinity", "finite factor")]
    [InlineData("[Conv(\"a\", \"input\", Out = 40000, Kernel = 1)]", "\"a\"", "exceeds the 268,435,456")]
    public void ESPN0010_malformed_layers_are_diagnosed_not_crashes(string layers, string at, string message)
    {
        var result = GeneratorHarness.Run(Usings + "[Network(Height = 128, Width = 128)]" + layers + " public partial class M;");
        Assert.DoesNotContain(result.GeneratorDiagnostics, d => d.Id.StartsWith("CS"));
        var d = Assert.Single(result.GeneratorDiagnostics, d => d.Id == "ESPN0010");
        AssertAt((result, d), DiagnosticSeverity.Error, at, message);
    }

    [Fact]
    public void Layered_ESPNetv2_blocks_default_to_their_authors_epsilon()
    {
        var result = GeneratorHarness.Run(Usings + "[Network(Height = 32, Width = 32)][Conv(\"c\", \"input\", Out = 16)][Eesp(\"e\", \"c\", Out = 16, K = 2)] public partial class M;");
        string source = Assert.Single(result.Sources).Value;
        Assert.Contains(", 0.001f", source); // the Conv: ESPNet's 1e-3
        Assert.Contains(", 1E-05f", source); // the EESP: ESPNetv2's 1e-5
        Assert.DoesNotContain(", 1E-05f, 16, DerivedStore.Slice(0,", source); // the first BN folded is the Conv's
    }

    [Fact]
    public void ESPN0021_layer_attributes_without_a_Network_are_reported_ignored()
    {
        var result = GeneratorHarness.Run(Usings + "[Conv(\"a\", \"input\", Out = 4)] public partial class M;");
        var d = Assert.Single(result.GeneratorDiagnostics);
        Assert.Equal("ESPN0021", d.Id);
        AssertAt((result, d), DiagnosticSeverity.Warning, "Conv(\"a\", \"input\", Out = 4)", "'M': [Conv] is ignored", "no [Network] attribute");
    }

    [Fact]
    public void ESPN0021_layer_attributes_on_a_whole_model_class()
    {
        var result = GeneratorHarness.Run(Usings + "[EspNetC(Height = 64, Width = 64)][Esp(\"x\", \"input\", Out = 10)] public partial class M;");
        var d = Assert.Single(result.GeneratorDiagnostics, d => d.Id == "ESPN0021");
        AssertAt((result, d), DiagnosticSeverity.Warning, "Esp(\"x\", \"input\", Out = 10)", "[EspNetC] expands to the authors' own layers");
        Assert.Single(result.Sources);
    }

    [Fact]
    public void Every_descriptor_has_a_test_and_a_README_row()
    {
        var ids = typeof(Espnet.Compiled.Generator.Diagnostics.DiagnosticDescriptors).GetFields()
            .Select(f => f.GetValue(null)).OfType<DiagnosticDescriptor>().Select(d => d.Id).ToList();
        var tested = typeof(DiagnosticTests).GetMethods().Select(m => m.Name).Where(n => n.StartsWith("ESPN")).Select(n => n[..8]).ToHashSet();
        Assert.DoesNotContain(ids, id => !tested.Contains(id));
        string readme = File.ReadAllText(Path.Combine(RepoRoot(), "README.md"));
        Assert.DoesNotContain(ids, id => !readme.Contains("| " + id + " |"));
    }

    [Fact]
    public void A_valid_network_compiles_without_diagnostics()
    {
        var result = GeneratorHarness.Run(Usings + "[EspNet(Classes = 20, P = 2, Q = 3, Height = 512, Width = 1024)] public sealed partial class M;");
        Assert.Empty(result.GeneratorDiagnostics);
        Assert.Empty(result.CompilationErrors);
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Espnet.Compiled.sln"))) return dir.FullName;
        throw new InvalidOperationException("repository root not found above " + AppContext.BaseDirectory);
    }
}
