using System.Diagnostics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Espnet.Compiled.Cpu.Fast;

namespace Espnet.Compiled.Cli;

/// <summary>
/// This machine's float32 peak, measured: independent chains of fused multiply-adds at the kernels' vector
/// width, enough of them to hide the FMA latency, on one thread and on every thread at once.
/// </summary>
internal static class PeakFlops
{
    public static (double PerThread, double AllThreads, int Threads, int VectorBits) Measure(int threads)
    {
        Run(TimeSpan.FromMilliseconds(50)); // JIT and clocks up
        double one = Run(TimeSpan.FromMilliseconds(300));
        var results = new double[threads];
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() => results[t] = Run(TimeSpan.FromMilliseconds(300)))).ToArray();
        foreach (var w in workers) w.Start();
        foreach (var w in workers) w.Join();
        return (one, results.Sum(), threads, Simd.Use512 ? 512 : 256);
    }

    /// <summary>GFLOP/s of one thread running FMA chains for about <paramref name="duration"/>.</summary>
    private static double Run(TimeSpan duration)
    {
        long flops = 0;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < duration)
            flops += Simd.Use512 && Avx512F.IsSupported ? Chains512(1 << 16) : Chains256(1 << 16);
        return flops / clock.Elapsed.TotalSeconds / 1e9;
    }

    private static long Chains256(int iterations)
    {
        var m = Vector256.Create(0.999999f);
        var c = Vector256.Create(1e-7f);
        Vector256<float> a0 = m, a1 = m, a2 = m, a3 = m, a4 = m, a5 = m, a6 = m, a7 = m, a8 = m, a9 = m, a10 = m, a11 = m;
        for (int i = 0; i < iterations; i++)
        {
            a0 = F(a0, m, c); a1 = F(a1, m, c); a2 = F(a2, m, c); a3 = F(a3, m, c); a4 = F(a4, m, c); a5 = F(a5, m, c);
            a6 = F(a6, m, c); a7 = F(a7, m, c); a8 = F(a8, m, c); a9 = F(a9, m, c); a10 = F(a10, m, c); a11 = F(a11, m, c);
        }
        var sum = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;
        if (Vector256.Sum(sum) == 42f) Console.Write(""); // keep the chains alive
        return 12L * 2 * Vector256<float>.Count * iterations;

        static Vector256<float> F(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Fma.IsSupported ? Fma.MultiplyAdd(a, b, c) : a * b + c;
    }

    private static long Chains512(int iterations)
    {
        var m = Vector512.Create(0.999999f);
        var c = Vector512.Create(1e-7f);
        Vector512<float> a0 = m, a1 = m, a2 = m, a3 = m, a4 = m, a5 = m, a6 = m, a7 = m, a8 = m, a9 = m, a10 = m, a11 = m;
        for (int i = 0; i < iterations; i++)
        {
            a0 = F(a0, m, c); a1 = F(a1, m, c); a2 = F(a2, m, c); a3 = F(a3, m, c); a4 = F(a4, m, c); a5 = F(a5, m, c);
            a6 = F(a6, m, c); a7 = F(a7, m, c); a8 = F(a8, m, c); a9 = F(a9, m, c); a10 = F(a10, m, c); a11 = F(a11, m, c);
        }
        var sum = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;
        if (Vector512.Sum(sum) == 42f) Console.Write("");
        return 12L * 2 * Vector512<float>.Count * iterations;

        static Vector512<float> F(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Avx512F.FusedMultiplyAdd(a, b, c);
    }
}
