using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Espnet.Compiled.Generator.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Espnet.Compiled.Generator.Parse;

/// <summary>Turns an attributed class into a <see cref="NetworkSpec"/>: plain data, no symbols.</summary>
internal static class NetworkParser
{
    public const string Namespace = "Espnet.Compiled";

    /// <summary>A class declared layer by layer with [Network] and layer attributes.</summary>
    public static NetworkSpec ParseLayered(GeneratorAttributeSyntaxContext context, CancellationToken ct)
    {
        var type = (INamedTypeSymbol)context.TargetSymbol;
        var network = new AttributeReader(context.Attributes[0]);
        var layers = new List<LayerSpec>();
        foreach (var attribute in type.GetAttributes())
        {
            ct.ThrowIfCancellationRequested();
            if (attribute.AttributeClass?.ContainingNamespace?.ToDisplayString() != Namespace) continue;
            var layer = LayerParser.TryParse(new AttributeReader(attribute));
            if (layer is not null) layers.Add(layer);
        }

        // A layer's Eps, else the network's BatchNormEps where written, else the authors' value for the kind:
        // 1e-3 for ESPNet's blocks, 1e-5 for ESPNetv2's.
        bool networkEps = network.Wrote("BatchNormEps");
        double eps = network.Double("BatchNormEps", 1e-3);
        layers = layers.Select(l => l.Eps != 0 ? l : l with { Eps = networkEps ? eps : DefaultEps(l.Kind) }).ToList();

        var diagnostics = new List<DiagnosticInfo>();
        AddPartialCheck(context, type, diagnostics);
        if (networkEps && !(eps > 0 && !double.IsInfinity(eps)))
            diagnostics.Add(new DiagnosticInfo("ESPN0010",
                network.ArgumentLocations().FirstOrDefault(a => a.Argument == "BatchNormEps")?.Location ?? network.Location,
                new[] { type.Name, "BatchNormEps", eps.ToString(System.Globalization.CultureInfo.InvariantCulture),
                        "a BatchNorm epsilon is a small positive number such as 1e-3 or 1e-5" }.ToEquatableArray()));
        if (layers.Count == 0)
            diagnostics.Add(new DiagnosticInfo("ESPN0013", network.Location, new[] { type.Name }.ToEquatableArray()));

        return Build(context, type, network,
            origin: "[Network] with " + layers.Count + " layers",
            batch: network.Int("Batch", 1),
            inputChannels: network.Int("InputChannels", 3),
            height: network.Int("Height", 0),
            width: network.Int("Width", 0),
            output: network.String("Output"),
            layers: layers,
            diagnostics: diagnostics);
    }

    public static readonly string[] LayerAttributes =
    {
        "ConvAttribute", "BatchNormAttribute", "EspAttribute", "AvgPoolAttribute", "ConcatAttribute", "AddAttribute",
        "ConvTransposeAttribute", "EespAttribute", "DownSamplerAttribute", "GlobalAvgPoolAttribute", "LinearAttribute",
        "ResizeAttribute", "PyramidPoolAttribute", "GatedConvAttribute", "PspPoolAttribute",
    };

    /// <summary>ESPN0021 for layer attributes on a class without [Network] (a whole-model attribute brings its own layers).</summary>
    public static EquatableArray<DiagnosticInfo> IgnoredLayers(GeneratorAttributeSyntaxContext context)
    {
        var type = (INamedTypeSymbol)context.TargetSymbol;
        var models = type.GetAttributes()
            .Where(a => a.AttributeClass?.ContainingNamespace?.ToDisplayString() == Namespace && ModelAttributes.Contains(a.AttributeClass.Name))
            .Select(a => a.AttributeClass!.Name)
            .ToList();
        if (models.Contains("NetworkAttribute")) return EquatableArray<DiagnosticInfo>.Empty;
        string why = models.Count == 0
            ? "the class has no [Network] attribute; add [Network(Height = ..., Width = ...)] to compile them"
            : $"[{models[0].Substring(0, models[0].Length - "Attribute".Length)}] expands to the authors' own layers; declare yours on a [Network] class";
        return context.Attributes
            .Select(a => new DiagnosticInfo("ESPN0021", LocationInfo.From(a.ApplicationSyntaxReference?.GetSyntax()),
                new[] { type.Name, a.AttributeClass!.Name.Substring(0, a.AttributeClass.Name.Length - "Attribute".Length), why }.ToEquatableArray()))
            .ToEquatableArray();
    }

