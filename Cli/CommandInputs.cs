using Espnet.Compiled.Weights;
using Espnet.Compiled.Zoo;

namespace Espnet.Compiled.Cli;

/// <summary>Checks and loading shared by the commands that read files: option values, readable files, weights.</summary>
internal static class CommandInputs
{
    /// <summary>An option's value, refused when empty (a script's unset variable) with a usage error.</summary>
    public static string Named(string? value, string option) =>
        string.IsNullOrWhiteSpace(value) ? throw new UsageException($"{option} is empty: give a file name") : value;

    /// <summary>A file to read: it exists and is a regular file (a folder or a device file gets its own message).</summary>
    public static void CheckReadable(string path, string option)
    {
        if (Directory.Exists(path)) throw new UsageException($"{option} {path} is a folder: give a file");
        if (!File.Exists(path)) throw new FileNotFoundException($"{option} {path} does not exist", path);
        if (OperatingSystem.IsLinux() && path.StartsWith("/dev/", StringComparison.Ordinal) && !path.StartsWith("/dev/fd/", StringComparison.Ordinal)
            && !path.StartsWith("/dev/stdin", StringComparison.Ordinal))
            throw new UsageException($"{option} {path} is a device, not a file");
    }

    public static void LoadWeights(ICompiledNetwork network, string path)
    {
        var stateDict = PthReader.Read(path, WeightBudget.For(network));
        try
        {
            network.LoadWeights(stateDict);
        }
        catch (WeightLoadException e)
        {
            throw new WeightLoadException($"{Path.GetFileName(path)}: {e.Message}"); // which file, when a script passes several
        }
    }

    /// <summary>The weights a command names: the embedded ones for 'builtin', else the file (checked readable first).</summary>
    public static void LoadNamedWeights(ICompiledNetwork network, ModelRequest request, string weightsPath)
    {
        if (weightsPath == BuiltinData.Weights) network.LoadWeights(BuiltinData.ReadWeights(request));
        else LoadWeights(network, weightsPath);
    }
}
