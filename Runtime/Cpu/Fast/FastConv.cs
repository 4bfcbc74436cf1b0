using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Espnet.Compiled.Cpu.Fast;

/// <summary>
/// Fast float32 convolutions over one CHW sample with a fused per-channel epilogue: y = prelu(conv(x) + bias).
/// Dispatch (<see cref="ConvPlan"/>): 1x1 stride-1 convolutions as a register-blocked matrix product
/// (<c>Pointwise_4x2V</c>), depth-wise ones per channel (<c>Depthwise_4V</c>), the rest directly
/// (<c>Dense3x3_4x2V</c> unrolled for 3x3, <c>Dense_4x2V</c> for other kernels) over a zero-padded copy of
/// the input, so no inner loop checks bounds. "4x2V": 4 output channels by 2 vectors of output columns held
/// in registers; V is 8 floats (AVX2) or 16 (AVX-512, see <see cref="Simd"/>). Work is split over
/// <see cref="Workers"/> by pixel tile or output row; each output is computed by one thread in a fixed order,
/// so results do not depend on the thread count. The plain kernels in <see cref="Conv"/> are their oracle.
/// </summary>
public static unsafe partial class FastConv
{
    private const int OcBlock = 4, PixelTile = 128;

    /// <summary>Products summed in registers before they are added to the output (see <see cref="Accumulate{TV}"/>).</summary>
    private const int SumRun = 32;

