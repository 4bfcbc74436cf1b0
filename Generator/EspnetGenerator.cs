using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Espnet.Compiled.Generator.Diagnostics;
using Espnet.Compiled.Generator.Emit.Cpu;
using Espnet.Compiled.Generator.Model;
using Espnet.Compiled.Generator.Parse;
using Espnet.Compiled.Generator.Plan;
using Espnet.Compiled.Generator.Shape;
using Microsoft.CodeAnalysis;

namespace Espnet.Compiled.Generator;

/// <summary>
/// The pipeline: attributes -> <see cref="NetworkSpec"/> (parse, cached by content) -> shapes and
/// diagnostics -> plan -> C#. Diagnostics and source are separate outputs: the source branch sees the spec
/// without source locations, so an edit that only moves a declaration leaves its generated code cached.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class EspnetGenerator : IIncrementalGenerator
{
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var layered = Specs(context, "NetworkAttribute", NetworkParser.ParseLayered);
        var espNet = Specs(context, "EspNetAttribute", (c, ct) => EspNetZoo.Parse(c, withDecoder: true, ct));
        var espNetC = Specs(context, "EspNetCAttribute", (c, ct) => EspNetZoo.Parse(c, withDecoder: false, ct));
        var espNetV2 = Specs(context, "EspNetV2Attribute", EspNetV2Zoo.Parse);
        var espNetV2Seg = Specs(context, "EspNetV2SegmentationAttribute", EspNetV2SegZoo.Parse);

        // Layer attributes only mean something under [Network]: anywhere else, say they are ignored.
        foreach (string layerAttribute in NetworkParser.LayerAttributes)
        {
            var ignored = context.SyntaxProvider.ForAttributeWithMetadataName(
                NetworkParser.Namespace + "." + layerAttribute,
                static (node, _) => node is Microsoft.CodeAnalysis.CSharp.Syntax.ClassDeclarationSyntax,
                static (ctx, _) => NetworkParser.IgnoredLayers(ctx));
            context.RegisterSourceOutput(ignored, static (spc, found) =>
            {
                foreach (var d in found) spc.ReportDiagnostic(ToDiagnostic(d));
            });
        }

        foreach (var specs in new[] { layered, espNet, espNetC, espNetV2, espNetV2Seg })
        {
            var diagnostics = specs.Select(static (spec, _) => ShapeInference.Run(spec).Diagnostics.ToEquatableArray()).WithTrackingName("Diagnostics");
            context.RegisterSourceOutput(diagnostics, static (spc, found) =>
            {
                foreach (var d in found) spc.ReportDiagnostic(ToDiagnostic(d));
            });

            var compiled = specs
                .Select(static (spec, _) => spec.WithoutLocations()).WithTrackingName("LocationFreeSpec")
                .Select(static (spec, _) => Compile(spec)).WithTrackingName("Compiled");
            context.RegisterSourceOutput(compiled, static (spc, result) =>
            {
                if (result.Source is not null) spc.AddSource(result.HintName, result.Source);
            });
        }
    }

    private static IncrementalValuesProvider<NetworkSpec> Specs(IncrementalGeneratorInitializationContext context, string attribute,
        System.Func<GeneratorAttributeSyntaxContext, System.Threading.CancellationToken, NetworkSpec> parse) =>
        context.SyntaxProvider.ForAttributeWithMetadataName(
                NetworkParser.Namespace + "." + attribute,
                static (node, _) => node is Microsoft.CodeAnalysis.CSharp.Syntax.ClassDeclarationSyntax,
                (ctx, ct) => parse(ctx, ct))
            .WithTrackingName("Spec:" + attribute);

    /// <summary>What one network compiles to: source (when it shaped cleanly) and diagnostics.</summary>
    public sealed record CompileResult(string HintName, string? Source, EquatableArray<DiagnosticInfo> Diagnostics);

    public static CompileResult Compile(NetworkSpec spec)
    {
        var (shaped, diagnostics) = ShapeInference.Run(spec);
        string hint = string.Join(".", new[] { spec.Namespace }.Concat(spec.ContainingTypes).Append(spec.ClassName).Where(s => s is not null)) + ".g.cs";
        bool hasError = diagnostics.Any(d => Descriptor(d.Id).DefaultSeverity == DiagnosticSeverity.Error);
        if (!shaped.Valid || hasError) return new CompileResult(hint, null, diagnostics.ToEquatableArray());
        var plan = Planner.Run(shaped, Options(spec));
        return new CompileResult(hint, NetworkEmitter.Emit(plan), diagnostics.ToEquatableArray());
    }

    /// <summary>The network's schedule as text (after the passes its kernel set runs), or null when it does not shape.</summary>
    public static string? Schedule(NetworkSpec spec)
    {
        var (shaped, diagnostics) = ShapeInference.Run(spec);
        if (!shaped.Valid || diagnostics.Any(d => Descriptor(d.Id).DefaultSeverity == DiagnosticSeverity.Error)) return null;
        return Emit.Text.ScheduleText.Print(Planner.Run(shaped, Options(spec)));
    }

    private static Plan.Passes.PassOptions Options(NetworkSpec spec) =>
        spec.Kernels == KernelSet.Reference ? Plan.Passes.PassOptions.None : Plan.Passes.PassOptions.Inference;

    private static readonly Dictionary<string, DiagnosticDescriptor> s_descriptors =
        typeof(DiagnosticDescriptors).GetFields()
            .Select(f => f.GetValue(null))
            .OfType<DiagnosticDescriptor>()
            .ToDictionary(d => d.Id);

    private static DiagnosticDescriptor Descriptor(string id) => s_descriptors[id];

    private static Diagnostic ToDiagnostic(DiagnosticInfo info) =>
        Diagnostic.Create(Descriptor(info.Id), info.Location?.ToLocation(), info.MessageArgs.Cast<object>().ToArray());
}
