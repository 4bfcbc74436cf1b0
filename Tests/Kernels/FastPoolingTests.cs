using Espnet.Compiled.Cpu;
using Espnet.Compiled.Cpu.Fast;
using Espnet.Compiled.Tests.Support;

namespace Espnet.Compiled.Tests.Kernels;

/// <summary>
/// The fast 3x3 / 2 average pooling (column sums of the window's rows, then the even and odd columns added
/// shifted; several output rows per work item on small maps) against the plain kernel: odd and even sizes, maps
/// narrower than a vector, one row, many rows per item; and the same bits for one and two threads.
/// </summary>
[Collection(nameof(KernelSettings))]
public sealed class FastPoolingTests
{
    [Theory]
    [InlineData(3, 224, 224)]
    [InlineData(32, 112, 112)]
    [InlineData(5, 7, 7)]
    [InlineData(4, 1, 9)]
    [InlineData(2, 9, 1)]
    [InlineData(6, 13, 37)]
    [InlineData(3, 300, 20)]
    public void Average_pooling_matches_the_plain_kernel(int c, int h, int w)
    {
        int seed = HashCode.Combine(c, h, w) & 0x7fffffff;
        var rng = new Random(seed);
        int ho = (h - 1) / 2 + 1, wo = (w - 1) / 2 + 1;
        var x = new float[c * h * w];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(2 * rng.NextDouble() - 1);
        var expected = new float[c * ho * wo];
        Elementwise.AvgPool3x3S2(x, c, h, w, expected, ho, wo);
        float[]? first = null;
        foreach (int threads in new[] { 1, 2 })
            using (KernelSettings.Threads(threads))
            {
                var actual = new float[expected.Length + 4];
                Array.Fill(actual, 12345f);
                FastElementwise.AvgPool3x3S2(x, c, h, w, actual.AsSpan(0, expected.Length), ho, wo);
                for (int i = expected.Length; i < actual.Length; i++) Assert.Equal(12345f, actual[i]);
                // The same nine values summed in another order: float rounding apart.
                Compare.AssertClose(actual.AsSpan(0, expected.Length), (ReadOnlySpan<float>)expected, $"avgpool {c}x{h}x{w}, {threads} thread(s) (seed {seed})", 1e-6);
                if (first is null) first = actual;
                else Assert.Equal(first, actual);
            }
    }
}
