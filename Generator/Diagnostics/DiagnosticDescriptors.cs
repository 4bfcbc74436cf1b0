using Microsoft.CodeAnalysis;

namespace Espnet.Compiled.Generator.Diagnostics;

/// <summary>Every diagnostic the generator reports. IDs are stable: never renumber, only add.</summary>
public static class DiagnosticDescriptors
{
    private const string Category = "Espnet.Compiled";

    private static DiagnosticDescriptor Error(string id, string title, string message) =>
        new(id, title, message, Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor ClassesTooFew = Error("ESPN0001",
        "Classes must be at least 1",
        "Classes = {0}: a segmentation or classification network needs at least one class; set Classes to 1 or more");

    public static readonly DiagnosticDescriptor NegativeRepeat = Error("ESPN0002",
        "Module count cannot be negative",
        "{0} = {1}: the number of ESP modules at a level cannot be negative; use 0 or more (the released models use P = 2, Q = 3, 5 or 8)");

    public static readonly DiagnosticDescriptor ZeroWidthBranch = Error("ESPN0003",
        "ESP branch of zero width",
        "'{0}' splits Out = {1} channels over K = {2} branches, so each branch is {1}/{2} = 0 channels wide; {3}");

    public static readonly DiagnosticDescriptor SizeNotRestorable = Error("ESPN0004",
        "Input size the decoder cannot restore",
        "{0} = {1} is not a multiple of {2}: the encoder reduces it to {3} and the decoder's {4}x upsampling gives back {5}, so its skip concatenation cannot line up; use {0} = {6} or {7}");

    public static readonly DiagnosticDescriptor ConcatMismatch = Error("ESPN0005",
        "Concatenated maps differ in size",
        "'{0}' concatenates '{1}' ({2}) with '{3}' ({4}); every input must have the same height and width");

    public static readonly DiagnosticDescriptor ResidualMismatch = Error("ESPN0006",
        "Residual between different shapes",
        "'{0}' adds its input ({1}) to its output ({2}), which needs equal shapes; {3}");

    public static readonly DiagnosticDescriptor ReceptiveFieldTooLarge = new("ESPN0007",
        "Dilation reaches beyond the feature map",
        "'{0}': dilation {1} spans {2}x{2} pixels on a {3}x{4} map, so its outer taps read only zero padding; use a smaller dilation or a larger input",
        Category, DiagnosticSeverity.Warning, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor UnknownLayer = Error("ESPN0008",
        "Reference to an undeclared layer",
        "'{0}' reads '{1}', which is not declared before it; declare '{1}' first or use one of: {2}");

    public static readonly DiagnosticDescriptor DuplicateLayer = Error("ESPN0009",
        "Layer name declared twice",
        "A layer named '{0}' is already declared; layer names are state_dict key prefixes and must be unique");

    public static readonly DiagnosticDescriptor InvalidArgument = Error("ESPN0010",
        "Invalid layer argument",
        "'{0}': {1} = {2} is invalid; {3}");

    public static readonly DiagnosticDescriptor GroupsMismatch = Error("ESPN0011",
        "Groups do not divide the channels",
        "'{0}': Groups = {1} must divide both its input channels ({2}) and its output channels ({3}); use a common divisor such as {4}");

    public static readonly DiagnosticDescriptor NotPartial = Error("ESPN0012",
        "Network class must be partial",
        "'{0}' must be declared 'partial' so that the generator can add the compiled network to it");

    public static readonly DiagnosticDescriptor SeveralModels = Error("ESPN0019",
        "More than one model attribute",
        "'{0}' carries {1}; a class compiles one network, so keep one attribute and declare the others on their own classes");

    public static readonly DiagnosticDescriptor UnsupportedDeclaration = Error("ESPN0020",
        "Unsupported declaration for a network",
        "'{0}' cannot hold a compiled network because '{1}' is {2}; declare the network on a non-generic partial class (nested only in non-generic classes)");

    public static readonly DiagnosticDescriptor IgnoredLayer = new("ESPN0021",
        "Layer attribute ignored",
        "'{0}': [{1}] is ignored because {2}",
        Category, DiagnosticSeverity.Warning, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor DeadLayer = new("ESPN0022",
        "Layer output never read",
        "'{0}' is computed but no layer reads it and it comes before the network's output ('{1}'); remove it, read it, or make it the Output",
        Category, DiagnosticSeverity.Warning, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor NoLayers = Error("ESPN0013",
        "Network has no layers",
        "'{0}' is marked [Network] but declares no layers; add layer attributes such as [Conv(\"level1\", \"input\", Out = 16)]");

    public static readonly DiagnosticDescriptor EespWidthNotSplittable = Error("ESPN0014",
        "EESP width not a multiple of K x K",
        "'{0}': {1} is not a multiple of K x K = {2}: the EESP unit splits it into K = {3} branches of equal width, and that width is the output of a 1x1 convolution with {3} groups; {4}");

    public static readonly DiagnosticDescriptor EespInputNotGroupable = Error("ESPN0015",
        "EESP input channels not divisible by K",
        "'{0}' reads {1} channels, but its grouped 1x1 projection splits its input into K = {2} groups and {1} is not a multiple of {2}; make '{3}' produce a multiple of {2} channels or use a K that divides {1}");

    public static readonly DiagnosticDescriptor UnknownScale = Error("ESPN0016",
        "Unknown ESPNetv2 width multiplier",
        "Scale = {0} is not a width multiplier ESPNetv2 is defined for; use one of {1}");

    public static readonly DiagnosticDescriptor DownSamplerTooNarrow = Error("ESPN0017",
        "DownSampler output not wider than its input",
        "'{0}': Out = {1} must exceed its input's {2} channels: a DownSampler concatenates the pooled input ({2} channels) with an EESP of Out - {2} channels; use Out = {3} or more");

    public static readonly DiagnosticDescriptor ReinforcementMismatch = Error("ESPN0018",
        "Input reinforcement cannot meet the DownSampler's output",
        "'{0}': input reinforcement pools the {1} image (3x3, stride 2) until its height equals the output height {2}, but {3}; give the DownSampler a map made from the image by stride-2 steps, or set Reinforce = false");
}
