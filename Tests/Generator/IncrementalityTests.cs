using System.Reflection;
using Espnet.Compiled.Generator.Model;
using Espnet.Compiled.Tests.Support;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Espnet.Compiled.Tests.Generator;

/// <summary>The spec is plain data (no symbols, syntax or Location), so unrelated edits leave outputs cached.</summary>
public sealed class IncrementalityTests
{
    private static readonly Type[] Forbidden = { typeof(ISymbol), typeof(SyntaxNode), typeof(Location), typeof(Compilation), typeof(SemanticModel), typeof(SyntaxTree), typeof(AttributeData) };

    [Fact]
    public void Spec_types_hold_no_symbols_or_syntax()
    {
        var seen = new HashSet<Type>();
        var queue = new Queue<Type>(new[] { typeof(NetworkSpec) });
        while (queue.Count > 0)
        {
            var type = queue.Dequeue();
            if (!seen.Add(type) || type.IsPrimitive || type == typeof(string) || type.IsEnum) continue;
            Assert.DoesNotContain(Forbidden, f => f.IsAssignableFrom(type));
            foreach (var field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
            {
                var fieldType = field.FieldType.IsArray ? field.FieldType.GetElementType()! : field.FieldType;
                queue.Enqueue(fieldType);
                foreach (var arg in fieldType.GetGenericArguments()) queue.Enqueue(arg);
            }
        }
        Assert.Contains(typeof(LayerSpec), seen);
        Assert.Contains(typeof(LocationInfo), seen);
    }

    [Fact]
    public void Editing_an_unrelated_file_keeps_the_compiled_output_cached()
    {
        const string model = "using Espnet.Compiled; namespace M; [EspNetC(Classes = 5, P = 1, Q = 1, Height = 32, Width = 32)] public sealed partial class Tiny;";
        var compilation = GeneratorHarness.CreateCompilation(model);
        var driver = GeneratorHarness.CreateDriver().RunGenerators(compilation, TestContext.Current.CancellationToken);

        var edited = compilation.AddSyntaxTrees(CSharpSyntaxTree.ParseText("// a comment\nclass Unrelated { }", new CSharpParseOptions(LanguageVersion.Latest), path: "Other.cs",
            cancellationToken: TestContext.Current.CancellationToken));
        driver = driver.RunGenerators(edited, TestContext.Current.CancellationToken);

        var steps = driver.GetRunResult().Results.Single().TrackedSteps["Compiled"];
        var reasons = steps.SelectMany(s => s.Outputs).Select(o => o.Reason).ToList();
        Assert.NotEmpty(reasons);
        Assert.All(reasons, r => Assert.True(r is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"output was {r}"));
    }

    [Fact]
    public void Moving_the_declaration_within_its_file_keeps_the_generated_code_cached()
    {
        const string model = "using Espnet.Compiled; namespace M; [EspNetC(Classes = 5, P = 1, Q = 1, Height = 32, Width = 32)] public sealed partial class Tiny;";
        var compilation = GeneratorHarness.CreateCompilation(model);
        var driver = GeneratorHarness.CreateDriver().RunGenerators(compilation, TestContext.Current.CancellationToken);

        var tree = compilation.SyntaxTrees.Single();
        var moved = compilation.ReplaceSyntaxTree(tree, tree.WithChangedText(Microsoft.CodeAnalysis.Text.SourceText.From("// a comment that moves every span\n\n" + model)));
        driver = driver.RunGenerators(moved, TestContext.Current.CancellationToken);

        var run = driver.GetRunResult().Results.Single();
        var compiled = run.TrackedSteps["Compiled"].SelectMany(s => s.Outputs).Select(o => o.Reason).ToList();
        Assert.NotEmpty(compiled);
        Assert.All(compiled, r => Assert.True(r is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"generated code was {r}"));
        // The diagnostics branch did see the new positions.
        Assert.Contains(run.TrackedSteps["Diagnostics"].SelectMany(s => s.Outputs), o => o.Reason == IncrementalStepRunReason.Modified); // its ESPN0007 warnings moved
    }
}