    /// <summary>
    /// Convolution with PyTorch semantics (padding (k-1)/2*dilation, contiguous groups, weights [cout, cin/g, k, k]),
    /// then + <paramref name="residual"/> (a tensor shaped like the output), + <paramref name="bias"/>, and PReLU with
    /// <paramref name="slope"/> (each may be empty: none). <paramref name="scratch"/> holds at least <see cref="ScratchFloats"/> floats.
    /// <paramref name="norm"/> / <paramref name="residualNorm"/>: a BatchNorm + PReLU applied to the output / to the
    /// residual once added (<see cref="OutputNorm"/>), each work item's outputs as soon as they are final (1x1: a
    /// pass after). <paramref name="layout"/>: where each output row goes (default: plain NCHW; see <see cref="OutputLayout"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Conv2d(ReadOnlySpan<float> x, int cin, int h, int w, ReadOnlySpan<float> weight,
        Span<float> y, int cout, int ho, int wo, int kernel, int stride, int dilation, int groups,
        ReadOnlySpan<float> bias, ReadOnlySpan<float> slope, Span<float> scratch, ReadOnlySpan<float> residual = default, int inputHalo = 0,
        in InputTransform input = default, in OutputNorm norm = default, in OutputNorm residualNorm = default, OutputLayout layout = default,
        ReadOnlySpan<float> winogradWeights = default)
    {
        int cinG = cin / groups, coutG = cout / groups;
        if (stride is not (1 or 2) || groups < 1 || cin % groups != 0 || cout % groups != 0)
            throw new ArgumentException($"FastConv: stride {stride}, groups {groups} for {cin} -> {cout} channels is not supported.");
        int pad = (kernel - 1) / 2 * dilation;
        if (inputHalo > 0 && inputHalo < pad) throw new ArgumentException($"FastConv: an input padded by {inputHalo} is too little for padding {pad}.");
        long inputFloats = inputHalo > 0 ? ConvPlan.PaddedFloats(cin, h, w, inputHalo) : (long)cin * h * w;
        Check(x.Length >= inputFloats, "input", x.Length, inputFloats);
        if (layout.Active)
        {
            // A row layout of the output for the plain dense kernels only: their stores go through OutRow, while the
            // residual and BatchNorm epilogues and the 1x1 and depth-wise kernels address the output as NCHW.
            if (ConvPlan.Choose(cin, cout, kernel, stride, groups) != ConvPlan.Method.Dense || groups != 1 || !residual.IsEmpty || norm.Active || residualNorm.Active)
                throw new ArgumentException("FastConv: an output layout needs a dense spatial convolution (one group) without a residual or output BatchNorm.");
            layout.Check(cout, ho, wo, y.Length);
        }
        else Check(y.Length >= (long)cout * ho * wo, "output", y.Length, (long)cout * ho * wo);
        Check(weight.Length >= (long)cout * cinG * kernel * kernel, "weight", weight.Length, (long)cout * cinG * kernel * kernel);
        Check(winogradWeights.IsEmpty || winogradWeights.Length >= WinogradWeightFloats(cin, cout), "Winograd weights", winogradWeights.Length, WinogradWeightFloats(cin, cout));
        Check(bias.IsEmpty || bias.Length >= cout, "bias", bias.Length, cout);
        Check(slope.IsEmpty || slope.Length >= cout, "slope", slope.Length, cout);
        Check(residual.IsEmpty || residual.Length >= (long)cout * ho * wo, "residual", residual.Length, (long)cout * ho * wo);
        long padded = inputHalo > 0 ? 0 : ScratchFloats(cin, h, w, kernel, stride, dilation, groups);
        Check(scratch.Length >= padded, "scratch", scratch.Length, padded);
        if (input.Active)
        {
            if (inputHalo > 0 || kernel == 1 || stride != 1 || input.ShuffleGroups < 1 || cin % input.ShuffleGroups != 0)
                throw new ArgumentException("FastConv: an input transform needs a stride-1 spatial convolution that pads its own input.");
            Check(input.Mean.Length >= cin && input.Scale.Length >= cin && input.Beta.Length >= cin, "input transform", input.Mean.Length, cin);
            Check(input.Slope.IsEmpty || input.Slope.Length >= cin, "input slope", input.Slope.Length, cin);
        }
        Check(ho == (h + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1 && wo == (w + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1,
            "output size", (long)ho * wo, -1);

        if (norm.Active && (!bias.IsEmpty || !slope.IsEmpty))
            throw new ArgumentException("FastConv: an output BatchNorm replaces the bias and PReLU epilogue; give one or the other.");
        norm.Check(cout, (long)cout * ho * wo, "output");
        residualNorm.Check(cout, (long)cout * ho * wo, "residual");
        if (residualNorm.Active && (residual.IsEmpty || !residualNorm.Target.Overlaps(residual, out int shift) || shift != 0 || residualNorm.Target.Length < residual.Length))
            throw new ArgumentException("FastConv: a residual BatchNorm normalises the residual in place: its target must be the residual span itself.");
        fixed (float* px = x, pw = weight, py = y, pb = bias, ps = slope, pscratch = scratch, pr = residual, pu = winogradWeights,
               pim = input.Mean, pis = input.Scale, pib = input.Beta, pia = input.Slope,
               pnm = norm.Mean, pns = norm.Scale, pnb = norm.Beta, pna = norm.Slope, pne = norm.Residual,
               prm = residualNorm.Mean, prs = residualNorm.Scale, prb = residualNorm.Beta, pra = residualNorm.Slope, pre = residualNorm.Residual)
        {
            var a = new Args
            {
                X = px, W = pw, Y = py, Bias = bias.IsEmpty ? null : pb, Slope = slope.IsEmpty ? null : ps, Residual = residual.IsEmpty ? null : pr,
                Cin = cin, H = h, Wd = w, Cout = cout, Ho = ho, Wo = wo, Kernel = kernel, Stride = stride, Dilation = dilation,
                Groups = groups, CinG = cinG, CoutG = coutG,
                InMean = input.Active ? pim : null, InScale = pis, InBeta = pib, InSlope = input.Slope.IsEmpty ? null : pia,
                InGroups = input.Active ? input.ShuffleGroups : 1,
                Norm = norm.Active ? new NormPointers(pnm, pns, pnb, norm.Slope.IsEmpty ? null : pna, norm.Residual.IsEmpty ? null : pne) : default,
                ResidualNorm = residualNorm.Active ? new NormPointers(prm, prs, prb, residualNorm.Slope.IsEmpty ? null : pra, residualNorm.Residual.IsEmpty ? null : pre) : default,
                YChannel = layout.Active ? layout.ChannelStride : (nint)ho * wo,
                YRow = layout.Active ? layout.RowStride : wo,
                YBlock = layout.Active ? layout.BlockStride : 4 * (nint)ho * wo,
                U = winogradWeights.IsEmpty ? null : pu,
            };
            bool wide = Simd.Use512;
            switch (ConvPlan.Choose(cin, cout, kernel, stride, groups))
            {
                case ConvPlan.Method.Pointwise when ho * wo == 1:
                    Workers.For(&a, &FullyConnected_Dot4V, (cout + 15) / 16, (long)cout * cinG);
                    // The 1x1 kernels' items are pixel tiles or output runs: their BatchNorms run as a pass after.
                    if (norm.Active || residualNorm.Active) Workers.For(&a, &NormalizeChannel, cout, (long)cout * ho * wo);
                    break;
                case ConvPlan.Method.Pointwise:
                    a.Tiles = (ho * wo + PixelTile - 1) / PixelTile;
                    Workers.For(&a, wide ? &Pointwise_4x2V<V512> : &Pointwise_4x2V<V256>, groups * a.Tiles, (long)cout * cinG * ho * wo);
                    if (norm.Active || residualNorm.Active) Workers.For(&a, &NormalizeChannel, cout, (long)cout * ho * wo);
                    break;
                default:
                {
                    bool depthwise = ConvPlan.Choose(cin, cout, kernel, stride, groups) == ConvPlan.Method.Depthwise;
                    bool winograd = WinogradApplies(cin, cout, ho, wo, kernel, stride, dilation, groups, wide ? V512.Count : V256.Count);
                    if (inputHalo == 0 && ConvPlan.PadsPerItem(cin, h, w, kernel, stride, dilation))
                    {
                        SelfPadded(ref a, depthwise ? Kind.Depthwise : winograd ? Kind.Winograd : Kind.Dense);
                        break;
                    }
                    // The whole input padded once (small: it stays in cache), or the caller's padded copy.
                    Prepare(ref a, pscratch, inputHalo);
                    if (winograd)
                    {
                        Winograd3x3(ref a);
                        break;
                    }
                    if (depthwise) a.Tiles = Math.Max(1, 512 / wo); // output rows per work item
                    long work = (long)cout * cinG * kernel * kernel * ho * wo;
                    if (depthwise) Workers.For(&a, wide ? &Depthwise_4V<V512> : &Depthwise_4V<V256>, cout * ((ho + a.Tiles - 1) / a.Tiles), work);
                    else if (kernel == 3) Workers.For(&a, wide ? &Dense3x3_4x2V<V512> : &Dense3x3_4x2V<V256>, groups * ho, work);
                    else Workers.For(&a, wide ? &Dense_4x2V<V512> : &Dense_4x2V<V256>, groups * ho, work);
                    break;
                }
            }
        }
    }

    /// <summary>The padded input the spatial kernels read: the caller's (already padded), or a copy made now in scratch.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Prepare(ref Args a, float* scratch, int inputHalo)
    {
        if (inputHalo > 0)
        {
            Layout(ref a, a.X, inputHalo);
            return;
        }
        Layout(ref a, scratch, (a.Kernel - 1) / 2 * a.Dilation);
        fixed (Args* p = &a) Workers.For(p, &PadItem, a.Cin, (long)a.Cin * a.PlaneLength);
    }

    /// <summary>
    /// Large convolutions (<see cref="ConvPlan.PadsPerItem"/>): each work item is one group and a chunk of output
    /// rows; it pads just the rows its group's channels need into this thread's buffer and runs the same row
    /// kernels over them, so the arithmetic (and the result) is that of the whole padded input, and no thread
    /// waits for another's padding.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SelfPadded(ref Args a, Kind kind)
    {
        Layout(ref a, null, (a.Kernel - 1) / 2 * a.Dilation);
        long rowFloats = (long)a.CinG * a.RowLength;
        int reach = a.Dilation * (a.Kernel - 1) + 1;
        // Output rows per item: as many as keep its padded rows near ItemFloats (a group's) or BandFloats (all the
        // input channels: the halo rows copied twice stay a small share), at least one (Winograd: one period of
        // 2d rows, so no tile straddles two items), halved while that leaves fewer than 16 items to share out.
        long target = a.Groups > 1 ? ConvPlan.ItemFloats : ConvPlan.BandFloats;
        long fit = (target / Math.Max(1, rowFloats) - reach) / a.Stride + 1;
        int step = kind == Kind.Winograd ? 2 * a.Dilation : 1;
        int rows = (int)Math.Clamp(fit - fit % step, step, a.Ho);
        while (rows > step && (long)a.Groups * ((a.Ho + rows - 1) / rows) < 16) rows = Math.Max(step, rows / 2 / step * step);
        a.Tiles = rows;
        int chunks = (a.Ho + rows - 1) / rows;
        a.PlaneRows = (rows - 1) * a.Stride + reach;
        a.PlaneLength = a.PlaneRows * a.RowLength;
        int items = a.Groups * chunks;
        long work = (long)a.Cout * a.CinG * a.Kernel * a.Kernel * a.Ho * a.Wo;
        bool wide = Simd.Use512;
        if (kind == Kind.Winograd)
        {
            Winograd3x3(ref a, items);
            return;
        }
        fixed (Args* p = &a)
        {
            if (kind == Kind.Depthwise) Workers.For(p, wide ? &SelfPaddedItem<V512, Depthwise> : &SelfPaddedItem<V256, Depthwise>, items, work);
            else Workers.For(p, wide ? &SelfPaddedItem<V512, Dense> : &SelfPaddedItem<V256, Dense>, items, work);
        }
    }

    private enum Kind { Depthwise, Dense, Winograd }

    private struct Depthwise;
    private struct Dense;
    private struct WinogradTiles;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SelfPaddedItem<TV, TKind>(void* state, int item) where TV : struct, IVec<TV>
    {
        Args a = *(Args*)state;
        int chunks = (a.Ho + a.Tiles - 1) / a.Tiles, g = item / chunks;
        int start = item % chunks * a.Tiles, rows = Math.Min(a.Tiles, a.Ho - start);
        a.RowStart = start;
        a.RowCount = rows;
        a.RowOrigin = start * a.Stride;
        // The buffer holds this group's channels only; the kernels index channel c at Padded + c * PlaneLength.
        float* buffer = ThreadBuffer.Get((long)a.CinG * a.PlaneLength + Math.Max(a.RowLength, 64));
        a.Padded = buffer - (nint)g * a.CinG * a.PlaneLength;
        int first = g * a.CinG;
        for (int c = first; c < first + a.CinG; c++) PadItem(&a, c);
        if (typeof(TKind) == typeof(Depthwise))
            Depthwise_4V<TV>(&a, g);
        else if (typeof(TKind) == typeof(WinogradTiles))
            for (int pair = 0; pair < rows / 2; pair++) WinogradRows<TV>(&a, pair);
        else if (a.Kernel == 3)
            for (int r = 0; r < rows; r++) Dense3x3_4x2V<TV>(&a, g * rows + r);
        else
            for (int r = 0; r < rows; r++) Dense_4x2V<TV>(&a, g * rows + r);
    }

    /// <summary>Floats <see cref="Pad"/> writes for a halo (what a padded input holds).</summary>
    public static long PaddedFloats(int c, int h, int w, int halo) => ConvPlan.PaddedFloats(c, h, w, halo);

    /// <summary>Floats of scratch <see cref="Conv2d"/> needs for this convolution (0 for 1x1 stride 1).</summary>
    public static long ScratchFloats(int cin, int h, int w, int kernel, int stride, int dilation, int groups) =>
        ConvPlan.PaddedFloats(cin, h, w, kernel, stride, dilation, groups);

    private static void Check(bool ok, string what, long have, long need)
    {
        if (!ok) throw new ArgumentException(need < 0
            ? $"FastConv: the {what} does not follow from the input size, kernel, stride and dilation."
            : $"FastConv: the {what} span holds {have} floats but the convolution needs {need}.");
    }

    private struct Args
    {
        public float* X, W, Y, Bias, Slope, Residual, Padded;
        /// <summary>Winograd: the transformed weights, [16 positions][cin][cout].</summary>
        public float* U;
        /// <summary>The input transform applied while padding (<see cref="InputTransform"/>); InMean null: none.</summary>
        public float* InMean, InScale, InBeta, InSlope;
        public int InGroups;
        public int Cin, H, Wd, Cout, Ho, Wo, Kernel, Stride, Dilation, Groups, CinG, CoutG, Tiles;
        public int Pad, RowLength, PlaneLength, EvenLength, Shift;
        // Row bands: the padded copy holds padded rows [RowOrigin, RowOrigin + PlaneRows); the kernels compute
        // output rows [RowStart, RowStart + RowCount).
        public int RowOrigin, PlaneRows, RowStart, RowCount;
        // DepthwiseBranches: the branches' weights, their dilations, HFF (the BatchNorm + PReLU after them: Norm).
        public float* BranchW;
        public int* Dilations;
        public int Branches, BranchStride;
        public bool Hff;
        /// <summary>The BatchNorm + PReLU applied to the output at the last step (<see cref="OutputNorm"/>), and to the residual once it is added.</summary>
        public NormPointers Norm, ResidualNorm;
        /// <summary>Where output channel o's row r starts (<see cref="OutRow"/>; <see cref="OutputLayout"/>): plain NCHW unless the caller asks.</summary>
        public nint YChannel, YRow, YBlock;
    }

    /// <summary>Output channel <paramref name="o"/>'s row <paramref name="oy"/>: Y + (o / 4) * YBlock + (o % 4) * YChannel + oy * YRow.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float* OutRow(in Args a, int o, int oy) => a.Y + (o >> 2) * a.YBlock + (o & 3) * a.YChannel + oy * a.YRow;

    /// <summary>An <see cref="OutputNorm"/>'s spans as pointers (Mean null: none).</summary>
    private readonly struct NormPointers(float* mean, float* scale, float* beta, float* slope, float* residual)
    {
        public readonly float* Mean = mean, Scale = scale, Beta = beta, Slope = slope, Residual = residual;

        /// <summary>
        /// p[0..n) of channel oc, at offset <paramref name="at"/> in its tensor, in place:
        /// prelu(fma((v + residual) - mean, scale, beta)), exactly as <c>FastElementwise.ScaleShift</c> computes it.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Apply(float* p, nint at, int n, int oc)
        {
            float m = Mean[oc], s = Scale[oc], t = Beta[oc];
            bool act = Slope != null;
            float slope = act ? Slope[oc] : 0;
            float* r = Residual == null ? null : Residual + at;
            int i = 0;
            if (Simd.Use512)
            {
                // The same operations sixteen lanes at a time (the rows just written are in cache: instructions bound this).
                Vector512<float> wm = Vector512.Create(m), ws = Vector512.Create(s), wt = Vector512.Create(t), wa = Vector512.Create(slope);
                for (; i + 16 <= n; i += 16)
                {
                    var d = (r == null ? Vector512.Load(p + i) : Vector512.Load(p + i) + Vector512.Load(r + i)) - wm;
                    var v = Vector512.FusedMultiplyAdd(d, ws, wt);
                    if (act) v = Vector512.ConditionalSelect(Vector512.LessThan(v, Vector512<float>.Zero), v * wa, v);
                    v.Store(p + i);
                }
            }
            Vector256<float> vm = Vector256.Create(m), vs = Vector256.Create(s), vt = Vector256.Create(t), va = Vector256.Create(slope);
            for (; i + 8 <= n; i += 8)
            {
                var d = (r == null ? Vector256.Load(p + i) : Vector256.Load(p + i) + Vector256.Load(r + i)) - vm;
                var v = System.Runtime.Intrinsics.X86.Fma.IsSupported ? System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(d, vs, vt) : d * vs + vt;
                if (act) v = Vector256.ConditionalSelect(Vector256.LessThan(v, Vector256<float>.Zero), v * va, v);
                v.Store(p + i);
            }
            for (; i < n; i++)
            {
                float v = MathF.FusedMultiplyAdd((r == null ? p[i] : p[i] + r[i]) - m, s, t);
                p[i] = act && v < 0 ? v * slope : v;
            }
        }
    }

    /// <summary>
    /// After a work item: its outputs [from, from + count) of each plane of channels [oc0, oc1) through the output's
    /// BatchNorm, and the residual's same elements through the residual's (they were added: final now). In cache.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void NormalizeItem(in Args a, int oc0, int oc1, nint from, int count)
    {
        if (a.Norm.Mean == null && a.ResidualNorm.Mean == null) return;
        nint plane = (nint)a.Ho * a.Wo;
        for (int oc = oc0; oc < oc1; oc++)
        {
            nint at = oc * plane + from;
            if (a.ResidualNorm.Mean != null) a.ResidualNorm.Apply(a.Residual + at, at, count, oc);
            if (a.Norm.Mean != null) a.Norm.Apply(a.Y + at, at, count, oc);
        }
    }

    private static void NormalizeChannel(void* state, int oc)
    {
        ref Args a = ref *(Args*)state;
        NormalizeItem(a, oc, oc + 1, 0, a.Ho * a.Wo);
    }

    // ---- zero-padded input (each padded row split into its even then odd columns for stride 2) ----

    /// <summary>
    /// Copies x (c x h x w) into <paramref name="padded"/> with a zero halo of <paramref name="halo"/> on every
    /// side, in the layout the spatial kernels read: rows of w + 2*halo floats, each split into its even then its
    /// odd columns when <paramref name="stride"/> is 2. A convolution whose padding is at most the halo can then
    /// read it with <c>inputHalo</c> (several dilated branches share one copy).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Pad(ReadOnlySpan<float> x, int c, int h, int w, int halo, int stride, Span<float> padded)
    {
        if (stride is not (1 or 2) || halo < 0) throw new ArgumentException($"FastConv.Pad: stride {stride}, halo {halo} is not supported.");
        Check(x.Length >= (long)c * h * w, "input", x.Length, (long)c * h * w);
        Check(padded.Length >= ConvPlan.PaddedFloats(c, h, w, halo), "padded", padded.Length, ConvPlan.PaddedFloats(c, h, w, halo));
        fixed (float* px = x, pp = padded)
        {
            var a = new Args { X = px, Cin = c, H = h, Wd = w, Stride = stride };
            Layout(ref a, pp, halo);
            // In bands of rows over the threads (items in row order: each thread pads the rows its convolutions then
            // read), counted as the work of the convolutions that read it: at least nine multiply-adds per float.
            Workers.For(&a, &PadBand, (a.PlaneRows + PadBandRows - 1) / PadBandRows, 9L * c * a.PlaneLength);
        }
    }

    private static void Layout(ref Args a, float* padded, int halo)
    {
        a.Pad = halo;
        a.RowLength = a.Wd + 2 * halo;
        a.PlaneRows = a.H + 2 * halo;
        a.PlaneLength = a.PlaneRows * a.RowLength;
        a.EvenLength = (a.RowLength + 1) / 2;
        a.Padded = padded;
        a.RowOrigin = 0;
        a.RowStart = 0;
        a.RowCount = a.Ho;
        // The kernels index taps from the top-left of the convolution's own padding, inside the halo.
        a.Shift = halo - (a.Kernel - 1) / 2 * a.Dilation;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PadItem(void* state, int c) => PadRows(*(Args*)state, c, 0, ((Args*)state)->PlaneRows);

    /// <summary>Rows per item of <see cref="PadBand"/>.</summary>
    private const int PadBandRows = 8;

    /// <summary>
    /// Pads every channel's padded rows [band * PadBandRows, ...) (<see cref="PadRows"/>): items in row order, so the
    /// thread that pads a part of the map is the one whose kernels read it next (<see cref="Workers"/>' ranges).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PadBand(void* state, int band)
    {
        ref Args a = ref *(Args*)state;
        int q0 = band * PadBandRows, q1 = Math.Min(a.PlaneRows, q0 + PadBandRows);
        for (int c = 0; c < a.Cin; c++) PadRows(a, c, q0, q1);
    }

    /// <summary>Padded rows [q0, q1) of padded channel c: its halo zeros and its input rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PadRows(in Args a, int c, int q0, int q1)
    {
        float* dst = a.Padded + (nint)c * a.PlaneLength;
        // Padded channel c holds input channel s: itself, or (a shuffle of G groups undone) channel (c mod G) * C/G + c / G.
        int s = a.InGroups <= 1 ? c : c % a.InGroups * (a.Cin / a.InGroups) + c / a.InGroups;
        float* src = a.X + (nint)s * a.H * a.Wd;
        int pad = a.Pad, row = a.RowLength, w = a.Wd;
        if (a.Stride == 1 && a.InMean == null && w <= 64)
        {
            // Narrow rows (7 to 64 columns): the whole plane cleared at once, then each row copied by vectors,
            // rather than three short library calls per row.
            new Span<float>(dst + (nint)q0 * row, (q1 - q0) * row).Clear();
            int r0 = Math.Max(q0, pad - a.RowOrigin), r1 = Math.Min(q1, a.H + pad - a.RowOrigin);
            for (int q = r0; q < r1; q++)
            {
                float* from = src + (nint)(q + a.RowOrigin - pad) * w, to = dst + (nint)q * row + pad;
                int i = 0;
                for (; i + 8 <= w; i += 8) Vector256.Store(Vector256.Load(from + i), to + i);
                for (; i < w; i++) to[i] = from[i];
            }
            return;
        }
        for (int q = q0; q < q1; q++)
        {
            float* d = dst + (nint)q * row;
            int r = q + a.RowOrigin - pad;                 // the input row this padded row holds
            if ((uint)r >= (uint)a.H)
            {
                new Span<float>(d, row).Clear();
                continue;
            }
            if (a.Stride == 1)
            {
                new Span<float>(d, pad).Clear();
                if (a.InMean != null) TransformRow(a, s, src + (nint)r * w, d + pad, w);
                else Buffer.MemoryCopy(src + (nint)r * w, d + pad, (long)w * 4, (long)w * 4);
                new Span<float>(d + pad + w, pad).Clear();
                continue;
            }
            // Padded column q = i + pad holds s[i]; it goes to q/2 (even q) or EvenLength + q/2 (odd q). So the
            // source's even elements land in one half and its odd ones in the other, each contiguous; only the
            // floats around those two runs (the padding) are cleared.
            float* toEvenI, toOddI;
            if ((pad & 1) == 0) { toEvenI = d + pad / 2; toOddI = d + a.EvenLength + pad / 2; }
            else { toEvenI = d + a.EvenLength + (pad - 1) / 2; toOddI = d + (pad + 1) / 2; }
            float* first = toEvenI < toOddI ? toEvenI : toOddI, second = toEvenI < toOddI ? toOddI : toEvenI;
            int firstCount = toEvenI < toOddI ? (w + 1) / 2 : w / 2, secondCount = w - firstCount;
            new Span<float>(d, (int)(first - d)).Clear();
            new Span<float>(first + firstCount, (int)(second - first - firstCount)).Clear();
            new Span<float>(second + secondCount, (int)(d + row - second - secondCount)).Clear();
            Deinterleave(src + (nint)r * w, w, toEvenI, toOddI);
        }
    }

    /// <summary>
    /// One row of input channel <paramref name="c"/> through its BatchNorm and PReLU, as <c>FastElementwise.ScaleShift</c>
    /// computes them: v = fma(x - mean, scale, beta), then v &lt; 0 ? v * slope : v.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TransformRow(in Args a, int c, float* x, float* y, int n)
    {
        float m = a.InMean[c], s = a.InScale[c], t = a.InBeta[c];
        bool act = a.InSlope != null;
        float slope = act ? a.InSlope[c] : 0;
        Vector256<float> vm = Vector256.Create(m), vs = Vector256.Create(s), vt = Vector256.Create(t), va = Vector256.Create(slope);
        int i = 0;
        for (; i + 8 <= n; i += 8)
        {
            var v = System.Runtime.Intrinsics.X86.Fma.IsSupported
                ? System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(Vector256.Load(x + i) - vm, vs, vt)
                : (Vector256.Load(x + i) - vm) * vs + vt;
            if (act) v = Vector256.ConditionalSelect(Vector256.LessThan(v, Vector256<float>.Zero), v * va, v);
            v.Store(y + i);
        }
        for (; i < n; i++)
        {
            float v = MathF.FusedMultiplyAdd(x[i] - m, s, t);
            y[i] = act && v < 0 ? v * slope : v;
        }
    }

    /// <summary>even[k] = s[2k], odd[k] = s[2k+1] over the n floats of s.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Deinterleave(float* s, int n, float* even, float* odd)
    {
        int i = 0;
        if (Simd.Use512 && System.Runtime.Intrinsics.X86.Avx512F.IsSupported)
        {
            // One two-source permute per 16 outputs (vpermt2ps): lanes 0, 2, ... 30 and 1, 3, ... 31 of (lo, hi).
            var toEven = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
            var toOdd = toEven + Vector512<int>.One;
            for (; i + 32 <= n; i += 32)
            {
                var lo = Vector512.Load(s + i);
                var hi = Vector512.Load(s + i + 16);
                System.Runtime.Intrinsics.X86.Avx512F.PermuteVar16x32x2(lo, toEven, hi).Store(even + i / 2);
                System.Runtime.Intrinsics.X86.Avx512F.PermuteVar16x32x2(lo, toOdd, hi).Store(odd + i / 2);
            }
        }
        if (System.Runtime.Intrinsics.X86.Avx2.IsSupported)
        {
            for (; i + 16 <= n; i += 16)
            {
                var lo = System.Runtime.Intrinsics.Vector256.Load(s + i);
                var hi = System.Runtime.Intrinsics.Vector256.Load(s + i + 8);
                // [l0 l2 h0 h2 | l4 l6 h4 h6] then 64-bit lanes reordered 0,2,1,3: l0 l2 l4 l6 h0 h2 h4 h6.
                var e = System.Runtime.Intrinsics.X86.Avx.Shuffle(lo, hi, 0b10_00_10_00);
                var o = System.Runtime.Intrinsics.X86.Avx.Shuffle(lo, hi, 0b11_01_11_01);
                System.Runtime.Intrinsics.X86.Avx2.Permute4x64(e.AsDouble(), 0b11_01_10_00).AsSingle().Store(even + i / 2);
                System.Runtime.Intrinsics.X86.Avx2.Permute4x64(o.AsDouble(), 0b11_01_10_00).AsSingle().Store(odd + i / 2);
            }
        }
        for (; i + 1 < n; i += 2)
        {
            even[i >> 1] = s[i];
            odd[i >> 1] = s[i + 1];
        }
        if (i < n) even[i >> 1] = s[i];
    }

    /// <summary>Offset of tap column kx within a padded row, for output column 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int ColumnOffset(in Args a, int kx)
    {
        int q = kx * a.Dilation + a.Shift;
        return a.Stride == 1 ? q : (q >> 1) + (q & 1) * a.EvenLength;
    }

    // ---- epilogue and two-level summation ----

    /// <summary>
    /// Two-level summation: a run of about <see cref="SumRun"/> products is summed in registers, then added to
    /// what earlier runs left in the output; the last run applies the epilogue. Long sums (a thousand products
    /// in ESPNet's strided blocks) then lose little more than a blocked BLAS does, which matters because the
    /// authors' BatchNorms multiply the error of the sums before them by up to ~100.
    /// </summary>
    /// <remarks>The epilogue: + the residual (same layout as the output, when given), + bias, PReLU.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Accumulate<TV>(in Args a, TV acc, float* to, bool first, bool last, int oc) where TV : struct, IVec<TV>
    {
        if (!first) acc = TV.Add(acc, TV.Load(to));
        if (last)
        {
            if (a.Residual != null) acc = TV.Add(acc, TV.Load(a.Residual + (to - a.Y)));
            acc = TV.Epilogue(acc, Bias(a, oc), Slope(a, oc), a.Slope != null);
        }
        acc.Store(to);
    }

    /// <summary>A 4-channel x 2-vector block of accumulators into the output (channels <paramref name="plane"/> apart).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store4x2<TV>(in Args a, float* yp, nint plane, bool first, bool last, int o,
        TV c00, TV c01, TV c10, TV c11, TV c20, TV c21, TV c30, TV c31) where TV : struct, IVec<TV>
    {
        int L = TV.Count;
        Accumulate(a, c00, yp, first, last, o); Accumulate(a, c01, yp + L, first, last, o);
        Accumulate(a, c10, yp + plane, first, last, o + 1); Accumulate(a, c11, yp + plane + L, first, last, o + 1);
        Accumulate(a, c20, yp + 2 * plane, first, last, o + 2); Accumulate(a, c21, yp + 2 * plane + L, first, last, o + 2);
        Accumulate(a, c30, yp + 3 * plane, first, last, o + 3); Accumulate(a, c31, yp + 3 * plane + L, first, last, o + 3);
    }

    /// <summary>Four vectors of one output channel into consecutive columns.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store1x4<TV>(in Args a, float* yp, bool first, bool last, int o, TV c0, TV c1, TV c2, TV c3) where TV : struct, IVec<TV>
    {
        int L = TV.Count;
        Accumulate(a, c0, yp, first, last, o);
        Accumulate(a, c1, yp + L, first, last, o);
        Accumulate(a, c2, yp + 2 * L, first, last, o);
        Accumulate(a, c3, yp + 3 * L, first, last, o);
    }

    /// <summary>The epilogue for one output element summed in double.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Finish(in Args a, double acc, float* to, int oc)
    {
        float v = (float)acc;
        if (a.Residual != null) v += a.Residual[to - a.Y];
        v += Bias(a, oc);
        return a.Slope != null && v < 0 ? v * Slope(a, oc) : v;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Bias(in Args a, int oc) => a.Bias == null ? 0f : a.Bias[oc];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Slope(in Args a, int oc) => a.Slope == null ? 0f : a.Slope[oc];

    // ---- Pointwise_4x2V: Y[g] = W[g] X[g] over one pixel tile, every output channel ----

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Pointwise_4x2V<TV>(void* state, int item) where TV : struct, IVec<TV>
    {
        ref Args a = ref *(Args*)state;
        int tile = item % a.Tiles, g = item / a.Tiles, cinG = a.CinG, coutG = a.CoutG, L = TV.Count;
        int plane = a.Ho * a.Wo, p0 = tile * PixelTile, p1 = Math.Min(plane, p0 + PixelTile);
        float* x = a.X + (nint)g * cinG * plane;
        int blocks = coutG / OcBlock;
        // Input channels lie a plane apart: at power-of-two planes (64x128, 32x64 ...) they share L1 sets and
        // evict each other. Each run of input channels x 2 vectors of pixels is copied together first, then
        // every block of output channels reads it from there.
        // Other planes (784, 196, 49 ...) are read where they lie: the copy would cost as much as it saves when
        // few blocks of output channels share it.
        bool pack = plane % 256 == 0;
        float* packed = stackalloc float[SumRun * 2 * L];
        int p = p0;
        for (; p + 2 * L <= p1; p += 2 * L)
        {
            for (int cb = 0; cb < cinG; cb += SumRun)
            {
                int ce = Math.Min(cinG, cb + SumRun);
                bool first = cb == 0, last = ce == cinG;
                float* xp = x + (nint)cb * plane + p;
                float* src = xp;
                nint step = plane;
                if (pack)
                {
                    for (int ci = cb; ci < ce; ci++, xp += plane)
                    {
                        TV.Load(xp).Store(packed + (ci - cb) * 2 * L);
                        TV.Load(xp + L).Store(packed + (ci - cb) * 2 * L + L);
                    }
                    src = packed;
                    step = 2 * L;
                }
                for (int b = 0; b < blocks; b++)
                {
                    int o = g * coutG + b * OcBlock;
                    float* w0 = a.W + (nint)o * cinG + cb, w1 = w0 + cinG, w2 = w1 + cinG, w3 = w2 + cinG;
                    TV c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
                    float* pp = src;
                    for (int k = 0; k < ce - cb; k++, pp += step)
                    {
                        var x0 = TV.Load(pp);
                        var x1 = TV.Load(pp + L);
                        var v = TV.Splat(w0[k]); c00 = TV.FusedMultiplyAdd(x0, v, c00); c01 = TV.FusedMultiplyAdd(x1, v, c01);
                        v = TV.Splat(w1[k]); c10 = TV.FusedMultiplyAdd(x0, v, c10); c11 = TV.FusedMultiplyAdd(x1, v, c11);
                        v = TV.Splat(w2[k]); c20 = TV.FusedMultiplyAdd(x0, v, c20); c21 = TV.FusedMultiplyAdd(x1, v, c21);
                        v = TV.Splat(w3[k]); c30 = TV.FusedMultiplyAdd(x0, v, c30); c31 = TV.FusedMultiplyAdd(x1, v, c31);
                    }
                    Store4x2(a, a.Y + (nint)o * plane + p, plane, first, last, o, c00, c01, c10, c11, c20, c21, c30, c31);
                }
            }
        }
        if (p < p1 && blocks > 0)
        {
            // The tile's last columns (fewer than two vectors: small maps like 7x7 and 14x14 are mostly this):
            // every input channel's columns packed once, with zeros after them, into this thread's buffer; each
            // block of output channels is computed whole over them (one vector when the columns fit in one) and
            // only the valid lanes are stored.
            int r = p1 - p;
            bool two = r > L;
            float* tail = ThreadBuffer.Get((long)cinG * 2 * L);
            float* xp = x + p;
            for (int ci = 0; ci < cinG; ci++, xp += plane)
            {
                float* to = tail + (nint)ci * 2 * L;
                Buffer.MemoryCopy(xp, to, (long)r * 4, (long)r * 4);
                new Span<float>(to + r, 2 * L - r).Clear();
            }
            for (int b = 0; b < blocks; b++)
            {
                int o = g * coutG + b * OcBlock;
                TV t00 = default, t01 = default, t10 = default, t11 = default, t20 = default, t21 = default, t30 = default, t31 = default;
                for (int cb = 0; cb < cinG; cb += SumRun)
                {
                    int n = Math.Min(cinG, cb + SumRun) - cb;
                    float* w0 = a.W + (nint)o * cinG + cb, w1 = w0 + cinG, w2 = w1 + cinG, w3 = w2 + cinG;
                    TV c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
                    float* pp = tail + (nint)cb * 2 * L;
                    if (two)
                    {
                        for (int k = 0; k < n; k++, pp += 2 * L)
                        {
                            var x0 = TV.Load(pp);
                            var x1 = TV.Load(pp + L);
                            var v = TV.Splat(w0[k]); c00 = TV.FusedMultiplyAdd(x0, v, c00); c01 = TV.FusedMultiplyAdd(x1, v, c01);
                            v = TV.Splat(w1[k]); c10 = TV.FusedMultiplyAdd(x0, v, c10); c11 = TV.FusedMultiplyAdd(x1, v, c11);
                            v = TV.Splat(w2[k]); c20 = TV.FusedMultiplyAdd(x0, v, c20); c21 = TV.FusedMultiplyAdd(x1, v, c21);
                            v = TV.Splat(w3[k]); c30 = TV.FusedMultiplyAdd(x0, v, c30); c31 = TV.FusedMultiplyAdd(x1, v, c31);
                        }
                    }
                    else
                    {
                        for (int k = 0; k < n; k++, pp += 2 * L)
                        {
                            var x0 = TV.Load(pp);
                            c00 = TV.FusedMultiplyAdd(x0, TV.Splat(w0[k]), c00);
                            c10 = TV.FusedMultiplyAdd(x0, TV.Splat(w1[k]), c10);
                            c20 = TV.FusedMultiplyAdd(x0, TV.Splat(w2[k]), c20);
                            c30 = TV.FusedMultiplyAdd(x0, TV.Splat(w3[k]), c30);
                        }
                    }
                    t00 = TV.Add(t00, c00); t01 = TV.Add(t01, c01); t10 = TV.Add(t10, c10); t11 = TV.Add(t11, c11);
                    t20 = TV.Add(t20, c20); t21 = TV.Add(t21, c21); t30 = TV.Add(t30, c30); t31 = TV.Add(t31, c31);
                }
                float* y = a.Y + (nint)o * plane;
                StoreTail(a, t00, t01, y, p, p1, o);
                StoreTail(a, t10, t11, y + plane, p, p1, o + 1);
                StoreTail(a, t20, t21, y + 2 * plane, p, p1, o + 2);
                StoreTail(a, t30, t31, y + 3 * plane, p, p1, o + 3);
            }
        }
        for (int oc = blocks * OcBlock; oc < coutG; oc++) PointwiseRest<TV>(a, x, g * coutG + oc, p0, p1);
    }

    /// <summary>Columns [from, end) of one output row from two vectors of accumulators (fewer than 2L columns).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreTail<TV>(in Args a, TV first, TV second, float* y, int from, int end, int oc) where TV : struct, IVec<TV>
    {
        int L = TV.Count;
        StorePartial(a, first, y, from, Math.Min(end, from + L), oc);
        if (end > from + L) StorePartial(a, second, y, from + L, end, oc);
    }

    /// <summary>
    /// A 1x1 map (a fully-connected layer): each output is a dot product of a weight row with the input, in four
    /// 8-float partial sums (sixteen outputs per work item).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FullyConnected_Dot4V(void* state, int item)
    {
        ref Args a = ref *(Args*)state;
        int cinG = a.CinG, o1 = Math.Min(a.Cout, item * 16 + 16);
        for (int o = item * 16; o < o1; o++)
        {
            int g = o / a.CoutG;
            float* x = a.X + (nint)g * cinG;
            float* w = a.W + (nint)o * cinG;
            Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
            int i = 0;
            for (; i + 32 <= cinG; i += 32)
            {
                s0 += Vector256.Load(x + i) * Vector256.Load(w + i);
                s1 += Vector256.Load(x + i + 8) * Vector256.Load(w + i + 8);
                s2 += Vector256.Load(x + i + 16) * Vector256.Load(w + i + 16);
                s3 += Vector256.Load(x + i + 24) * Vector256.Load(w + i + 24);
            }
            double sum = Vector256.Sum((s0 + s1) + (s2 + s3));
            for (; i < cinG; i++) sum += (double)x[i] * w[i];
            a.Y[o] = Finish(a, sum, a.Y + o, o);
        }
    }

    /// <summary>One output channel over pixels [p, p1): one vector at a time, then one pixel at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PointwiseRest<TV>(in Args a, float* x, int o, int p, int p1) where TV : struct, IVec<TV>
    {
        int cinG = a.CinG, plane = a.Ho * a.Wo, L = TV.Count;
        float* w = a.W + (nint)o * cinG;
        float* y = a.Y + (nint)o * plane;
        // Output channels left over from the blocks of four: four vectors of pixels per weight instead.
        for (; p + 4 * L <= p1; p += 4 * L)
            for (int cb = 0; cb < cinG; cb += SumRun)
            {
                int ce = Math.Min(cinG, cb + SumRun);
                bool first = cb == 0, last = ce == cinG;
                TV c0 = default, c1 = default, c2 = default, c3 = default;
                float* xp = x + (nint)cb * plane + p;
                for (int ci = cb; ci < ce; ci++, xp += plane)
                {
                    var v = TV.Splat(w[ci]);
                    c0 = TV.FusedMultiplyAdd(TV.Load(xp), v, c0);
                    c1 = TV.FusedMultiplyAdd(TV.Load(xp + L), v, c1);
                    c2 = TV.FusedMultiplyAdd(TV.Load(xp + 2 * L), v, c2);
                    c3 = TV.FusedMultiplyAdd(TV.Load(xp + 3 * L), v, c3);
                }
                Store1x4(a, y + p, first, last, o, c0, c1, c2, c3);
            }
        for (; p + L <= p1; p += L)
            for (int cb = 0; cb < cinG; cb += SumRun)
            {
                int ce = Math.Min(cinG, cb + SumRun);
                TV c = default;
                float* xp = x + (nint)cb * plane + p;
                for (int ci = cb; ci < ce; ci++, xp += plane) c = TV.FusedMultiplyAdd(TV.Load(xp), TV.Splat(w[ci]), c);
                Accumulate(a, c, y + p, cb == 0, ce == cinG, o);
            }
        for (; p < p1; p++)
        {
            double acc = 0;
            for (int ci = 0; ci < cinG; ci++) acc += (double)x[(nint)ci * plane + p] * w[ci];
            y[p] = Finish(a, acc, y + p, o);
        }
    }

    // ---- Dense3x3_4x2V: one output row of every output channel of a group, 3x3 taps unrolled ----

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dense3x3_4x2V<TV>(void* state, int item) where TV : struct, IVec<TV>
    {
        ref Args a = ref *(Args*)state;
        int oy = a.RowStart + item % a.RowCount, g = item / a.RowCount, cinG = a.CinG, coutG = a.CoutG, wo = a.Wo, L = TV.Count;
        int wStride = cinG * 9, run = Math.Max(1, SumRun / 9);
        nint plane = a.YChannel, rowStep = (nint)a.Dilation * a.RowLength, planeLength = a.PlaneLength;
        nint c0 = ColumnOffset(a, 0), c1 = ColumnOffset(a, 1), c2 = ColumnOffset(a, 2);
        float* xg = a.Padded + (nint)g * cinG * planeLength + (nint)(oy * a.Stride + a.Shift - a.RowOrigin) * a.RowLength;
        // 512-bit registers are 32: four vectors of columns per block (16 accumulators), a third fewer loads per FMA.
        int oxStart = typeof(TV) == typeof(V512) ? Dense3x3_4x4V<TV>(a, xg, g, oy) : 0;
        int blocks = coutG / OcBlock * OcBlock, ox = oxStart;
        // Runs of input channels outside the blocks of output channels: a run's rows stay in L1 while every block
        // reads them (each output's sums still come run by run, in the same order).
        for (; ox + 2 * L <= wo; ox += 2 * L)
            for (int cb = 0; cb < cinG; cb += run)
                for (int oc = 0; oc < blocks; oc += OcBlock)
                {
                    int o = g * coutG + oc;
                    float* w = a.W + (nint)o * wStride;
                    float* yp = OutRow(a, o, oy) + ox;
                    int ce = Math.Min(cinG, cb + run);
                    bool first = cb == 0, last = ce == cinG;
                    TV c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
                    for (int ci = cb; ci < ce; ci++)
                    {
                        float* wc = w + ci * 9;
                        float* row = xg + ci * planeLength + ox;
                        for (int ky = 0; ky < 3; ky++, row += rowStep, wc += 3)
                        {
                            float* p = row + c0;
                            var x0 = TV.Load(p);
                            var x1 = TV.Load(p + L);
                            var v = TV.Splat(wc[0]); c00 = TV.FusedMultiplyAdd(x0, v, c00); c01 = TV.FusedMultiplyAdd(x1, v, c01);
                            v = TV.Splat(wc[wStride]); c10 = TV.FusedMultiplyAdd(x0, v, c10); c11 = TV.FusedMultiplyAdd(x1, v, c11);
                            v = TV.Splat(wc[2 * wStride]); c20 = TV.FusedMultiplyAdd(x0, v, c20); c21 = TV.FusedMultiplyAdd(x1, v, c21);
                            v = TV.Splat(wc[3 * wStride]); c30 = TV.FusedMultiplyAdd(x0, v, c30); c31 = TV.FusedMultiplyAdd(x1, v, c31);
                            p = row + c1;
                            x0 = TV.Load(p);
                            x1 = TV.Load(p + L);
                            v = TV.Splat(wc[1]); c00 = TV.FusedMultiplyAdd(x0, v, c00); c01 = TV.FusedMultiplyAdd(x1, v, c01);
                            v = TV.Splat(wc[wStride + 1]); c10 = TV.FusedMultiplyAdd(x0, v, c10); c11 = TV.FusedMultiplyAdd(x1, v, c11);
                            v = TV.Splat(wc[2 * wStride + 1]); c20 = TV.FusedMultiplyAdd(x0, v, c20); c21 = TV.FusedMultiplyAdd(x1, v, c21);
                            v = TV.Splat(wc[3 * wStride + 1]); c30 = TV.FusedMultiplyAdd(x0, v, c30); c31 = TV.FusedMultiplyAdd(x1, v, c31);
                            p = row + c2;
                            x0 = TV.Load(p);
                            x1 = TV.Load(p + L);
                            v = TV.Splat(wc[2]); c00 = TV.FusedMultiplyAdd(x0, v, c00); c01 = TV.FusedMultiplyAdd(x1, v, c01);
                            v = TV.Splat(wc[wStride + 2]); c10 = TV.FusedMultiplyAdd(x0, v, c10); c11 = TV.FusedMultiplyAdd(x1, v, c11);
                            v = TV.Splat(wc[2 * wStride + 2]); c20 = TV.FusedMultiplyAdd(x0, v, c20); c21 = TV.FusedMultiplyAdd(x1, v, c21);
                            v = TV.Splat(wc[3 * wStride + 2]); c30 = TV.FusedMultiplyAdd(x0, v, c30); c31 = TV.FusedMultiplyAdd(x1, v, c31);
                        }
                    }
                    Store4x2(a, yp, plane, first, last, o, c00, c01, c10, c11, c20, c21, c30, c31);
                }
        // The last columns, one vector (or its first lanes) of all four channels at a time: four chains in flight
        // rather than one channel's.
        for (int oc = 0; oc < blocks; oc += OcBlock)
        {
            int o = g * coutG + oc;
            float* w = a.W + (nint)o * wStride;
            float* y = OutRow(a, o, oy);
            for (int x = ox; x < wo; x += L)
                Dense3x3_4x1V<TV>(a, xg + x, w, y, plane, x, o, c0, c1, c2, rowStep, run);
        }
        for (int oc = blocks; oc < coutG; oc++) DenseRest<TV>(a, oy, g, g * coutG + oc, 0);
        NormalizeItem(a, g * coutG, (g + 1) * coutG, (nint)oy * wo, wo);
    }

    /// <summary>
    /// One vector of columns from <paramref name="ox"/> (its lanes before wo when fewer remain) of four output
    /// channels: the input channels in runs summed in registers, as <c>Accumulate</c> adds them up.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Dense3x3_4x1V<TV>(in Args a, float* x, float* w, float* y, nint plane, int ox, int o,
        nint k0, nint k1, nint k2, nint rowStep, int run) where TV : struct, IVec<TV>
    {
        int cinG = a.CinG;
        nint wStride = (nint)cinG * 9, planeLength = a.PlaneLength;
        TV t0 = default, t1 = default, t2 = default, t3 = default;
        for (int cb = 0; cb < cinG; cb += run)
        {
            int ce = Math.Min(cinG, cb + run);
            TV s0 = default, s1 = default, s2 = default, s3 = default;
            float* w0 = w + cb * 9;
            float* channel = x + cb * planeLength;
            for (int ci = cb; ci < ce; ci++, channel += planeLength)
                for (float* row = channel, end = channel + 3 * rowStep; row < end; row += rowStep, w0 += 3)
                {
                    var x0 = TV.Load(row + k0);
                    s0 = TV.FusedMultiplyAdd(x0, TV.Splat(w0[0]), s0); s1 = TV.FusedMultiplyAdd(x0, TV.Splat(w0[wStride]), s1);
                    s2 = TV.FusedMultiplyAdd(x0, TV.Splat(w0[2 * wStride]), s2); s3 = TV.FusedMultiplyAdd(x0, TV.Splat(w0[3 * wStride]), s3);
                    x0 = TV.Load(row + k1);
                    s0 = TV.FusedMultiplyAdd(x0, TV.Splat(w0[1]), s0); s1 = TV.FusedMultiplyAdd(x0, TV.Splat(w0[wStride + 1]), s1);
                    s2 = TV.FusedMultiplyAdd(x0, TV.Splat(w0[2 * wStride + 1]), s2); s3 = TV.FusedMultiplyAdd(x0, TV.Splat(w0[3 * wStride + 1]), s3);
                    x0 = TV.Load(row + k2);
                    s0 = TV.FusedMultiplyAdd(x0, TV.Splat(w0[2]), s0); s1 = TV.FusedMultiplyAdd(x0, TV.Splat(w0[wStride + 2]), s1);
                    s2 = TV.FusedMultiplyAdd(x0, TV.Splat(w0[2 * wStride + 2]), s2); s3 = TV.FusedMultiplyAdd(x0, TV.Splat(w0[3 * wStride + 2]), s3);
                }
            if (cb == 0) { t0 = s0; t1 = s1; t2 = s2; t3 = s3; }
            else { t0 = TV.Add(t0, s0); t1 = TV.Add(t1, s1); t2 = TV.Add(t2, s2); t3 = TV.Add(t3, s3); }
        }
        StoreNarrow(a, t0, y, ox, a.Wo, o);
        StoreNarrow(a, t1, y + plane, ox, a.Wo, o + 1);
        StoreNarrow(a, t2, y + 2 * plane, ox, a.Wo, o + 2);
        StoreNarrow(a, t3, y + 3 * plane, ox, a.Wo, o + 3);
    }

    /// <summary>
    /// Dense3x3_4x4V: 4 output channels x 4 vectors of one output row, for every block of four channels of group
    /// <paramref name="g"/>; returns the first column left. Column blocks, then runs of input channels, are the outer
    /// loops, so the input one run reads (its channels' three rows over the block's width plus the halo) stays in L1
    /// across the blocks of output channels; each block's four weight rows are walked by pointer so every broadcast
    /// is a load at a constant offset.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int Dense3x3_4x4V<TV>(in Args a, float* xg, int g, int oy) where TV : struct, IVec<TV>
    {
        int L = TV.Count, cinG = a.CinG, coutG = a.CoutG, wo = a.Wo, run = Math.Max(1, SumRun / 9);
        nint plane = a.YChannel, wStride = (nint)cinG * 9, rowStep = (nint)a.Dilation * a.RowLength, planeLength = a.PlaneLength;
        nint k0 = ColumnOffset(a, 0), k1 = ColumnOffset(a, 1), k2 = ColumnOffset(a, 2);
        int ox = 0;
        for (; ox + 4 * L <= wo; ox += 4 * L)
            // Runs of input channels outside the output channels: a run's rows stay in L1 while every block of
            // output channels reads them (each output's sums still come run by run, in the same order).
            for (int cb = 0; cb < cinG; cb += run)
                for (int oc = 0; oc + OcBlock <= coutG; oc += OcBlock)
                {
                    int o = g * coutG + oc;
                    float* yp = OutRow(a, o, oy) + ox;
                    int ce = Math.Min(cinG, cb + run);
                    bool first = cb == 0, last = ce == cinG;
                    TV c00 = default, c01 = default, c02 = default, c03 = default, c10 = default, c11 = default, c12 = default, c13 = default;
                    TV c20 = default, c21 = default, c22 = default, c23 = default, c30 = default, c31 = default, c32 = default, c33 = default;
                    float* w0 = a.W + o * wStride + cb * 9, w1 = w0 + wStride, w2 = w1 + wStride, w3 = w2 + wStride;
                    float* channel = xg + cb * planeLength + ox;
                    for (int ci = cb; ci < ce; ci++, channel += planeLength)
                        for (float* row = channel, end = channel + 3 * rowStep; row < end; row += rowStep, w0 += 3, w1 += 3, w2 += 3, w3 += 3)
                        {
                            // One kernel row (three taps) of one input channel.
                            float* p = row + k0;
                            var x0 = TV.Load(p); var x1 = TV.Load(p + L); var x2 = TV.Load(p + 2 * L); var x3 = TV.Load(p + 3 * L);
                            var v = TV.Splat(w0[0]); c00 = TV.FusedMultiplyAdd(x0, v, c00); c01 = TV.FusedMultiplyAdd(x1, v, c01); c02 = TV.FusedMultiplyAdd(x2, v, c02); c03 = TV.FusedMultiplyAdd(x3, v, c03);
                            v = TV.Splat(w1[0]); c10 = TV.FusedMultiplyAdd(x0, v, c10); c11 = TV.FusedMultiplyAdd(x1, v, c11); c12 = TV.FusedMultiplyAdd(x2, v, c12); c13 = TV.FusedMultiplyAdd(x3, v, c13);
                            v = TV.Splat(w2[0]); c20 = TV.FusedMultiplyAdd(x0, v, c20); c21 = TV.FusedMultiplyAdd(x1, v, c21); c22 = TV.FusedMultiplyAdd(x2, v, c22); c23 = TV.FusedMultiplyAdd(x3, v, c23);
                            v = TV.Splat(w3[0]); c30 = TV.FusedMultiplyAdd(x0, v, c30); c31 = TV.FusedMultiplyAdd(x1, v, c31); c32 = TV.FusedMultiplyAdd(x2, v, c32); c33 = TV.FusedMultiplyAdd(x3, v, c33);
                            p = row + k1;
                            x0 = TV.Load(p); x1 = TV.Load(p + L); x2 = TV.Load(p + 2 * L); x3 = TV.Load(p + 3 * L);
                            v = TV.Splat(w0[1]); c00 = TV.FusedMultiplyAdd(x0, v, c00); c01 = TV.FusedMultiplyAdd(x1, v, c01); c02 = TV.FusedMultiplyAdd(x2, v, c02); c03 = TV.FusedMultiplyAdd(x3, v, c03);
                            v = TV.Splat(w1[1]); c10 = TV.FusedMultiplyAdd(x0, v, c10); c11 = TV.FusedMultiplyAdd(x1, v, c11); c12 = TV.FusedMultiplyAdd(x2, v, c12); c13 = TV.FusedMultiplyAdd(x3, v, c13);
                            v = TV.Splat(w2[1]); c20 = TV.FusedMultiplyAdd(x0, v, c20); c21 = TV.FusedMultiplyAdd(x1, v, c21); c22 = TV.FusedMultiplyAdd(x2, v, c22); c23 = TV.FusedMultiplyAdd(x3, v, c23);
                            v = TV.Splat(w3[1]); c30 = TV.FusedMultiplyAdd(x0, v, c30); c31 = TV.FusedMultiplyAdd(x1, v, c31); c32 = TV.FusedMultiplyAdd(x2, v, c32); c33 = TV.FusedMultiplyAdd(x3, v, c33);
                            p = row + k2;
                            x0 = TV.Load(p); x1 = TV.Load(p + L); x2 = TV.Load(p + 2 * L); x3 = TV.Load(p + 3 * L);
                            v = TV.Splat(w0[2]); c00 = TV.FusedMultiplyAdd(x0, v, c00); c01 = TV.FusedMultiplyAdd(x1, v, c01); c02 = TV.FusedMultiplyAdd(x2, v, c02); c03 = TV.FusedMultiplyAdd(x3, v, c03);
                            v = TV.Splat(w1[2]); c10 = TV.FusedMultiplyAdd(x0, v, c10); c11 = TV.FusedMultiplyAdd(x1, v, c11); c12 = TV.FusedMultiplyAdd(x2, v, c12); c13 = TV.FusedMultiplyAdd(x3, v, c13);
                            v = TV.Splat(w2[2]); c20 = TV.FusedMultiplyAdd(x0, v, c20); c21 = TV.FusedMultiplyAdd(x1, v, c21); c22 = TV.FusedMultiplyAdd(x2, v, c22); c23 = TV.FusedMultiplyAdd(x3, v, c23);
                            v = TV.Splat(w3[2]); c30 = TV.FusedMultiplyAdd(x0, v, c30); c31 = TV.FusedMultiplyAdd(x1, v, c31); c32 = TV.FusedMultiplyAdd(x2, v, c32); c33 = TV.FusedMultiplyAdd(x3, v, c33);
                        }
                    Store1x4(a, yp, first, last, o, c00, c01, c02, c03);
                    Store1x4(a, yp + plane, first, last, o + 1, c10, c11, c12, c13);
                    Store1x4(a, yp + 2 * plane, first, last, o + 2, c20, c21, c22, c23);
                    Store1x4(a, yp + 3 * plane, first, last, o + 3, c30, c31, c32, c33);
                }
        return ox;
    }

    // ---- Dense_4x2V: any kernel size, taps from a table ----

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dense_4x2V<TV>(void* state, int item) where TV : struct, IVec<TV>
    {
        ref Args a = ref *(Args*)state;
        int oy = a.RowStart + item % a.RowCount, g = item / a.RowCount, cinG = a.CinG, coutG = a.CoutG, wo = a.Wo, L = TV.Count;
        int kk = a.Kernel * a.Kernel, wStride = cinG * kk, run = Math.Max(1, SumRun / kk);
        nint plane = a.YChannel;
        int* taps = stackalloc int[kk];
        Taps(a, oy, taps);
        float* xg = a.Padded + (nint)g * cinG * a.PlaneLength;
        int oc = 0;
        for (; oc + OcBlock <= coutG; oc += OcBlock)
        {
            int o = g * coutG + oc;
            float* w = a.W + (nint)o * wStride;
            float* y = OutRow(a, o, oy);
            int ox = 0;
            for (; ox + 2 * L <= wo; ox += 2 * L)
            {
                float* yp = y + ox;
                for (int cb = 0; cb < cinG; cb += run)
                {
                    int ce = Math.Min(cinG, cb + run);
                    bool first = cb == 0, last = ce == cinG;
                    TV c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
                    float* xc = xg + (nint)cb * a.PlaneLength + ox;
                    float* wc = w + cb * kk;
                    for (int ci = cb; ci < ce; ci++, xc += a.PlaneLength, wc += kk)
                        for (int t = 0; t < kk; t++)
                        {
                            float* xp = xc + taps[t];
                            var x0 = TV.Load(xp);
                            var x1 = TV.Load(xp + L);
                            var v = TV.Splat(wc[t]); c00 = TV.FusedMultiplyAdd(x0, v, c00); c01 = TV.FusedMultiplyAdd(x1, v, c01);
                            v = TV.Splat(wc[wStride + t]); c10 = TV.FusedMultiplyAdd(x0, v, c10); c11 = TV.FusedMultiplyAdd(x1, v, c11);
                            v = TV.Splat(wc[2 * wStride + t]); c20 = TV.FusedMultiplyAdd(x0, v, c20); c21 = TV.FusedMultiplyAdd(x1, v, c21);
                            v = TV.Splat(wc[3 * wStride + t]); c30 = TV.FusedMultiplyAdd(x0, v, c30); c31 = TV.FusedMultiplyAdd(x1, v, c31);
                        }
                    Store4x2(a, yp, plane, first, last, o, c00, c01, c10, c11, c20, c21, c30, c31);
                }
            }
            for (int k = 0; k < OcBlock; k++) DenseRest<TV>(a, oy, g, o + k, ox);
        }
        for (; oc < coutG; oc++) DenseRest<TV>(a, oy, g, g * coutG + oc, 0);
        NormalizeItem(a, g * coutG, (g + 1) * coutG, (nint)oy * wo, wo);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Taps(in Args a, int oy, int* taps)
    {
        int k = a.Kernel;
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++)
                taps[ky * k + kx] = (oy * a.Stride + ky * a.Dilation + a.Shift - a.RowOrigin) * a.RowLength + ColumnOffset(a, kx);
    }

    /// <summary>Columns [ox, wo) of one output channel's row: one vector at a time, then one column at a time (in double).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DenseRest<TV>(in Args a, int oy, int g, int o, int ox) where TV : struct, IVec<TV>
    {
        int kk = a.Kernel * a.Kernel, cinG = a.CinG, L = TV.Count, run = Math.Max(1, SumRun / kk);
        if (ox >= a.Wo) return;
        int* taps = stackalloc int[kk];
        Taps(a, oy, taps);
        float* xg = a.Padded + (nint)g * cinG * a.PlaneLength;
        float* w = a.W + (nint)o * cinG * kk;
        float* y = OutRow(a, o, oy);
        // Output channels left over from the blocks of four (all of them when a group has fewer): eight, then four
        // vectors of columns per weight instead (eight independent sums keep both FMA pipes busy; four leave them
        // waiting on the FMA latency half the time).
        for (; ox + 8 * L <= a.Wo; ox += 8 * L)
            for (int cb = 0; cb < cinG; cb += run)
            {
                int ce = Math.Min(cinG, cb + run);
                bool first = cb == 0, last = ce == cinG;
                TV c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
                float* xc = xg + (nint)cb * a.PlaneLength + ox;
                float* wc = w + cb * kk;
                for (int ci = cb; ci < ce; ci++, xc += a.PlaneLength, wc += kk)
                    for (int t = 0; t < kk; t++)
                    {
                        float* xp = xc + taps[t];
                        var v = TV.Splat(wc[t]);
                        c0 = TV.FusedMultiplyAdd(TV.Load(xp), v, c0);
                        c1 = TV.FusedMultiplyAdd(TV.Load(xp + L), v, c1);
                        c2 = TV.FusedMultiplyAdd(TV.Load(xp + 2 * L), v, c2);
                        c3 = TV.FusedMultiplyAdd(TV.Load(xp + 3 * L), v, c3);
                        c4 = TV.FusedMultiplyAdd(TV.Load(xp + 4 * L), v, c4);
                        c5 = TV.FusedMultiplyAdd(TV.Load(xp + 5 * L), v, c5);
                        c6 = TV.FusedMultiplyAdd(TV.Load(xp + 6 * L), v, c6);
                        c7 = TV.FusedMultiplyAdd(TV.Load(xp + 7 * L), v, c7);
                    }
                Store1x4(a, y + ox, first, last, o, c0, c1, c2, c3);
                Store1x4(a, y + ox + 4 * L, first, last, o, c4, c5, c6, c7);
            }
        for (; ox + 4 * L <= a.Wo; ox += 4 * L)
            for (int cb = 0; cb < cinG; cb += run)
            {
                int ce = Math.Min(cinG, cb + run);
                bool first = cb == 0, last = ce == cinG;
                TV c0 = default, c1 = default, c2 = default, c3 = default;
                float* xc = xg + (nint)cb * a.PlaneLength + ox;
                float* wc = w + cb * kk;
                for (int ci = cb; ci < ce; ci++, xc += a.PlaneLength, wc += kk)
                    for (int t = 0; t < kk; t++)
                    {
                        float* xp = xc + taps[t];
                        var v = TV.Splat(wc[t]);
                        c0 = TV.FusedMultiplyAdd(TV.Load(xp), v, c0);
                        c1 = TV.FusedMultiplyAdd(TV.Load(xp + L), v, c1);
                        c2 = TV.FusedMultiplyAdd(TV.Load(xp + 2 * L), v, c2);
                        c3 = TV.FusedMultiplyAdd(TV.Load(xp + 3 * L), v, c3);
                    }
                Store1x4(a, y + ox, first, last, o, c0, c1, c2, c3);
            }
        for (; ox + L <= a.Wo; ox += L)
            for (int cb = 0; cb < cinG; cb += run)
            {
                int ce = Math.Min(cinG, cb + run);
                TV c = default;
                float* xc = xg + (nint)cb * a.PlaneLength + ox;
                float* wc = w + cb * kk;
                for (int ci = cb; ci < ce; ci++, xc += a.PlaneLength, wc += kk)
                    for (int t = 0; t < kk; t++) c = TV.FusedMultiplyAdd(TV.Load(xc + taps[t]), TV.Splat(wc[t]), c);
                Accumulate(a, c, y + ox, cb == 0, ce == cinG, o);
            }
        if (ox < a.Wo)
        {
            // The last columns: one vector computed whole (the padded input has slack to read past the row), its
            // valid lanes stored one by one so the next row, perhaps another thread's, is left alone.
            TV total = default;
            for (int cb = 0; cb < cinG; cb += run)
            {
                int ce = Math.Min(cinG, cb + run);
                TV c = default;
                float* xc = xg + (nint)cb * a.PlaneLength + ox;
                float* wc = w + cb * kk;
                for (int ci = cb; ci < ce; ci++, xc += a.PlaneLength, wc += kk)
                    for (int t = 0; t < kk; t++) c = TV.FusedMultiplyAdd(TV.Load(xc + taps[t]), TV.Splat(wc[t]), c);
                total = TV.Add(total, c);
            }
            StorePartial(a, total, y, ox, a.Wo, o);
        }
    }

    /// <summary>Lanes [0, end - from) of <paramref name="acc"/> into y[from..end), each through the epilogue.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StorePartial<TV>(in Args a, TV acc, float* y, int from, int end, int oc) where TV : struct, IVec<TV>
    {
        // The epilogue of Accumulate on the lanes that exist: masked loads and stores touch nothing past them.
        int n = end - from;
        if (a.Residual != null) acc = TV.Add(acc, TV.LoadFirst(a.Residual + (y + from - a.Y), n));
        acc = TV.Epilogue(acc, Bias(a, oc), Slope(a, oc), a.Slope != null);
        acc.StoreFirst(y + from, n);
    }

    // ---- Depthwise_4V: one channel's output row, four vectors of columns at a time ----

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Depthwise_4V<TV>(void* state, int item) where TV : struct, IVec<TV>
    {
        ref Args a = ref *(Args*)state;
        // Several rows per item on small maps (a 7-column row is too little work to hand out alone); the taps
        // of the next row are those of this one, one (strided) input row further down.
        int chunks = (a.RowCount + a.Tiles - 1) / a.Tiles;
        int oy0 = a.RowStart + item % chunks * a.Tiles, c = item / chunks, kk = a.Kernel * a.Kernel;
        int* taps = stackalloc int[kk];
        int oy1 = Math.Min(a.RowStart + a.RowCount, oy0 + a.Tiles);
        DepthwiseRows<TV>(a, c, oy0, oy1, taps);
        NormalizeItem(a, c, c + 1, (nint)oy0 * a.Wo, (oy1 - oy0) * a.Wo);
    }

    /// <summary>Output rows [oy0, oy1) of depth-wise channel <paramref name="c"/>; <paramref name="taps"/>: room for the kernel's taps.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DepthwiseRows<TV>(in Args a, int c, int oy0, int oy1, int* taps) where TV : struct, IVec<TV>
    {
        Taps(a, oy0, taps);
        if (a.Stride == 1 && a.Wo < 2 * TV.Count)
        {
            DepthwiseNarrow<TV>(a, c, oy0, oy1, taps);
            return;
        }
        for (int oy = oy0; oy < oy1; oy++)
            DepthwiseRow<TV>(a, c, oy, taps, (nint)(oy - oy0) * a.Stride * a.RowLength);
    }

    /// <summary>
    /// Depth-wise, stride 1, on narrow maps (7x7, 14x14: each row is one or two vectors, so the row kernel is
    /// a chain of dependent FMAs per row and waits on their latency). Four rows at a time instead, each
    /// vector of columns its own chain. Each lane's sum is the row kernel's, in the same order: the results are
    /// identical.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DepthwiseNarrow<TV>(in Args a, int c, int oy0, int oy1, int* taps) where TV : struct, IVec<TV>
    {
        int kk = a.Kernel * a.Kernel, wo = a.Wo, L = TV.Count;
        nint row = a.RowLength;
        float* x = a.Padded + (nint)c * a.PlaneLength;
        float* w = a.W + (nint)c * kk;
        float* y = a.Y + (nint)c * a.Ho * wo;
        for (int oy = oy0; oy < oy1; oy += 4)
        {
            // The last block may hold fewer than four rows: the missing ones repeat its last row (read, never stored).
            int n = Math.Min(4, oy1 - oy);
            float* xr = x + (oy - oy0) * row;
            nint r1 = Math.Min(1, n - 1) * row, r2 = Math.Min(2, n - 1) * row, r3 = Math.Min(3, n - 1) * row;
            float* yr = y + (nint)oy * wo;
            for (int ox = 0; ox < wo; ox += L)
            {
                FourTapSums(xr + ox, taps, w, kk, r1, r2, r3, out TV c0, out TV c1, out TV c2, out TV c3);
                StoreNarrow(a, c0, yr, ox, wo, c);
                if (n > 1) StoreNarrow(a, c1, yr + wo, ox, wo, c);
                if (n > 2) StoreNarrow(a, c2, yr + 2 * wo, ox, wo, c);
                if (n > 3) StoreNarrow(a, c3, yr + 3 * wo, ox, wo, c);
            }
        }
    }

    /// <summary>One vector of an output row from column <paramref name="ox"/>: whole, or its lanes before <paramref name="wo"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreNarrow<TV>(in Args a, TV acc, float* y, int ox, int wo, int oc) where TV : struct, IVec<TV>
    {
        if (ox + TV.Count <= wo) Accumulate(a, acc, y + ox, true, true, oc);
        else StorePartial(a, acc, y, ox, wo, oc);
    }

    /// <summary>
    /// A depth-wise channel's taps summed over four vectors at once (x, x + o1, x + o2, x + o3: four rows, or four
    /// vectors of one row), each its own chain of FMAs, taps in order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void FourTapSums<TV>(float* x, int* taps, float* w, int kk, nint o1, nint o2, nint o3, out TV c0, out TV c1, out TV c2, out TV c3)
        where TV : struct, IVec<TV>
    {
        c0 = default;
        c1 = default;
        c2 = default;
        c3 = default;
        for (int t = 0; t < kk; t++)
        {
            float* xp = x + taps[t];
            var v = TV.Splat(w[t]);
            c0 = TV.FusedMultiplyAdd(TV.Load(xp), v, c0);
            c1 = TV.FusedMultiplyAdd(TV.Load(xp + o1), v, c1);
            c2 = TV.FusedMultiplyAdd(TV.Load(xp + o2), v, c2);
            c3 = TV.FusedMultiplyAdd(TV.Load(xp + o3), v, c3);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DepthwiseRow<TV>(in Args a, int c, int oy, int* taps, nint shift) where TV : struct, IVec<TV>
    {
        int kk = a.Kernel * a.Kernel, wo = a.Wo, L = TV.Count;
        float* x = a.Padded + (nint)c * a.PlaneLength + shift;
        float* w = a.W + (nint)c * kk;
        float* y = a.Y + (nint)c * a.Ho * wo + (nint)oy * wo;
        int ox = 0;
        for (; ox + 4 * L <= wo; ox += 4 * L)
        {
            FourTapSums(x + ox, taps, w, kk, L, 2 * L, 3 * L, out TV c0, out TV c1, out TV c2, out TV c3);
            Accumulate(a, c0, y + ox, true, true, c);
            Accumulate(a, c1, y + ox + L, true, true, c);
            Accumulate(a, c2, y + ox + 2 * L, true, true, c);
            Accumulate(a, c3, y + ox + 3 * L, true, true, c);
        }
        for (; ox + L <= wo; ox += L)
        {
            TV c0 = default;
            for (int t = 0; t < kk; t++) c0 = TV.FusedMultiplyAdd(TV.Load(x + taps[t] + ox), TV.Splat(w[t]), c0);
            Accumulate(a, c0, y + ox, true, true, c);
        }
        if (ox < wo)
        {
            TV c0 = default;
            for (int t = 0; t < kk; t++) c0 = TV.FusedMultiplyAdd(TV.Load(x + taps[t] + ox), TV.Splat(w[t]), c0);
            StorePartial(a, c0, y, ox, wo, c);
        }
    }
}

/// <summary>
/// A BatchNorm + PReLU a convolution applies to what it writes, per work item while in cache (the scale-shift
/// after an ESP block's branches, split by the pass that fuses it): y = prelu(fma((v + Residual) - Mean, Scale, Beta)) per output channel, v the
/// convolution's value (with its own residual added), <see cref="Residual"/> another tensor shaped like the
/// output (the block's identity residual; empty: none), <see cref="Slope"/> empty: no PReLU. As the
/// <c>residualNorm</c> of a convolution it applies to that convolution's residual instead, in place, once added
/// (<see cref="Target"/>: the residual span, writable): HFF's previous branch is final at that moment. The
/// arithmetic is <c>FastElementwise.ScaleShift</c>'s.
/// </summary>
public readonly ref struct OutputNorm(ReadOnlySpan<float> mean, ReadOnlySpan<float> scale, ReadOnlySpan<float> beta, ReadOnlySpan<float> slope,
    ReadOnlySpan<float> residual = default, Span<float> target = default)
{
    public ReadOnlySpan<float> Mean { get; } = mean;
    public ReadOnlySpan<float> Scale { get; } = scale;
    public ReadOnlySpan<float> Beta { get; } = beta;
    public ReadOnlySpan<float> Slope { get; } = slope;
    public ReadOnlySpan<float> Residual { get; } = residual;
    public Span<float> Target { get; } = target;
    public bool Active => !Mean.IsEmpty;

    internal void Check(int channels, long elements, string what)
    {
        if (!Active) return;
        if (Scale.Length < channels || Beta.Length < channels || Mean.Length < channels || (!Slope.IsEmpty && Slope.Length < channels)
            || (!Residual.IsEmpty && Residual.Length < elements))
            throw new ArgumentException($"FastConv: the {what} BatchNorm's spans are too short for {channels} channels.");
    }
}

/// <summary>
/// Where a convolution writes output channel o's row r: y[(o / 4) * <see cref="BlockStride"/> + (o % 4) *
/// <see cref="ChannelStride"/> + r * <see cref="RowStride"/>]. The default is plain NCHW. <see cref="RowBlocked"/>
/// puts each block of four channels' row r side by side (4 x W floats per row, one block per 4 x H x W floats): the
/// layout in which the planner keeps the input of ESPNet's last transposed convolution inside the caller's output,
/// where each of that convolution's rows reads only floats it is about to overwrite
/// (<see cref="FastElementwise.ConvTranspose2x2InOutput"/>).
/// </summary>
public readonly struct OutputLayout(int channelStride, int rowStride, int blockStride)
{
    public int ChannelStride { get; } = channelStride;
    public int RowStride { get; } = rowStride;
    public int BlockStride { get; } = blockStride;
    public bool Active => RowStride > 0;

    /// <summary>The blocked layout of an H x W map: channel stride W, row stride 4W, block stride 4HW.</summary>
    public static OutputLayout RowBlocked(int h, int w) => new(w, 4 * w, 4 * h * w);

    /// <summary>Where channel <paramref name="c"/>'s row <paramref name="row"/> starts.</summary>
    public long Offset(int c, int row) => (long)(c >> 2) * BlockStride + (long)(c & 3) * ChannelStride + (long)row * RowStride;

    /// <summary>Floats a C x H x W map spans in this layout (from its first float to its last, plus one).</summary>
    public long Span(int c, int h, int w) => Offset(c - 1, h - 1) + w;

    internal void Check(int c, int h, int w, int have)
    {
        // Rows of one channel, the channels of a block and the blocks must not overlap.
        if (ChannelStride < w || RowStride < (long)Math.Min(c, 4) * ChannelStride || BlockStride < (long)h * RowStride)
            throw new ArgumentException($"FastConv: the output layout ({ChannelStride}, {RowStride}, {BlockStride}) overlaps itself for {c}x{h}x{w}.");
        if (have < Span(c, h, w))
            throw new ArgumentException($"FastConv: the output span holds {have} floats but the layout needs {Span(c, h, w)}.");
    }
}

/// <summary>
/// What a convolution's input goes through as it is copied into the padded layout, so no separate pass writes
/// it out first: a channel shuffle undone (<see cref="ShuffleGroups"/>: the convolution's channel c is channel
/// (c mod G) * C/G + c / G of the tensor given), then the BatchNorm of that channel — (x - mean) * scale + beta —
/// and PReLU (<see cref="Slope"/>; empty: none). The padding stays zero, as when the transform runs before the
/// convolution pads. EfficientPyrPool's merge (BR, shuffle, grouped 3x3) is the case it serves.
/// </summary>
public readonly ref struct InputTransform(int shuffleGroups, ReadOnlySpan<float> mean, ReadOnlySpan<float> scale, ReadOnlySpan<float> beta, ReadOnlySpan<float> slope)
{
    public int ShuffleGroups { get; } = shuffleGroups;
    public ReadOnlySpan<float> Mean { get; } = mean;
    public ReadOnlySpan<float> Scale { get; } = scale;
    public ReadOnlySpan<float> Beta { get; } = beta;
    public ReadOnlySpan<float> Slope { get; } = slope;
    public bool Active => !Mean.IsEmpty;
}
