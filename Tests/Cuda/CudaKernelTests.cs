using Espnet.Compiled.Cuda;
using Espnet.Compiled.Tests.Numerics;
using Espnet.Compiled.Tests.Support;

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

    [Theory]
    [MemberData(nameof(Networks))]
    public void Every_kernel_compiles_to_ptx_with_clang(string name)
    {
        string clang = CudaTools.Tool("clang-14");
        var network = CudaTools.Create(name);
        string dir = Cli.CliHarness.TempDirectory(), cu = Path.Combine(dir, name + ".cu"), ptx = Path.Combine(dir, name + ".ptx");
        File.WriteAllText(cu, CudaTools.Source(network.GetType()));
        var (code, err) = CudaTools.Exec(clang, "-x", "cuda", "--cuda-device-only", "-nocudainc", "-nocudalib", "--cuda-gpu-arch=sm_80", "-O2", "-S", "-o", ptx, cu);
        Assert.True(code == 0, $"clang-14 rejected {name}'s CUDA source: {err}");
        var launches = CudaTools.Constant<(string Kernel, long Threads)[]>(network.GetType(), "CudaLaunches");
        var training = CudaTools.Constant<CudaTrainingKernels>(network.GetType(), "CudaTraining");
        string text = File.ReadAllText(ptx);
        foreach (var (kernel, _) in launches.Concat(training.Step).Concat(training.Optimizers)) Assert.Contains($".entry {kernel}(", text);
        Assert.DoesNotContain(".extern .func", text);          // self-contained: no library calls left unresolved
        output.WriteLine($"{name}: {launches.Length} forward kernels, {training.Step.Length} training-step kernels in {new FileInfo(ptx).Length / 1024} KB of PTX");
    }

    [Theory]
    [MemberData(nameof(Networks))]
    public void The_kernels_run_through_the_cpu_shim_give_the_csharp_outputs(string name)
    {
        var network = CudaTools.Create(name);
        var type = network.GetType();
        network.LoadWeights(RandomWeights.For(network, 21));
        var input = RandomWeights.Input(network.Batch * network.InputShape.Elements, 22);
        var expected = new float[network.Batch * network.OutputShape.Elements];
        network.Forward(input, expected);

        string exe = CudaTools.BuildShim(name, type, "driver.cpp"), dir = Path.GetDirectoryName(exe)!;
        CudaTools.WriteBytes(Path.Combine(dir, "p.bin"), network.Store);
        CudaTools.WriteBytes(Path.Combine(dir, "in.bin"), (ReadOnlySpan<float>)input);
        var (code, err) = CudaTools.Exec(exe, Path.Combine(dir, "p.bin"), CudaTools.Constant<long>(type, "CudaArenaLength").ToString(), CudaTools.Constant<long>(type, "CudaInputStart").ToString(),
            Path.Combine(dir, "in.bin"), CudaTools.Constant<long>(type, "CudaOutputStart").ToString(), expected.Length.ToString(), Path.Combine(dir, "out.bin"));
        Assert.True(code == 0, $"the emulated forward pass failed: {err}");
        float[] ours = SharedData.ReadF32(Path.Combine(dir, "out.bin"));
        double worst = Compare.AssertClose(ours, expected, $"{name}: CUDA kernels (CPU shim) vs the C# forward pass", Compare.ForwardTolerance);
        output.WriteLine($"{name}: {expected.Length} outputs, worst relative difference {worst:E2}");
    }
}
