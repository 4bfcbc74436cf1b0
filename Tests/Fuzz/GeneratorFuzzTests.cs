using System.Globalization;
using System.Text;
using Espnet.Compiled.Tests.Support;
using Microsoft.CodeAnalysis;

namespace Espnet.Compiled.Tests.Fuzz;

/// <summary>
/// Random declarations, valid and not, of every attribute kind through the generator: it never throws, and what
/// it emits always compiles (a declaration it cannot compile gets its diagnostics, not broken code). Fixed seed;
/// the counts are printed.
/// </summary>
public sealed class GeneratorFuzzTests(ITestOutputHelper output)
{
    private const int Declarations = 320;
    private const int Seed = 20261201;

    [Fact]
    public void Random_declarations_never_crash_the_generator_or_emit_code_that_does_not_compile()
    {
        var rng = new Random(Seed);
        int compiled = 0, rejected = 0, warned = 0;
        for (int n = 0; n < Declarations; n++)
        {
            string source = "using Espnet.Compiled;\nnamespace Fuzz;\n" + Declaration(rng);
            var result = GeneratorHarness.Run(source);
            var crash = result.Driver.GetRunResult().Results.Select(r => r.Exception).FirstOrDefault(e => e is not null);
            Assert.True(crash is null, $"declaration {n} (seed {Seed}) crashed the generator: {crash}\n{source}");
            // Every error must be in the declaration itself (none is meant to be): none in what the generator wrote.
            var errors = result.CompilationErrors;
            Assert.True(errors.IsEmpty,
                $"declaration {n} (seed {Seed}) gave errors{(errors.Any(d => d.Location.GetLineSpan().Path != GeneratorHarness.FileName) ? " in generated code" : "")}: {string.Join(" | ", errors.Take(3).Select(d => d.Id + " " + d.GetMessage()))}\n{source}");
            if (result.GeneratorDiagnostics.Any(d => d.Severity == DiagnosticSeverity.Error)) rejected++;
            else compiled++;
            if (result.GeneratorDiagnostics.Any(d => d.Severity == DiagnosticSeverity.Warning)) warned++;
            Assert.All(result.GeneratorDiagnostics, d => Assert.StartsWith("ESPN", d.Id));
        }
        output.WriteLine($"{Declarations} random declarations (seed {Seed}): {compiled} compiled, {rejected} rejected with ESPN errors, {warned} with warnings; 0 crashes, 0 broken files");
        // The mix must exercise both sides, or the test proves little.
        Assert.True(compiled >= Declarations / 10 && rejected >= Declarations / 10, $"compiled {compiled}, rejected {rejected}");
    }

    private static readonly string[] LayerKinds =
        ["Conv", "BatchNorm", "Esp", "AvgPool", "Concat", "Add", "ConvTranspose", "Eesp", "DownSampler", "GlobalAvgPool", "Linear", "Resize", "PyramidPool", "GatedConv", "PspPool"];

    private static string Declaration(Random rng)
    {
        var sb = new StringBuilder();
        int shape = rng.Next(10);
        if (shape == 0) return ModelAttribute(rng) + $" public {(rng.Next(8) == 0 ? "static " : "")}partial class M;";
        int size = Pick(rng, 8, 16, 32, 64, 16, 32, 0, -4, 31, 100000);
        sb.Append($"[Network(Height = {size}, Width = {Pick(rng, size, 16, 48, 7)}");
        if (rng.Next(4) == 0) sb.Append($", Batch = {Pick(rng, 1, 2, 0, 3)}");
        if (rng.Next(4) == 0) sb.Append($", InputChannels = {Pick(rng, 3, 1, 4, 0)}");
        if (rng.Next(5) == 0) sb.Append($", BatchNormEps = {Pick(rng, "1e-5", "0", "-1", "double.NaN")}");
        if (rng.Next(6) == 0) sb.Append(", Kernels = CpuKernels.Reference");
        var names = new List<string> { "input" };
        int layers = rng.Next(0, 7);
        var body = new StringBuilder();
        for (int i = 0; i < layers; i++)
        {
            string name = rng.Next(25) == 0 ? Pick(rng, "", "input", "a\\\"b", names[^1]) : "l" + i;
            body.Append(Layer(rng, name, names));
            names.Add(name);
        }
        if (rng.Next(5) == 0) sb.Append($", Output = \"{Pick(rng, names.ToArray())}\"");
        sb.Append(")]").Append(body);
        sb.Append(rng.Next(15) == 0 ? " public class M { }" : " public partial class M;");
        return sb.ToString();
    }

