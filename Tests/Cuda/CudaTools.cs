using System.Diagnostics;
using System.Reflection;
using Espnet.Compiled.Tests.RealWeights;
using Espnet.Compiled.Tests.Support;
using Espnet.Compiled.Tests.Training;

namespace Espnet.Compiled.Tests.Cuda;

/// <summary>
/// What the CUDA tests share: the networks they run, the generated source and constants read from a network's
/// class, the tools (clang-14, g++: a skip with the reason where missing, a failure under CI) and the shim builds.
/// </summary>
internal static class CudaTools
{
    public static CompiledNetwork Create(string name) => name switch
    {
        "TinySeg" => new TinySeg(),
        "TinyCls" => new TinyCls(),
        "LearningEspNet" => new LearningEspNet(),
        "EdgeNetsS20CityAt64x128" => new EdgeNetsS20CityAt64x128(),
        "PspHeadS05At96x160" => new PspHeadS05At96x160(),
        "EspNetP2Q3At64x128" => new EspNetP2Q3At64x128(),
        _ => throw new ArgumentException("no such test network: " + name),
    };

    public static T Constant<T>(Type type, string name) =>
        (T)(type.GetField(name, BindingFlags.Public | BindingFlags.Static)?.GetValue(null) ?? type.GetProperty(name, BindingFlags.Public | BindingFlags.Static)!.GetValue(null)!);

    public static string Source(Type type) =>
        System.Text.Encoding.UTF8.GetString(((Func<ReadOnlySpan<byte>>)Delegate.CreateDelegate(typeof(Func<ReadOnlySpan<byte>>),
            type.GetProperty("CudaSource", BindingFlags.Public | BindingFlags.Static)!.GetMethod!))());

    public static string Tool(string name)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':'))
            if (File.Exists(Path.Combine(dir, name))) return Path.Combine(dir, name);
        string reason = $"{name} is not installed (apt-get install {(name == "g++" ? "g++" : "clang-14")})";
        if (SharedData.IsCi) Assert.Fail("CI=true but " + reason);
        Assert.Skip(reason);
        return null!;
    }

    public static (int Code, string Err) Exec(string tool, params string[] args)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var err = process.StandardError.ReadToEndAsync();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, err.Result);
    }

    /// <summary>The network's CUDA source built with g++ through the shim, linked with <paramref name="driver"/> (Tests/Cuda/shim): the executable's path.</summary>
    public static string BuildShim(string name, Type type, string driver)
    {
        string gxx = Tool("g++");
        string dir = Cli.CliHarness.TempDirectory(), shim = Path.Combine(AppContext.BaseDirectory, "Cuda", "shim");
        string cu = Path.Combine(dir, name + ".cu"), exe = Path.Combine(dir, name);
        File.WriteAllText(cu, Source(type));
        var (code, err) = Exec(gxx, "-O1", "-std=c++17", "-DESPNET_CUDA_SHIM", "-include", Path.Combine(shim, "espnet_cuda_shim.h"),
            "-x", "c++", cu, Path.Combine(shim, driver), "-o", exe);
        Assert.True(code == 0, $"g++ rejected {name}'s CUDA source through the shim: {err}");
        return exe;
    }

    public static void WriteBytes<T>(string path, ReadOnlySpan<T> values) where T : unmanaged =>
        File.WriteAllBytes(path, System.Runtime.InteropServices.MemoryMarshal.AsBytes(values).ToArray());
}
