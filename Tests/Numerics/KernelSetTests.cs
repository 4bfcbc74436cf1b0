using Espnet.Compiled.Cpu.Fast;
using Espnet.Compiled.Tests.Kernels;
using Espnet.Compiled.Tests.RealWeights;
using Espnet.Compiled.Tests.Support;

namespace Espnet.Compiled.Tests.Numerics;

// The same published networks on the reference kernels (no passes, double accumulation): the fast path's oracle.
[EspNet(Classes = 20, P = 2, Q = 3, Height = 64, Width = 128, Kernels = CpuKernels.Reference)]
public sealed partial class EspNetP2Q3At64x128Reference;

[EspNetV2(Scale = 1.0, Classes = 1000, Height = 64, Width = 96, Kernels = CpuKernels.Reference)]
public sealed partial class EspNetV2S10At64x96Reference;

[EspNetV2(Scale = 1.0, Classes = 1000, Height = 64, Width = 96)]
public sealed partial class EspNetV2S10At64x96;

[EspNetV2Segmentation(Scale = 2.0, Classes = 20, Height = 64, Width = 128, Kernels = CpuKernels.Reference)]
public sealed partial class EdgeNetsS20CityAt64x128Reference;

/// <summary>
/// The fast kernels (BatchNorm folded, fused epilogues, float32) against the reference kernels on the same
/// networks and weights; results independent of the thread count; no allocation on any thread.
/// </summary>
[Collection(nameof(KernelSettings))]
public sealed class KernelSetTests(ITestOutputHelper output)
{
    // Two float32 evaluations of a deep network differ by their rounding, amplified by the BatchNorms after it.
    // ESPNetv2's random-weight logits reach ~650: measured, the two kernel sets differ by at most 2.4e-7 x max|b|,
    // which is 1.05e-4 at a logit near 1. Allowed on top of the 1e-4 rule: 1e-6 x max|b| (the test prints both figures).
    private const double NoiseFloor = 1e-6;

    public static TheoryData<string> Pairs => new() { "ESPNet p2q3", "ESPNetv2 s1.0", "EdgeNets s2.0" };

    private static (ICompiledNetwork Fast, ICompiledNetwork Reference) Pair(string name) => name switch
    {
        "ESPNet p2q3" => (new EspNetP2Q3At64x128(), new EspNetP2Q3At64x128Reference()),
        "ESPNetv2 s1.0" => (new EspNetV2S10At64x96(), new EspNetV2S10At64x96Reference()),
        _ => (new EdgeNetsS20CityAt64x128(), new EdgeNetsS20CityAt64x128Reference()),
    };

    [Theory]
    [MemberData(nameof(Pairs))]
    public void Fast_kernels_match_the_reference_kernels(string name)
    {
        var (fast, reference) = Pair(name);
        Assert.Equal(reference.Parameters.Select(p => p.Key), fast.Parameters.Select(p => p.Key));
        Assert.Equal(reference.MacCount, fast.MacCount);
        foreach (int seed in new[] { 5, 2026 })
        {
            var weights = RandomWeights.For(reference, seed);
            fast.LoadWeights(weights);
            reference.LoadWeights(weights);
            var input = RandomWeights.Input(reference.Batch * reference.InputShape.Elements, seed + 1);
            var expected = new float[reference.Batch * reference.OutputShape.Elements];
            var actual = new float[expected.Length];
            var fastTaps = new TapRecorder();
            var referenceTaps = new TapRecorder();
            reference.Forward(input, expected, referenceTaps);
            fast.Forward(input, actual, fastTaps);
            foreach (var layer in reference.Layers)
            {
                Compare.AssertClose(fastTaps.Values[layer.Name], referenceTaps.Values[layer.Name].Select(v => (double)v).ToArray(),
                    $"{name} layer {layer.Name}", Compare.ForwardTolerance, NoiseFloor, seedNote: $"seed {seed}");
                if (layer.Index == reference.Layers.Count - 1)
                {
                    var f = fastTaps.Values[layer.Name];
                    var r = referenceTaps.Values[layer.Name];
                    double scale = r.Max(v => Math.Abs(v)), raw = 0, absolute = 0;
                    for (int i = 0; i < r.Length; i++)
                    {
                        raw = Math.Max(raw, Math.Abs(f[i] - r[i]) / Math.Max(1, Math.Abs(r[i])));
                        absolute = Math.Max(absolute, Math.Abs(f[i] - r[i]));
                    }
                    output.WriteLine($"{name}, seed {seed}: output within {raw:E2} (relative) and {absolute / scale:E2} x max|b| of the reference kernels");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public void Results_are_bit_identical_for_any_thread_count(string name)
    {
        var (model, _) = Pair(name);
        model.LoadWeights(RandomWeights.For(model, 11));
        var input = RandomWeights.Input(model.Batch * model.InputShape.Elements, 12);
        var one = new float[model.Batch * model.OutputShape.Elements];
        var two = new float[one.Length];
        var three = new float[one.Length];
        using (KernelSettings.Threads(1)) model.Forward(input, one);
        using (KernelSettings.Threads(2)) model.Forward(input, two);
        using (KernelSettings.Threads(3)) model.Forward(input, three);
        Compare.AssertNotDegenerate(one.Select(v => (double)v).ToArray(), name + " output");
        Assert.Equal(one, two);
        Assert.Equal(one, three);
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public void Both_vector_widths_agree(string name)
    {
        var (model, _) = Pair(name);
        model.LoadWeights(RandomWeights.For(model, 13));
        var input = RandomWeights.Input(model.Batch * model.InputShape.Elements, 14);
        var narrow = new float[model.Batch * model.OutputShape.Elements];
        var wide = new float[narrow.Length];
        using (KernelSettings.Width(false)) model.Forward(input, narrow);
        using (KernelSettings.Width(true)) model.Forward(input, wide);
        Compare.AssertClose(wide, (ReadOnlySpan<float>)narrow, name + ": 512-bit vs 256-bit kernels", Compare.ForwardTolerance, NoiseFloor);
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public void No_thread_allocates_in_a_steady_state_forward(string name)
    {
        var (model, _) = Pair(name);
        model.LoadWeights(RandomWeights.For(model, 15));
        var input = RandomWeights.Input(model.Batch * model.InputShape.Elements, 16);
        var result = new float[model.Batch * model.OutputShape.Elements];
        // Warm-up: one pass on the calling thread alone compiles every kernel path (the JIT allocates, once per
        // process, on whichever thread first runs a method); then one pass on two threads.
        using (KernelSettings.Threads(1)) model.Forward(input, result);
        using (KernelSettings.Threads(2))
        {
            model.Forward(input, result);
            long helpers = Workers.HelperAllocatedBytes;
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 3; i++) model.Forward(input, result);
            Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
            Assert.Equal(0, Workers.HelperAllocatedBytes - helpers);
        }
    }
}
