using System.Diagnostics;
using System.Reflection;
using Espnet.Compiled.Tests.Numerics;
using Espnet.Compiled.Tests.RealWeights;
using Espnet.Compiled.Tests.Support;
using Espnet.Compiled.Tests.Training;

namespace Espnet.Compiled.Tests.Cuda;

/// <summary>
/// The generated CUDA C without a GPU: every network's source compiles to PTX with clang-14, and runs on the CPU
/// through the shim (g++) with the same outputs as the C# forward pass. Where clang-14 or g++ is missing (a
/// user's machine) the tests skip with the reason; under CI (CI=true) they fail instead.
/// </summary>
// Runs networks on the shared worker threads: kept apart from the tests that count allocations.
[Collection(nameof(Espnet.Compiled.Tests.Kernels.KernelSettings))]
public sealed class CudaKernelTests(ITestOutputHelper output)
{
    public static TheoryData<string> Networks => ["TinySeg", "TinyCls", "LearningEspNet", "EdgeNetsS20CityAt64x128", "PspHeadS05At96x160", "EspNetP2Q3At64x128"];

    private static CompiledNetwork Create(string name) => name switch
    {
        "TinySeg" => new TinySeg(),
        "TinyCls" => new TinyCls(),
        "LearningEspNet" => new LearningEspNet(),
        "EdgeNetsS20CityAt64x128" => new EdgeNetsS20CityAt64x128(),
        "PspHeadS05At96x160" => new PspHeadS05At96x160(),
        _ => new EspNetP2Q3At64x128(),
    };

    private static T Constant<T>(Type type, string name) =>
        (T)(type.GetField(name, BindingFlags.Public | BindingFlags.Static)?.GetValue(null) ?? type.GetProperty(name, BindingFlags.Public | BindingFlags.Static)!.GetValue(null)!);

    private static string Source(Type type) =>
        System.Text.Encoding.UTF8.GetString(((Func<ReadOnlySpan<byte>>)Delegate.CreateDelegate(typeof(Func<ReadOnlySpan<byte>>),
            type.GetProperty("CudaSource", BindingFlags.Public | BindingFlags.Static)!.GetMethod!))());

    private static string Tool(string name)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':'))
            if (File.Exists(Path.Combine(dir, name))) return Path.Combine(dir, name);
        string reason = $"{name} is not installed (apt-get install {(name == "g++" ? "g++" : "clang-14")})";
        if (SharedData.IsCi) Assert.Fail("CI=true but " + reason);
        Assert.Skip(reason);
        return null!;
    }

    private static (int Code, string Err) Exec(string tool, params string[] args)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var err = process.StandardError.ReadToEndAsync();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, err.Result);
    }

    [Theory]
    [MemberData(nameof(Networks))]
    public void Every_kernel_compiles_to_ptx_with_clang(string name)
    {
        string clang = Tool("clang-14");
        var network = Create(name);
        string dir = Cli.CliHarness.TempDirectory(), cu = Path.Combine(dir, name + ".cu"), ptx = Path.Combine(dir, name + ".ptx");
        File.WriteAllText(cu, Source(network.GetType()));
        var (code, err) = Exec(clang, "-x", "cuda", "--cuda-device-only", "-nocudainc", "-nocudalib", "--cuda-gpu-arch=sm_80", "-O2", "-S", "-o", ptx, cu);
        Assert.True(code == 0, $"clang-14 rejected {name}'s CUDA source: {err}");
        var launches = Constant<(string Kernel, long Threads)[]>(network.GetType(), "CudaLaunches");
        string text = File.ReadAllText(ptx);
        foreach (var (kernel, _) in launches) Assert.Contains($".entry {kernel}(", text);
        Assert.DoesNotContain(".extern .func", text);          // self-contained: no library calls left unresolved
        output.WriteLine($"{name}: {launches.Length} kernels in {new FileInfo(ptx).Length / 1024} KB of PTX");
    }

    [Theory]
    [MemberData(nameof(Networks))]
    public void The_kernels_run_through_the_cpu_shim_give_the_csharp_outputs(string name)
    {
        string gxx = Tool("g++");
        var network = Create(name);
        var type = network.GetType();
        network.LoadWeights(RandomWeights.For(network, 21));
        var input = RandomWeights.Input(network.Batch * network.InputShape.Elements, 22);
        var expected = new float[network.Batch * network.OutputShape.Elements];
        network.Forward(input, expected);

        string dir = Cli.CliHarness.TempDirectory(), shim = Path.Combine(AppContext.BaseDirectory, "Cuda", "shim");
        string cu = Path.Combine(dir, name + ".cu"), exe = Path.Combine(dir, name);
        File.WriteAllText(cu, Source(type));
        var (code, err) = Exec(gxx, "-O1", "-std=c++17", "-DESPNET_CUDA_SHIM", "-include", Path.Combine(shim, "espnet_cuda_shim.h"),
            "-x", "c++", cu, Path.Combine(shim, "driver.cpp"), "-o", exe);
        Assert.True(code == 0, $"g++ rejected {name}'s CUDA source through the shim: {err}");
        WriteFloats(Path.Combine(dir, "p.bin"), network.Store);
        WriteFloats(Path.Combine(dir, "in.bin"), input);
        (code, err) = Exec(exe, Path.Combine(dir, "p.bin"), Constant<long>(type, "CudaArenaLength").ToString(), Constant<long>(type, "CudaInputStart").ToString(),
            Path.Combine(dir, "in.bin"), Constant<long>(type, "CudaOutputStart").ToString(), expected.Length.ToString(), Path.Combine(dir, "out.bin"));
        Assert.True(code == 0, $"the emulated forward pass failed: {err}");
        float[] ours = SharedData.ReadF32(Path.Combine(dir, "out.bin"));
        double worst = Compare.AssertClose(ours, expected, $"{name}: CUDA kernels (CPU shim) vs the C# forward pass", Compare.ForwardTolerance);
        output.WriteLine($"{name}: {expected.Length} outputs, worst relative difference {worst:E2}");
    }

    private static void WriteFloats(string path, ReadOnlySpan<float> values) =>
        File.WriteAllBytes(path, System.Runtime.InteropServices.MemoryMarshal.AsBytes(values).ToArray());
}
