using Espnet.Compiled.Cpu.Fast;

namespace Espnet.Compiled.Tests.Kernels;

/// <summary>
/// Tests that change the process-wide kernel settings (vector width, thread count) run in this collection,
/// never beside other tests; each change is undone when its scope ends.
/// </summary>
[CollectionDefinition(nameof(KernelSettings), DisableParallelization = true)]
public sealed class KernelSettings
{
    public static IDisposable Width(bool use512)
    {
        bool before = Simd.Use512;
        Simd.Use512 = use512;
        return new Restore(() => Simd.Use512 = before);
    }

    public static IDisposable Winograd(bool use)
    {
        bool before = FastConv.UseWinograd;
        FastConv.UseWinograd = use;
        return new Restore(() => FastConv.UseWinograd = before);
    }

    public static IDisposable Threads(int threads)
    {
        int before = Workers.Threads;
        Workers.Threads = threads;
        return new Restore(() => Workers.Threads = before);
    }

    private sealed class Restore(Action undo) : IDisposable
    {
        public void Dispose() => undo();
    }
}
