using System.Text.RegularExpressions;
using Espnet.Compiled.Generator;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Espnet.Compiled.Tests.Docs;

/// <summary>
/// Every C# snippet in the README (and in the package's README) compiles as written, with the generator, as a
/// new project would build it (the SDK's implicit usings; a snippet with statements is a program, the others a
/// library).
/// </summary>
public sealed partial class ReadmeSnippetTests
{
    public static TheoryData<int, string> Snippets()
    {
        var data = new TheoryData<int, string>();
        int n = 0;
        string root = RepositoryRoot();
        foreach (string file in new[] { "README.md", Path.Combine("docs", "package-readme.md") })
            foreach (Match m in CSharpBlock().Matches(File.ReadAllText(Path.Combine(root, file))))
                data.Add(++n, m.Groups[1].Value);
        return data;
    }

    [Theory]
    [MemberData(nameof(Snippets))]
    public void Compiles_as_written(int number, string code)
    {
        var parse = new CSharpParseOptions(LanguageVersion.Latest);
        var snippet = CSharpSyntaxTree.ParseText(code, parse, path: "Snippet.cs", cancellationToken: TestContext.Current.CancellationToken);
        var implicitUsings = CSharpSyntaxTree.ParseText(
            "global using System; global using System.IO; global using System.Linq; global using System.Collections.Generic; global using System.Threading.Tasks;",
            parse, path: "Usings.cs", cancellationToken: TestContext.Current.CancellationToken);
        bool program = snippet.GetCompilationUnitRoot(TestContext.Current.CancellationToken).Members.OfType<GlobalStatementSyntax>().Any();
        var compilation = CSharpCompilation.Create("Snippet" + number, [snippet, implicitUsings],
            Basic.Reference.Assemblies.Net100.References.All.Append(MetadataReference.CreateFromFile(typeof(EspNetAttribute).Assembly.Location)),
            new CSharpCompilationOptions(program ? OutputKind.ConsoleApplication : OutputKind.DynamicallyLinkedLibrary,
                nullableContextOptions: NullableContextOptions.Enable));
        CSharpGeneratorDriver.Create([new EspnetGenerator().AsSourceGenerator()], parseOptions: parse)
            .RunGeneratorsAndUpdateCompilation(compilation, out var output, out var generatorDiagnostics, TestContext.Current.CancellationToken);
        var errors = generatorDiagnostics.Concat(output.GetDiagnostics(TestContext.Current.CancellationToken))
            .Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        Assert.True(errors.Count == 0, $"README snippet {number} does not compile: {string.Join(" | ", errors.Take(3).Select(d => d.Id + " " + d.GetMessage()))}\n{code}");
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Espnet.Compiled.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("no Espnet.Compiled.sln above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"```csharp\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CSharpBlock();
}
