using Espnet.Compiled.Cpu;
using Espnet.Compiled.Cpu.Fast;
using Espnet.Compiled.Tests.Support;

namespace Espnet.Compiled.Tests.Kernels;

/// <summary>
/// The fast convolution kernels against the plain ones (the oracle, double accumulation) over the edge
/// classes: channel counts below, at and above the 4-channel block and the 8-float vector, not multiples of
/// either; widths below 8, between 8 and 16, above 16 and odd; stride 1 and 2; every dilation the zoo uses;
/// groups, depth-wise, kernel 1, 3 and 5; with and without bias and PReLU.
/// </summary>
[Collection(nameof(KernelSettings))]
public sealed class FastConvTests
{
    public static TheoryData<int, int, int, int, int, int, int, int> Cases()
    {
        var data = new TheoryData<int, int, int, int, int, int, int, int>();
        // cin, cout, h, w, kernel, stride, dilation, groups
        foreach (int cin in new[] { 1, 3, 8, 13 })
            foreach (int cout in new[] { 1, 4, 7, 17 })
                data.Add(cin, cout, 11, 21, 1, 1, 1, 1);
        foreach (var (h, w) in new[] { (5, 5), (9, 8), (12, 16), (13, 37), (7, 70) })
            foreach (int d in new[] { 1, 2, 3, 4, 8, 16 })
                foreach (int stride in new[] { 1, 2 })
                    data.Add(6, 9, h, w, 3, stride, d, 1);
        foreach (int d in new[] { 1, 2, 5, 7 })
            foreach (int stride in new[] { 1, 2 })
            {
                data.Add(12, 12, 17, 45, 3, stride, d, 12);   // depth-wise
                data.Add(12, 8, 17, 45, 3, stride, d, 4);     // grouped
            }
        data.Add(3, 16, 32, 64, 3, 2, 1, 1);              // ESPNet level1
        data.Add(3, 32, 20, 50, 3, 2, 1, 1);              // ESPNetv2 level1, narrower: the row's last vectors four channels at a time
        data.Add(5, 8, 6, 25, 3, 1, 2, 1);
        data.Add(19, 12, 16, 32, 3, 2, 1, 1);             // strided ESP reduce
        data.Add(4, 5, 14, 23, 5, 1, 1, 1);               // kernel 5
        data.Add(4, 5, 14, 23, 5, 2, 2, 1);
        data.Add(10, 6, 9, 19, 1, 1, 1, 2);               // grouped 1x1
        data.Add(1280, 10, 1, 1, 1, 1, 1, 1);             // a linear layer
        // Small maps: a 1x1 tile's last columns fewer than one vector or between one and two (7x7, 5x5), over
        // more input channels than one run of sums; depth-wise rows narrower than two vectors, four at a time
        // with a shorter last block.
        data.Add(64, 20, 7, 7, 1, 1, 1, 1);
        data.Add(40, 12, 5, 5, 1, 1, 1, 1);
        data.Add(128, 64, 7, 7, 1, 1, 1, 4);
        data.Add(12, 12, 7, 7, 3, 1, 2, 12);
        data.Add(8, 8, 14, 14, 3, 1, 3, 8);
        data.Add(5, 5, 9, 13, 3, 1, 1, 5);
        data.Add(5, 5, 6, 30, 3, 1, 4, 5);
        // Inputs large enough to be padded a band of rows at a time (more than ConvPlan.BandFloats padded).
        data.Add(36, 20, 40, 600, 3, 1, 1, 1);            // ESPNet's decoder conv, shorter
        data.Add(19, 12, 128, 300, 3, 2, 1, 1);           // a strided reduce
        data.Add(12, 12, 128, 300, 3, 1, 4, 12);          // depth-wise, dilated
        data.Add(8, 8, 100, 400, 3, 1, 16, 1);            // dilation 16: bands overlap by 32 rows
        data.Add(8, 8, 90, 333, 3, 2, 3, 8);              // depth-wise, stride 2, odd sizes
        // Large grouped convolutions pad their own rows per work item (ConvPlan.PadsPerItem).
        data.Add(50, 10, 40, 700, 3, 1, 1, 10);           // EfficientPyrPool's merge, shorter
        data.Add(16, 8, 131, 257, 3, 2, 2, 4);            // grouped, stride 2, dilated, odd sizes
        data.Add(6, 6, 3, 20000, 3, 1, 1, 6);             // one wide row band: fewer rows than items wanted
        data.Add(4, 6, 61, 1500, 5, 1, 1, 2);             // kernel 5, grouped
        data.Add(64, 64, 100, 50, 3, 1, 2, 64);           // narrow rows, padded per item (a band of rows)
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Matches_the_plain_kernel(int cin, int cout, int h, int w, int kernel, int stride, int dilation, int groups)
    {
        foreach (bool wide in new[] { false, true })
            using (KernelSettings.Width(wide))
                Check(cin, cout, h, w, kernel, stride, dilation, groups, wide);
    }

    private static void Check(int cin, int cout, int h, int w, int kernel, int stride, int dilation, int groups, bool wide)
    {
        int seed = HashCode.Combine(cin, cout, h, w, kernel, stride, dilation, groups) & 0x7fffffff;
        var rng = new Random(seed);
        int pad = (kernel - 1) / 2 * dilation;
        int ho = (h + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1, wo = (w + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1;
        var x = Random(rng, cin * h * w);
        var weight = Random(rng, cout * (cin / groups) * kernel * kernel);
        var bias = Random(rng, cout);
        var slope = Random(rng, cout);
        var scratch = new float[FastConv.ScratchFloats(cin, h, w, kernel, stride, dilation, groups)];

        foreach (bool epilogue in new[] { false, true })
        {
            var expected = new float[cout * ho * wo];
            Conv.Conv2d(x, cin, h, w, weight, expected, cout, ho, wo, kernel, stride, dilation, groups);
            if (epilogue)
            {
                Conv.AddBias(expected, cout, ho * wo, bias);
                Elementwise.PRelu(expected, cout, ho * wo, slope);
            }
            // Guard values past the end catch writes out of bounds.
            var actual = new float[expected.Length + 8];
            Array.Fill(actual, 12345f);
            FastConv.Conv2d(x, cin, h, w, weight, actual.AsSpan(0, expected.Length), cout, ho, wo, kernel, stride, dilation, groups,
                epilogue ? bias : default, epilogue ? slope : default, scratch);
            for (int i = expected.Length; i < actual.Length; i++) Assert.Equal(12345f, actual[i]);
            if (kernel > 1 || stride > 1)
            {
                // The same convolution reading an input padded beforehand by a larger halo (shared by ESP branches).
                int halo = pad + 3;
                var padded = new float[FastConv.PaddedFloats(cin, h, w, halo)];
                FastConv.Pad(x, cin, h, w, halo, stride, padded);
                var shared = new float[expected.Length];
                FastConv.Conv2d(padded, cin, h, w, weight, shared, cout, ho, wo, kernel, stride, dilation, groups,
                    epilogue ? bias : default, epilogue ? slope : default, default, inputHalo: halo);
                Assert.Equal(actual.AsSpan(0, expected.Length).ToArray(), shared);
            }
            // float32 accumulation of up to cin*k*k products of magnitude <= 1 against a double sum.
            double tolerance = 1e-6 * Math.Max(8, cin / groups * kernel * kernel);
            Compare.AssertClose(actual.AsSpan(0, expected.Length), (ReadOnlySpan<float>)expected,
                $"conv {cin}->{cout} {h}x{w} k{kernel} s{stride} d{dilation} g{groups} epilogue={epilogue} {(wide ? 512 : 256)}-bit (seed {seed})", tolerance);
        }
    }

    /// <summary>
    /// The convolutions that pad their own rows per work item give the same bits for one and two threads, as the
    /// layer-wide padded path does, and the planner reserves them no scratch.
    /// </summary>
    [Theory]
    [InlineData(10, 10, 512, 1024, 1, 1, 10)]   // EfficientPyrPool's depth-wise stage at scale 2
    [InlineData(50, 10, 64, 512, 1, 1, 10)]
    [InlineData(32, 32, 128, 256, 2, 3, 32)]     // a strided EESP branch
    public void Self_padded_items_are_thread_count_independent(int cin, int cout, int h, int w, int stride, int dilation, int groups)
    {
        Assert.Equal(0, FastConv.ScratchFloats(cin, h, w, 3, stride, dilation, groups));
        int seed = HashCode.Combine(cin, cout, h, w, stride, dilation, groups, 5) & 0x7fffffff;
        var rng = new Random(seed);
        int ho = (h - 1) / stride + 1, wo = (w - 1) / stride + 1;
        var x = Random(rng, cin * h * w);
        var weight = Random(rng, cout * (cin / groups) * 9);
        var bias = Random(rng, cout);
        var slope = Random(rng, cout);
        foreach (bool wide in new[] { false, true })
            using (KernelSettings.Width(wide))
            {
                var one = new float[cout * ho * wo];
                var two = new float[cout * ho * wo];
                using (KernelSettings.Threads(1)) FastConv.Conv2d(x, cin, h, w, weight, one, cout, ho, wo, 3, stride, dilation, groups, bias, slope, default);
                using (KernelSettings.Threads(2)) FastConv.Conv2d(x, cin, h, w, weight, two, cout, ho, wo, 3, stride, dilation, groups, bias, slope, default);
                Assert.True(one.AsSpan().SequenceEqual(two), $"1 vs 2 threads differ (seed {seed}, {(wide ? 512 : 256)}-bit)");
            }
    }

    /// <summary>
    /// Winograd F(2x2, 3x3) on the dilated grid against the plain kernel: every dilation, output channels not a
    /// multiple of the block of four, tiles gathered by lane permutation (d below the vector width) and by plain
    /// loads, with bias, PReLU and a residual, reading its own padded copy or a larger shared halo; the same result
    /// for 1 and 2 threads, and close to the direct kernel.
    /// </summary>
    [Theory]
    [InlineData(25, 25, 64, 64, 1)]
    [InlineData(25, 25, 64, 64, 2)]
    [InlineData(25, 25, 64, 64, 4)]
    [InlineData(25, 28, 64, 64, 8)]
    [InlineData(25, 25, 64, 64, 16)]
    [InlineData(16, 5, 8, 32, 1)]
    [InlineData(16, 7, 16, 32, 4)]
    [InlineData(33, 16, 32, 96, 2)]
    [InlineData(64, 16, 4, 32, 2)]
    [InlineData(36, 20, 128, 256, 1)]     // ESPNet's decoder conv, shorter: padded a band of rows at a time
    [InlineData(20, 8, 192, 96, 4)]       // bands of whole periods (2d rows), the last one shorter
    public void Winograd_matches_the_plain_kernel(int cin, int cout, int h, int w, int dilation)
    {
        int seed = HashCode.Combine(cin, cout, h, w, dilation, 3) & 0x7fffffff;
        var rng = new Random(seed);
        var x = Random(rng, cin * h * w);
        var weight = Random(rng, cout * cin * 9);
        var bias = Random(rng, cout);
        var slope = Random(rng, cout);
        var residual = Random(rng, cout * h * w);
        var expected = new float[cout * h * w];
        Conv.Conv2d(x, cin, h, w, weight, expected, cout, h, w, 3, 1, dilation, 1);
        for (int i = 0; i < expected.Length; i++) expected[i] += residual[i];
        Conv.AddBias(expected, cout, h * w, bias);
        Elementwise.PRelu(expected, cout, h * w, slope);
        var scratch = new float[FastConv.ScratchFloats(cin, h, w, 3, 1, dilation, 1)];
        int halo = dilation + 3;
        var padded = new float[FastConv.PaddedFloats(cin, h, w, halo)];
        FastConv.Pad(x, cin, h, w, halo, 1, padded);
        double tolerance = 1e-6 * cin * 9;
        foreach (bool wide in new[] { false, true })
            using (KernelSettings.Width(wide))
            {
                string what = $"winograd {cin}->{cout} {h}x{w} d{dilation} {(wide ? 512 : 256)}-bit (seed {seed})";
                Assert.True(FastConv.Winograd(cin, cout, h, w, 3, 1, dilation, 1), what + " should run as Winograd");
                var actual = new float[expected.Length + 8];
                Array.Fill(actual, 12345f);
                using (KernelSettings.Threads(1))
                    FastConv.Conv2d(x, cin, h, w, weight, actual.AsSpan(0, expected.Length), cout, h, w, 3, 1, dilation, 1, bias, slope, scratch, residual);
                for (int i = expected.Length; i < actual.Length; i++) Assert.Equal(12345f, actual[i]);
                var result = actual.AsSpan(0, expected.Length).ToArray();
                Compare.AssertClose(result, (ReadOnlySpan<float>)expected, what, tolerance);

                var twoThreads = new float[expected.Length];
                using (KernelSettings.Threads(2))
                    FastConv.Conv2d(padded, cin, h, w, weight, twoThreads, cout, h, w, 3, 1, dilation, 1, bias, slope, default, residual, inputHalo: halo);
                Assert.Equal(result, twoThreads);

                // The weights transformed once by the caller (a training batch's samples share them): the same bits.
                var u = new float[FastConv.WinogradWeightFloats(cin, cout)];
                FastConv.WinogradWeights(weight, cin, cout, u);
                var shared = new float[expected.Length];
                using (KernelSettings.Threads(2))
                    FastConv.Conv2d(x, cin, h, w, weight, shared, cout, h, w, 3, 1, dilation, 1, bias, slope, scratch, residual, winogradWeights: u);
                Assert.Equal(result, shared);

                var direct = new float[expected.Length];
                using (KernelSettings.Winograd(false))
                    FastConv.Conv2d(x, cin, h, w, weight, direct, cout, h, w, 3, 1, dilation, 1, bias, slope, scratch, residual);
                Compare.AssertClose(result, (ReadOnlySpan<float>)direct, what + " vs direct", tolerance);
            }
    }

    /// <summary>
    /// The transformed weights U = G g Gt (made four output channels at a time, the rest one by one): every pair,
    /// both paths (6 output channels: a group of four and two), against the matrices written out in double; the
    /// padding channels of the last block zero.
    /// </summary>
    [Fact]
    public void Winograd_weights_are_G_g_Gt()
    {
        int cin = 3, cout = 6, blocks = 8;
        var weight = Random(new Random(7), cout * cin * 9);
        var u = new float[FastConv.WinogradWeightFloats(cin, cout)];
        Array.Fill(u, float.NaN);
        FastConv.WinogradWeights(weight, cin, cout, u);
        double[,] g = { { 1, 0, 0 }, { 0.5, 0.5, 0.5 }, { 0.5, -0.5, 0.5 }, { 0, 0, 1 } };
        for (int o = 0; o < blocks; o++)
            for (int ci = 0; ci < cin; ci++)
                for (int i = 0; i < 4; i++)
                    for (int j = 0; j < 4; j++)
                    {
                        double sum = 0;
                        if (o < cout)
                            for (int r = 0; r < 3; r++)
                                for (int c = 0; c < 3; c++) sum += g[i, r] * weight[(o * cin + ci) * 9 + r * 3 + c] * g[j, c];
                        float got = u[((4 * i + j) * cin + ci) * blocks + o];
                        Assert.True(Math.Abs(got - sum) <= 1e-7 * Math.Max(1, Math.Abs(sum)), $"U[{i},{j}] of pair ({o}, {ci}): {got}, expected {sum}");
                    }
    }

    /// <summary>
    /// The padded copy, float by float, with the buffer poisoned first: every padding float zero, every input float
    /// where the layout puts it (stride 2: each padded row split into its even columns, then its odd ones), at both
    /// vector widths, odd and even widths and halos, rows long enough for the 512- and 256-bit paths and their tails.
    /// </summary>
    [Theory]
    [InlineData(1, 1)]
    [InlineData(1, 2)]
    [InlineData(2, 2)]
    [InlineData(3, 2)]
    [InlineData(4, 2)]
    [InlineData(16, 2)]
    [InlineData(5, 1)]
    public void Padded_layout_holds_the_input_and_zeros(int halo, int stride)
    {
        foreach (bool wide in new[] { false, true })
            foreach (int w in new[] { 1, 7, 16, 33, 64, 95, 130 })
                using (KernelSettings.Width(wide))
                {
                    int c = 3, h = 5, row = w + 2 * halo, even = (row + 1) / 2;
                    var x = Random(new Random(w * 31 + halo), c * h * w);
                    var padded = new float[FastConv.PaddedFloats(c, h, w, halo)];
                    Array.Fill(padded, float.NaN);
                    FastConv.Pad(x, c, h, w, halo, stride, padded);
                    for (int ch = 0; ch < c; ch++)
                        for (int q = 0; q < h + 2 * halo; q++)
                            for (int col = 0; col < row; col++)
                            {
                                int r = q - halo, i = col - halo;
                                float expected = r >= 0 && r < h && i >= 0 && i < w ? x[(ch * h + r) * w + i] : 0f;
                                int at = stride == 1 ? col : (col & 1) == 0 ? col / 2 : even + col / 2;
                                float got = padded[(ch * (h + 2 * halo) + q) * row + at];
                                Assert.True(got.Equals(expected), $"width {w}, halo {halo}, stride {stride}, {(wide ? 512 : 256)}-bit: channel {ch} padded ({q}, {col}) holds {got}, expected {expected}");
                            }
                }
    }

    /// <summary>
    /// A convolution whose input is un-shuffled, batch-normalised and PReLU'd while it is padded equals the plain
    /// kernels run one after another: BatchNorm, PReLU, channel shuffle, then the convolution (grouped, as in
    /// EfficientPyrPool's merge; also ungrouped, dilated, and large enough to be padded in bands).
    /// </summary>
    [Theory]
    [InlineData(50, 10, 12, 20, 1, 10, 5)]
    [InlineData(12, 8, 9, 17, 2, 1, 3)]
    [InlineData(40, 10, 100, 300, 1, 10, 4)]
    public void Input_transform_matches_the_plain_kernels_in_sequence(int cin, int cout, int h, int w, int dilation, int groups, int shuffleGroups)
    {
        int seed = HashCode.Combine(cin, cout, h, w, dilation, groups, shuffleGroups) & 0x7fffffff;
        var rng = new Random(seed);
        var x = Random(rng, cin * h * w);
        var weight = Random(rng, cout * (cin / groups) * 9);
        var gamma = Random(rng, cin);
        var beta = Random(rng, cin);
        var mean = Random(rng, cin);
        var variance = Random(rng, cin).Select(v => 0.5f + Math.Abs(v)).ToArray();
        var slope = Random(rng, cin);
        const float eps = 1e-5f;
        var scale = new float[cin];
        for (int c = 0; c < cin; c++) scale[c] = (float)(gamma[c] / Math.Sqrt(variance[c] + eps));

        var normalised = (float[])x.Clone();
        Elementwise.BatchNorm(normalised, cin, h * w, gamma, beta, mean, variance, eps);
        Elementwise.PRelu(normalised, cin, h * w, slope);
        var shuffled = new float[x.Length];
        Resampling.ChannelShuffle(normalised, cin, h * w, shuffleGroups, shuffled);
        var expected = new float[cout * h * w];
        Conv.Conv2d(shuffled, cin, h, w, weight, expected, cout, h, w, 3, 1, dilation, groups);

        var actual = new float[expected.Length];
        var scratch = new float[FastConv.ScratchFloats(cin, h, w, 3, 1, dilation, groups)];
        foreach (bool wide in new[] { false, true })
            using (KernelSettings.Width(wide))
            {
                FastConv.Conv2d(x, cin, h, w, weight, actual, cout, h, w, 3, 1, dilation, groups, default, default, scratch,
                    input: new InputTransform(shuffleGroups, mean, scale, beta, slope));
                Compare.AssertClose(actual, (ReadOnlySpan<float>)expected,
                    $"input transform {cin}->{cout} {h}x{w} d{dilation} g{groups} shuffle {shuffleGroups} {(wide ? 512 : 256)}-bit (seed {seed})",
                    1e-6 * Math.Max(8, cin / groups * 9) * 4);
            }
    }

    [Theory]
    [InlineData(3, 5, 5, 7)]
    [InlineData(20, 20, 8, 16)]
    [InlineData(4, 3, 13, 37)]
    [InlineData(17, 9, 3, 70)]
    public void Transposed_2x2_matches_the_plain_kernel(int cin, int cout, int h, int w)
    {
        var rng = new Random(cin * 1000 + w);
        var x = Random(rng, cin * h * w);
        var weight = Random(rng, cin * cout * 4);
        var expected = new float[cout * 4 * h * w];
        Conv.ConvTranspose2d(x, cin, h, w, weight, expected, cout, 2 * h, 2 * w, kernel: 2, stride: 2);
        foreach (bool wide in new[] { false, true })
            using (KernelSettings.Width(wide))
            {
                var actual = new float[expected.Length];
                FastElementwise.ConvTranspose2x2(x, cin, h, w, weight, actual, cout);
                Compare.AssertClose(actual, (ReadOnlySpan<float>)expected, $"transposed {cin}->{cout} {h}x{w} {(wide ? 512 : 256)}-bit", 1e-6 * Math.Max(8, cin));
            }
    }

    /// <summary>
    /// A convolution written in <see cref="OutputLayout.RowBlocked"/> layout holds, at each channel's rows, exactly
    /// what the plain layout holds (the same kernels, only the stores move): direct and Winograd, whole and banded
    /// (padded per item), stride 2, output channels not a multiple of four (the leftover-channel path), both
    /// widths and 1 or 2 threads. Floats of the span outside the layout's rows are left alone.
    /// </summary>
    [Theory]
    [InlineData(36, 20, 16, 32, 1, 1)]     // Winograd, whole input padded once
    [InlineData(36, 20, 40, 640, 1, 1)]    // Winograd in bands (ESPNet's decoder conv, shorter)
    [InlineData(6, 9, 13, 37, 1, 2)]       // direct, odd sizes, a leftover channel
    [InlineData(19, 6, 128, 300, 2, 1)]    // strided, banded
    [InlineData(5, 3, 9, 70, 1, 3)]        // fewer channels than one block
    public void Row_blocked_output_holds_the_plain_output(int cin, int cout, int h, int w, int stride, int dilation)
    {
        int seed = cin * 7919 + h * 31 + w;
        var rng = new Random(seed);
        int ho = (h - 1) / stride + 1, wo = (w - 1) / stride + 1;
        var x = Random(rng, cin * h * w);
        var weight = Random(rng, cout * cin * 9);
        var bias = Random(rng, cout);
        var slope = Random(rng, cout);
        var layout = OutputLayout.RowBlocked(ho, wo);
        int spanFloats = (int)layout.Span(cout, ho, wo);
        foreach (bool wide in new[] { false, true })
            foreach (int threads in new[] { 1, 2 })
                using (KernelSettings.Width(wide))
                using (KernelSettings.Threads(threads))
                {
                    string what = $"{cin}->{cout} {h}x{w} s{stride} d{dilation} {(wide ? 512 : 256)}-bit {threads} threads (seed {seed})";
                    var plain = new float[cout * ho * wo];
                    var scratch = new float[FastConv.ScratchFloats(cin, h, w, 3, stride, dilation, 1) + 16];
                    FastConv.Conv2d(x, cin, h, w, weight, plain, cout, ho, wo, 3, stride, dilation, 1, bias, slope, scratch);
                    var blocked = new float[spanFloats + 5];
                    Array.Fill(blocked, float.NaN);
                    FastConv.Conv2d(x, cin, h, w, weight, blocked.AsSpan(0, spanFloats), cout, ho, wo, 3, stride, dilation, 1, bias, slope, scratch, layout: layout);
                    var written = new bool[blocked.Length];
                    for (int o = 0; o < cout; o++)
                        for (int r = 0; r < ho; r++)
                        {
                            int at = (int)layout.Offset(o, r);
                            for (int c = 0; c < wo; c++)
                            {
                                Assert.True(BitConverter.SingleToInt32Bits(plain[(o * ho + r) * wo + c]) == BitConverter.SingleToInt32Bits(blocked[at + c]),
                                    $"channel {o} row {r} column {c}: {blocked[at + c]} vs {plain[(o * ho + r) * wo + c]}, {what}");
                                written[at + c] = true;
                            }
                        }
                    for (int i = 0; i < blocked.Length; i++)
                        Assert.True(written[i] || float.IsNaN(blocked[i]), $"float {i} outside the layout's rows was written, {what}");
                }
    }

    [Fact]
    public void Row_blocked_output_is_refused_where_the_epilogue_reads_the_output_as_nchw()
    {
        var x = new float[8 * 10 * 10];
        var weight = new float[8 * 8 * 9];
        var y = new float[4 * 10 * 10 * 2];
        var layout = OutputLayout.RowBlocked(10, 10);
        var e = Assert.Throws<ArgumentException>(() => FastConv.Conv2d(x, 8, 10, 10, weight, y, 8, 10, 10, 3, 1, 1, 1, default, default, new float[4000], residual: y, layout: layout));
        Assert.Contains("output layout", e.Message);
        e = Assert.Throws<ArgumentException>(() => FastConv.Conv2d(x, 8, 10, 10, weight.AsSpan(0, 64), y, 8, 10, 10, 1, 1, 1, 1, default, default, default, layout: layout));
        Assert.Contains("output layout", e.Message);
        e = Assert.Throws<ArgumentException>(() => FastConv.Conv2d(x, 8, 10, 10, weight, y.AsSpan(0, 300), 8, 10, 10, 3, 1, 1, 1, default, default, new float[4000], layout: layout));
        Assert.Contains("needs", e.Message);
        e = Assert.Throws<ArgumentException>(() => FastConv.Conv2d(x, 8, 10, 10, weight, y, 8, 10, 10, 3, 1, 1, 1, default, default, new float[4000], layout: new OutputLayout(10, 20, 400)));
        Assert.Contains("overlaps itself", e.Message);
    }

    /// <summary>
    /// The transposed convolution whose input lies inside its own output (rows blocked, from whole output planes
    /// on) gives, bit for bit, what it gives on a separate input: input channels a multiple of four or not,
    /// widths with a scalar tail, as many input blocks as output planes, both widths, 1 and 2 threads.
    /// </summary>
    [Theory]
    [InlineData(20, 20, 8, 16)]
    [InlineData(18, 5, 6, 37)]
    [InlineData(3, 1, 5, 9)]
    [InlineData(8, 7, 12, 64)]
    public void Transposed_2x2_with_its_input_inside_its_output_matches(int cin, int cout, int h, int w)
    {
        int seed = cin * 131 + cout * 17 + w;
        var rng = new Random(seed);
        var x = Random(rng, cin * h * w);
        var weight = Random(rng, cin * cout * 4);
        int outPlane = 4 * h * w, inputAt = (cout - (cin + 3) / 4) * outPlane;
        var layout = OutputLayout.RowBlocked(h, w);
        foreach (bool wide in new[] { false, true })
            foreach (int threads in new[] { 1, 2 })
                using (KernelSettings.Width(wide))
                using (KernelSettings.Threads(threads))
                {
                    var expected = new float[cout * outPlane];
                    FastElementwise.ConvTranspose2x2(x, cin, h, w, weight, expected, cout);
                    var y = new float[cout * outPlane];
                    Array.Fill(y, float.NaN);
                    for (int c = 0; c < cin; c++)
                        for (int i = 0; i < h; i++)
                            x.AsSpan((c * h + i) * w, w).CopyTo(y.AsSpan(inputAt + (int)layout.Offset(c, i)));
                    FastElementwise.ConvTranspose2x2InOutput(y, inputAt, cin, h, w, weight, cout);
                    for (int i = 0; i < y.Length; i++)
                        Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(y[i]),
                            $"float {i}: {y[i]} vs {expected[i]}, {cin}->{cout} {h}x{w} {(wide ? 512 : 256)}-bit {threads} threads (seed {seed})");
                }
        var e = Assert.Throws<ArgumentException>(() => FastElementwise.ConvTranspose2x2InOutput(new float[cout * outPlane], inputAt + 1, cin, h, w, weight, cout));
        Assert.Contains("whole output planes", e.Message);
    }

    private static float[] Random(Random rng, int n)
    {
        var v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float)(2 * rng.NextDouble() - 1);
        return v;
    }
}