    private static string Layer(Random rng, string name, List<string> names)
    {
        string kind = LayerKinds[rng.Next(LayerKinds.Length)];
        string From() => rng.Next(20) == 0 ? "missing" : names[rng.Next(names.Count)];
        var args = new List<string>();
        int Channels() => Pick(rng, 4, 8, 16, 20, 32, 48, 64, 0, -1, 3, 5);
        switch (kind)
        {
            case "Conv":
                args.Add($"Out = {Channels()}");
                if (rng.Next(2) == 0) args.Add($"Kernel = {Pick(rng, 1, 3, 5, 2, 0)}");
                if (rng.Next(3) == 0) args.Add($"Stride = {Pick(rng, 1, 2, 0)}");
                if (rng.Next(3) == 0) args.Add($"Dilation = {Pick(rng, 1, 2, 4, 0, 64)}");
                if (rng.Next(3) == 0) args.Add($"Groups = {Pick(rng, 1, 2, 4, 3)}");
                if (rng.Next(3) == 0) args.Add("Bias = true, BatchNorm = false");
                break;
            case "BatchNorm":
                if (rng.Next(2) == 0) args.Add("PRelu = false");
                break;
            case "Esp":
                args.Add($"Out = {Channels()}");
                args.Add($"K = {Pick(rng, 5, 2, 3, 4, 0)}");
                if (rng.Next(3) == 0) args.Add($"Stride = {Pick(rng, 1, 2)}");
                if (rng.Next(3) == 0) args.Add($"Residual = {Pick(rng, "false", "true")}");
                if (rng.Next(4) == 0) args.Add($"Dilations = new[] {{ {string.Join(", ", Enumerable.Range(0, Pick(rng, 2, 3, 5)).Select(i => Pick(rng, 1, 2, 4, 3)))} }}");
                else if (rng.Next(12) == 0) args.Add("Dilations = new int[0]");
                break;
            case "AvgPool":
                args.Add($"Times = {Pick(rng, 1, 2, 0)}");
                break;
            case "Concat":
                return $"[Concat(\"{name}\"{string.Concat(Enumerable.Range(0, rng.Next(0, 3)).Select(_ => $", \"{From()}\""))})]";
            case "Add":
                return $"[Add(\"{name}\", \"{From()}\", \"{From()}\")]";
            case "ConvTranspose":
                args.Add($"Out = {Channels()}");
                if (rng.Next(3) == 0) args.Add($"Kernel = {Pick(rng, 2, 3)}, Stride = 2");
                break;
            case "Eesp":
            case "DownSampler":
                args.Add($"Out = {Pick(rng, 16, 32, 48, 64, 24, 0)}");
                args.Add($"K = {Pick(rng, 4, 3, 2)}");
                if (kind == "Eesp" && rng.Next(3) == 0) args.Add("Stride = 2");
                if (kind == "DownSampler" && rng.Next(3) == 0) args.Add("Reinforce = false");
                break;
            case "GlobalAvgPool":
                break;
            case "Linear":
                args.Add($"Out = {Pick(rng, 10, 1, 0)}");
                break;
            case "Resize":
                if (rng.Next(2) == 0) args.Add($"Factor = {Pick(rng, "2.0", "0.5", "3.0")}");
                else args.Add($"Like = \"{From()}\"");
                break;
            case "PyramidPool":
                args.Add($"Proj = {Pick(rng, 2, 4, 0)}, Out = {Channels()}");
                break;
            case "GatedConv":
            case "PspPool":
                args.Add($"Out = {Channels()}");
                break;
        }
        if (kind is "Conv" or "BatchNorm" or "Esp" or "Eesp" or "DownSampler" or "PyramidPool" or "GatedConv" or "PspPool" && rng.Next(10) == 0)
            args.Add($"Eps = {Pick(rng, "1e-5", "-1e-3")}");
        return $"[{kind}(\"{name}\", \"{From()}\"{string.Concat(args.Select(a => ", " + a))})]";
    }

    private static string ModelAttribute(Random rng) => rng.Next(4) switch
    {
        0 => $"[EspNet(Classes = {Pick(rng, 20, 5, 4, 0)}, P = {Pick(rng, 1, 2, -1)}, Q = {Pick(rng, 1, 3)}, Height = {Pick(rng, 64, 32, 60)}, Width = {Pick(rng, 64, 128)})]",
        1 => $"[EspNetC(Classes = {Pick(rng, 20, 1, 0)}, P = {Pick(rng, 1, 2)}, Q = {Pick(rng, 1, 3, -2)}, Height = {Pick(rng, 32, 64, 8, 0)}, Width = {Pick(rng, 32, 64)})]",
        2 => $"[EspNetV2(Scale = {Pick(rng, "1.0", "0.5", "1.75")}, Height = {Pick(rng, 64, 32, 224)}, Width = {Pick(rng, 64, 32)})]",
        _ => $"[EspNetV2Segmentation(Scale = {Pick(rng, "1.0", "0.5", "2.0", "0.7")}, Classes = {Pick(rng, 20, 21, 0)}, Height = {Pick(rng, 64, 128, 48)}, Width = {Pick(rng, 64, 128)})]",
    };

    private static T Pick<T>(Random rng, params T[] values) => values[rng.Next(values.Length)];
}
