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
    public void Every_descriptor_has_a_test_and_a_README_row()
    {
        var ids = typeof(Espnet.Compiled.Generator.Diagnostics.DiagnosticDescriptors).GetFields()
            .Select(f => f.GetValue(null)).OfType<DiagnosticDescriptor>().Select(d => d.Id).ToList();
        var tested = typeof(DiagnosticTests).GetMethods().Select(m => m.Name).Where(n => n.StartsWith("ESPN")).Select(n => n[..8]).ToHashSet();
        Assert.Empty(ids.Where(id => !tested.Contains(id)));
        string readme = File.ReadAllText(Path.Combine(RepoRoot(), "README.md"));
        Assert.Empty(ids.Where(id => !readme.Contains("| " + id + " |")));
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
