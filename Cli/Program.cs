using System.CommandLine;
using Espnet.Compiled.Weights;
using Espnet.Compiled.Zoo;

namespace Espnet.Compiled.Cli;

/// <summary>
/// The `espnet` command (design.md §4). Exit codes: 0 success, 2 usage error, 1 any other error; every
/// error is one line on stderr. <see cref="Run"/> is the whole program, callable in-process by tests.
/// </summary>
public static class Program
{
    public const int Success = 0, Failure = 1, Usage = 2;

    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var root = new RootCommand("Run ESPNet models compiled to fixed-shape C# by the Espnet.Compiled source generator.")
        {
            InfoCommand.Create(stdout, stderr),
            RunCommand.Create(stdout, stderr),
            BenchCommand.Create(stdout, stderr),
            SegmentCommand.Create(stdout, stderr),
            ClassifyCommand.Create(stdout, stderr),
            EvalCommand.Create(stdout, stderr),
            ExportOnnxCommand.Create(stdout, stderr),
            TrainCommand.Create(stdout, stderr),
        };
        ParseResult parsed;
        try
        {
            parsed = root.Parse(args);
        }
        catch (Exception e)
        {
            return Report(stderr, e);
        }
        if (parsed.Errors.Count > 0)
        {
            // System.CommandLine would print every error plus the help text; the contract is one line.
            stderr.WriteLine($"espnet: {OneLine(parsed.Errors[0].Message)} (see 'espnet --help')");
            return Usage;
        }
        return parsed.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
    }

    /// <summary>Runs a command body, turning every exception into one stderr line and its exit code.</summary>
    internal static int Guard(TextWriter stderr, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e)
        {
            return Report(stderr, e);
        }
    }

    private static int Report(TextWriter stderr, Exception e)
    {
        (int code, string message) = e switch
        {
            UsageException or ModelNameException => (Usage, e.Message),
            CommandException => (Failure, e.Message),
            WeightFormatException => (Failure, "cannot read the weights: " + e.Message),
            WeightLoadException => (Failure, e.Message),
            Cuda.CudaUnavailableException or Cuda.CudaException => (Failure, e.Message),
            FileNotFoundException f => (Failure, $"file not found: {f.FileName ?? e.Message}"),
            DirectoryNotFoundException or IOException or UnauthorizedAccessException or InvalidDataException => (Failure, e.Message),
            OutOfMemoryException => (Failure, "out of memory: try a smaller --height/--width"),
            _ => (Failure, $"internal error ({e.GetType().Name}): {e.Message}"),
        };
        stderr.WriteLine("espnet: " + OneLine(message));
        return code;
    }

    internal static string OneLine(string text) =>
        string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}

/// <summary>A mistake in how the command was called (exit code 2).</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>A failure with a message fit for the user as it is (exit code 1).</summary>
public sealed class CommandException(string message) : Exception(message);
