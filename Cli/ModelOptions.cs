using System.CommandLine;
using Espnet.Compiled.Zoo;

namespace Espnet.Compiled.Cli;

/// <summary>The options that select a model (shared by every command) and how they resolve to a network.</summary>
internal sealed class ModelOptions
{
    public Option<string> Model { get; } = new("--model", "-m")
    {
        Description = "Model name: " + string.Join(", ", ModelCatalog.Patterns) + " (e.g. espnet-p2-q8, espnetv2-s1.0)",
        Required = true,
    };
    public Option<int> Height { get; } = new("--height") { Description = "Input height (default: the model's published size: 512 Cityscapes, 360 CamVid, 384 PASCAL, 224 ImageNet)" };
    public Option<int> Width { get; } = new("--width") { Description = "Input width (default: the model's published size: 1024 Cityscapes, 480 CamVid, 384 PASCAL, 224 ImageNet)" };
    public Option<int> Classes { get; } = new("--classes") { Description = "Override the class count (default 20; 12 for -camvid, 21 for -pascal, 1000 for the espnetv2-s classifiers)" };

    public void AddTo(Command command)
    {
        command.Options.Add(Model);
        command.Options.Add(Height);
        command.Options.Add(Width);
        command.Options.Add(Classes);
    }

    public ModelRequest Request(ParseResult parsed) =>
        ModelCatalog.Parse(parsed.GetValue(Model)!, Given(parsed, Classes), Given(parsed, Height), Given(parsed, Width));

    // Option<int?> would name 'System.Nullable`1[System.Int32]' in parse errors; absence is read from the parse instead.
    private static int? Given(ParseResult parsed, Option<int> option) => parsed.GetResult(option) is null ? null : parsed.GetValue(option);

    /// <summary>The zoo's precompiled class when one matches exactly; otherwise compiled now (or loaded from the cache).</summary>
    public static (ICompiledNetwork Network, string Origin) Resolve(ModelRequest request, TextWriter stderr)
    {
        if (ModelCatalog.CreatePrecompiled(request) is { } precompiled)
            return (precompiled, "precompiled (" + precompiled.GetType().FullName + ")");
        var compiled = RuntimeCompiler.Create(request, stderr);
        return (compiled.Network, compiled.Origin);
    }
}
