using System.Collections.Immutable;
using Espnet.Compiled.Generator;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Espnet.Compiled.Tests.Support;

/// <summary>Runs the generator in memory over a source string, offline (reference assemblies from a package).</summary>
public static class GeneratorHarness
{
    public const string FileName = "Model.cs";

    public sealed record Result(
        ImmutableArray<Diagnostic> GeneratorDiagnostics,
        ImmutableArray<Diagnostic> CompilationErrors,
        IReadOnlyDictionary<string, string> Sources,
        GeneratorDriver Driver,
        CSharpCompilation Compilation);

    public static CSharpCompilation CreateCompilation(string source) =>
        CSharpCompilation.Create("TestModels",
            new[] { CSharpSyntaxTree.ParseText(source, new CSharpParseOptions(LanguageVersion.Latest), path: FileName) },
            Basic.Reference.Assemblies.Net100.References.All.Append(MetadataReference.CreateFromFile(typeof(EspNetAttribute).Assembly.Location)),
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

    public static GeneratorDriver CreateDriver() =>
        CSharpGeneratorDriver.Create(new[] { new EspnetGenerator().AsSourceGenerator() },
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    public static Result Run(string source)
    {
        var compilation = CreateCompilation(source);
        var driver = CreateDriver().RunGeneratorsAndUpdateCompilation(compilation, out var output, out var diagnostics);
        var run = driver.GetRunResult();
        var sources = run.Results.SelectMany(r => r.GeneratedSources).ToDictionary(s => s.HintName, s => s.SourceText.ToString());
        var errors = output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToImmutableArray();
        return new Result(run.Diagnostics, errors, sources, driver, compilation);
    }

    /// <summary>The source text a diagnostic points at (the generator reports file locations: its spec holds no trees).</summary>
    public static string TextAt(Result result, Diagnostic d)
    {
        var tree = result.Compilation.SyntaxTrees.Single(t => t.FilePath == d.Location.GetLineSpan().Path);
        return tree.GetText().ToString(d.Location.SourceSpan);
    }
}
