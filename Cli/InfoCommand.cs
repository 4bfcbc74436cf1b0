using System.CommandLine;
using System.Globalization;
using Espnet.Compiled.Zoo;

namespace Espnet.Compiled.Cli;

/// <summary>`espnet info`: what a model compiles to — shapes, parameters, MACs, arena, and every layer.</summary>
internal static class InfoCommand
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var model = new ModelOptions();
        var command = new Command("info", "Show a model's shapes, parameter count, MACs, arena size and layers.");
        model.AddTo(command);
        command.SetAction(parsed => Program.Guard(stderr, () =>
        {
            var request = model.Request(parsed);
            var (network, origin) = ModelOptions.Resolve(request, stderr);
            Print(stdout, request, network, origin);
            return Program.Success;
        }));
        return command;
    }

    private static void Print(TextWriter o, ModelRequest request, ICompiledNetwork n, string origin)
    {
        string N(long v) => v.ToString("N0", Invariant);
        o.WriteLine($"model        {request.Name}: {request.Description}");
        o.WriteLine($"declaration  {ModelCatalog.Declaration(request).Replace("global::Espnet.Compiled.", "")}");
        o.WriteLine($"compiled     {origin}");
        o.WriteLine($"input        {n.Batch}x{n.InputShape} ({N(n.InputShape.Elements)} floats)");
        o.WriteLine($"output       {n.Batch}x{n.OutputShape} ({N(n.OutputShape.Elements)} floats)");
        o.WriteLine($"parameters   {N(n.ParameterCount)}");
        o.WriteLine($"conv MACs    {(n.MacCount / 1e6).ToString("N1", Invariant)} M (convolutions only, as the authors count: transposed convolutions and linear layers excluded)");
        o.WriteLine($"arena        {(n.ArenaFloats * 4.0 / 1e6).ToString("N1", Invariant)} MB ({N(n.ArenaFloats)} floats of intermediate activations)");
        o.WriteLine();

        var rows = n.Layers.Select(l => new[]
        {
            l.Index.ToString(Invariant), l.Name, Operation(l.Description), l.Output.ToString(), N(l.Parameters),
            (l.Macs / 1e6).ToString("N1", Invariant),
        }).ToList();
        string[] header = ["#", "layer", "operation", "output", "params", "MACs (M)"];
        bool[] rightAligned = [true, false, false, false, true, true];
        int[] widths = header.Select((h, i) => Math.Max(h.Length, rows.Count == 0 ? 0 : rows.Max(r => r[i].Length))).ToArray();
        string Line(string[] cells) => string.Join("  ", cells.Select((c, i) => rightAligned[i] ? c.PadLeft(widths[i]) : c.PadRight(widths[i]))).TrimEnd();
        o.WriteLine(Line(header));
        foreach (var row in rows) o.WriteLine(Line(row));
    }

    // Descriptions end in ": 3x512x1024 -> 16x256x512"; the table shows the output shape in its own column.
    private static string Operation(string description)
    {
        int colon = description.LastIndexOf(": ", StringComparison.Ordinal);
        return colon > 0 && description.IndexOf(" -> ", colon, StringComparison.Ordinal) > 0 ? description[..colon] : description;
    }
}