    private static double DefaultEps(LayerKind kind) =>
        kind is LayerKind.Eesp or LayerKind.DownSampler or LayerKind.PyramidPool or LayerKind.GatedConv or LayerKind.PspPool ? 1e-5 : 1e-3;

    private static readonly string[] ModelAttributes =
        { "NetworkAttribute", "EspNetAttribute", "EspNetCAttribute", "EspNetV2Attribute", "EspNetV2SegmentationAttribute" };

    /// <summary>
    /// Checks every parser makes of the class itself: partial (ESPN0012), one model attribute (ESPN0019),
    /// a non-generic class whose containers are non-generic classes (ESPN0020).
    /// </summary>
    public static void AddPartialCheck(GeneratorAttributeSyntaxContext context, INamedTypeSymbol type, List<DiagnosticInfo> diagnostics)
    {
        var models = type.GetAttributes()
            .Where(a => a.AttributeClass?.ContainingNamespace?.ToDisplayString() == Namespace && ModelAttributes.Contains(a.AttributeClass.Name))
            .Select(a => "[" + a.AttributeClass!.Name.Substring(0, a.AttributeClass.Name.Length - "Attribute".Length) + "]")
            .ToList();
        if (models.Count > 1)
            diagnostics.Add(new DiagnosticInfo("ESPN0019", LocationInfo.From(context.Attributes[0].ApplicationSyntaxReference?.GetSyntax()),
                new[] { type.Name, string.Join(", ", models) }.ToEquatableArray()));
        // The generated part derives from the runtime's CompiledNetwork: the class cannot have a base of its own.
        if (type.BaseType is { SpecialType: not SpecialType.System_Object } baseType && baseType.Name != "CompiledNetwork")
            diagnostics.Add(new DiagnosticInfo("ESPN0020", LocationInfo.From(type.Locations.FirstOrDefault() ?? Location.None),
                new[] { type.Name, type.Name, "derived from '" + baseType.Name + "' (the compiled network derives from CompiledNetwork)" }.ToEquatableArray()));
        if (type.IsStatic)
            diagnostics.Add(new DiagnosticInfo("ESPN0020", LocationInfo.From(type.Locations.FirstOrDefault() ?? Location.None),
                new[] { type.Name, type.Name, "static (a compiled network is an object you create)" }.ToEquatableArray()));
        for (var t = type; t is not null; t = t.ContainingType)
        {
            if (t.IsGenericType || t.TypeKind != TypeKind.Class || t.IsRecord)
            {
                string what = t.IsGenericType ? "generic" : t.IsRecord ? "a record" : "a " + t.TypeKind.ToString().ToLowerInvariant();
                diagnostics.Add(new DiagnosticInfo("ESPN0020", LocationInfo.From(type.Locations.FirstOrDefault() ?? Location.None),
                    new[] { type.Name, t.Name, what }.ToEquatableArray()));
                break;
            }
        }

        if (context.TargetNode is ClassDeclarationSyntax cls && !cls.Modifiers.Any(m => m.ValueText == "partial"))
            diagnostics.Add(new DiagnosticInfo("ESPN0012", LocationInfo.From(cls.Identifier.GetLocation()), new[] { type.Name }.ToEquatableArray()));
    }

    public static NetworkSpec Build(GeneratorAttributeSyntaxContext context, INamedTypeSymbol type, AttributeReader attribute,
        string origin, int batch, int inputChannels, int height, int width, string? output,
        IEnumerable<LayerSpec> layers, IEnumerable<DiagnosticInfo> diagnostics)
    {
        var containing = new List<string>();
        for (var outer = type.ContainingType; outer is not null; outer = outer.ContainingType)
            containing.Insert(0, outer.Name);
        string? ns = type.ContainingNamespace.IsGlobalNamespace ? null : type.ContainingNamespace.ToDisplayString();
        string accessibility = type.DeclaredAccessibility == Accessibility.Public ? "public" : "internal";
        var kernels = (KernelSet)attribute.Enum("Kernels", (int)KernelSet.Fast);
        if (kernels != KernelSet.Fast) origin += ", " + kernels + " kernels";
        return new NetworkSpec(ns, type.Name, accessibility, containing.ToEquatableArray(), origin,
            batch, inputChannels, height, width, output, layers.ToEquatableArray(),
            attribute.Location, attribute.ArgumentLocations(), diagnostics.ToEquatableArray(), kernels);
    }
}
