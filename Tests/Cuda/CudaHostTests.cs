using System.Runtime.InteropServices;
using static Espnet.Compiled.Tests.Cli.CliHarness;

namespace Espnet.Compiled.Tests.Cuda;

/// <summary>`--device cuda` where there is no GPU (this project's CI): one clear line and exit 1, before any work.</summary>
// Runs networks on the shared worker threads: kept apart from the tests that count allocations.
[Collection(nameof(Espnet.Compiled.Tests.Kernels.KernelSettings))]
public sealed class CudaHostTests
{
    private static void RequireNoDriver()
    {
        if (NativeLibrary.TryLoad("libcuda.so.1", out var handle))
        {
            NativeLibrary.Free(handle);
            Assert.Skip("this machine has a CUDA driver: the no-driver path is tested where there is none");
        }
    }

    [Fact]
    public void Run_and_bench_on_cuda_without_a_driver_say_so_in_one_line()
    {
        RequireNoDriver();
        string dir = TempDirectory(), output = Path.Combine(dir, "y.f32");
        string line = AssertFails(Run("run", "--model", "espnet-p2-q3", "--height", "64", "--width", "128", "--weights", "builtin",
            "--input", "synthetic", "--output", output, "--device", "cuda"), 1);
        Assert.Equal("espnet: no CUDA driver found: use --device cpu", line);
        Assert.False(File.Exists(output));
        Assert.Empty(Directory.GetFiles(dir));
        Assert.Equal("espnet: no CUDA driver found: use --device cpu", AssertFails(Run("bench", "--model", "espnet-p2-q3", "--device", "cuda"), 1));
    }

    [Fact]
    public void Training_on_cuda_without_a_driver_says_so_in_one_line_before_any_work()
    {
        RequireNoDriver();
        string data = TempDirectory(), parent = TempDirectory(), output = Path.Combine(parent, "run");
        string line = AssertFails(Run("train", "--model", "espnet-c-p2-q3", "--data", data, "--out", output, "--device", "cuda"), 1);
        Assert.Equal("espnet: no CUDA driver found: use --device cpu", line);
        Assert.False(Directory.Exists(output));
        Assert.Equal("espnet: no CUDA driver found: use --device cpu",
            AssertFails(Run("bench", "--model", "espnet-c-p2-q3", "--height", "64", "--width", "128", "--train", "--device", "cuda"), 1));
    }

    [Fact]
    public void Frozen_batchnorm_on_cuda_is_refused_with_what_to_do()
    {
        string line = AssertFails(Run("train", "--model", "espnet-c-p2-q3", "--data", TempDirectory(), "--out", TempDirectory(), "--device", "cuda", "--freeze-bn"), 2);
        Assert.Equal("espnet: --freeze-bn trains on the CPU only so far; leave it out or use --device cpu", line);
    }
}
