using Espnet.Compiled.Cpu.Fast;
using Espnet.Compiled.Tests.Kernels;
using Espnet.Compiled.Tests.RealWeights;
using Espnet.Compiled.Tests.Support;

namespace Espnet.Compiled.Tests.Numerics;

/// <summary>
/// ESP blocks whose branches the fast kernels run as Winograd F(2x2, 3x3), every layer against the independent
/// double-precision reference, at both vector widths; the figures are printed.
/// </summary>
[Collection(nameof(KernelSettings))]
public sealed class WinogradNetTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(11)]
    [InlineData(20261201)]
    public void Esp_blocks_on_Winograd_match_the_reference(int seed)
    {
        var model = new WinogradNet();
        var sd = RandomWeights.For(model, seed);
        model.LoadWeights(sd);
        var input = RandomWeights.Input(WinogradNet.InputLength, seed + 1);
        var p = RandomWeights.Lookup(sd);
        var x = new T(3, 32, 64, input.Select(v => (double)v).ToArray());
        double eps = 1e-3;
        var expected = new Dictionary<string, T>();
        T stem = expected["stem"] = Ref.PRelu(Ref.Bn(Ref.Conv(x, p("stem.conv.weight"), 32, 3), p, "stem.bn.", eps), p("stem.act.weight"));
        T e1 = expected["e1"] = Ref.Esp(stem, p, "e1", 128, 5, new[] { 1, 2, 4, 8, 16 }, strided: false, residual: false, fusion: true, eps);
        expected["e2"] = Ref.Esp(e1, p, "e2", 128, 5, new[] { 1, 2, 4, 8, 16 }, strided: false, residual: true, fusion: true, eps);

        // The branches of both blocks: 25 input channels, 28 and 25 output channels, 32x64.
        foreach (int d in new[] { 1, 2, 4, 8, 16 })
            foreach (bool wide in new[] { false, true })
                using (KernelSettings.Width(wide))
                    Assert.True(FastConv.Winograd(25, 25, 32, 64, 3, 1, d, 1), $"d={d} should run as Winograd");

        // Winograd, then the direct kernels for comparison (the figures show what the transforms cost in accuracy).
        foreach (bool winograd in new[] { true, false })
            foreach (bool wide in new[] { false, true })
                using (KernelSettings.Width(wide))
                using (KernelSettings.Winograd(winograd))
                {
                    var taps = new TapRecorder();
                    model.Forward(input, new float[WinogradNet.OutputLength], taps);
                    foreach (var (name, t) in expected)
                    {
                        string what = $"{name} {(wide ? 512 : 256)}-bit {(winograd ? "Winograd" : "direct")}";
                        double worst = Compare.AssertClose(taps.Values[name], t.D, what, seedNote: $"seed {seed}");
                        output.WriteLine($"{what,-26}: largest relative error {worst:E2} against float64 (seed {seed})");
                    }
                }
    }
}
