using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Espnet.Compiled.Cpu.Fast;

/// <summary>
/// Winograd F(2x2, 3x3) for the stride-1 dilated 3x3 convolutions of ESP blocks: each 2x2 group of outputs on the
/// dilated grid — (y, x), (y, x+d), (y+d, x), (y+d, x+d) — is computed from the 4x4 inputs at (y + i*d, x + j*d)
/// with 16 multiplications per input channel instead of 36 (Lavin and Gray, "Fast Algorithms for Convolutional
/// Neural Networks", 2016; the dilated form just walks the grid d apart). The transforms are
/// V = Bt d B (adds only), U = G g Gt (weights, once per call, in double) and Y = At (U . V) A (adds only):
/// <code>
/// Bt = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]   G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]   At = [1 1 1 0; 0 1 -1 -1]
/// </code>
/// A work item is one pair of output rows (y, y+d); its tiles start at the columns x with x mod 2d &lt; d. Lanes of a
/// vector are consecutive tiles: for d at least the vector width they are consecutive columns; for smaller d a
/// two-source lane permutation gathers them from (and scatters them back to) a window of 2 vectors. Per tile row:
/// the input transform of every input channel (a few vectors of tiles at a time, on the stack), then per block
/// of four output channels sixteen small matrix products (<c>Gemm_4x4V</c>) and the output transform, which
/// writes through the usual epilogue (residual, bias, PReLU). Each output is computed by one thread in a fixed
/// order, so results do not depend on the thread count.
/// </summary>
public static unsafe partial class FastConv
{
    /// <summary>Whether convolutions Winograd covers run that way (default); false runs them directly (tests compare the two).</summary>
    public static bool UseWinograd { get; set; } = true;

    /// <summary>cin x cout at most: the transformed weights (16 per pair) live on the caller's stack.</summary>
    private const int WinogradMaxPairs = 1024;

    /// <summary>Floats of transformed input a work item holds on its stack (128 KB).</summary>
    private const int WinogradTileFloats = 1 << 15;

    /// <summary>
    /// Whether a convolution runs as Winograd F(2x2, 3x3) at the vector width in use (<see cref="Simd.Use512"/>):
    /// 3x3, stride 1, one group, a power-of-two dilation, 16 to 64 input channels (below 16 the transforms cost
    /// about what the saved multiplications do: measured 1.0-1.1x at 12), at least four output channels, few
    /// enough weights, and sizes the dilated tiling covers exactly (rows and columns in whole periods of 2d, tiles
    /// in whole vectors); otherwise it runs directly. The fast kernels choose this at run time (it depends on the
    /// vector width); the schedule names the convolution, not the algorithm.
    /// </summary>
    public static bool Winograd(int cin, int cout, int ho, int wo, int kernel, int stride, int dilation, int groups) =>
        WinogradApplies(cin, cout, ho, wo, kernel, stride, dilation, groups, Simd.Use512 ? V512.Count : V256.Count);

    private static bool WinogradApplies(int cin, int cout, int ho, int wo, int kernel, int stride, int dilation, int groups, int lanes) =>
        UseWinograd && kernel == 3 && stride == 1 && groups == 1 && cout >= OcBlock && cin >= 8 && cin <= 64 && cin * WinogradBlocks(cout) <= WinogradMaxPairs
        && System.Numerics.BitOperations.IsPow2(dilation)
        && ho % (2 * dilation) == 0 && wo % (2 * dilation) == 0 && wo % (2 * lanes) == 0;

    /// <summary>
    /// Transforms the weights, then runs the tile rows over the padded input, or, with
    /// <paramref name="selfPaddedItems"/> &gt; 0, as that many items that each pad their own rows (<see cref="SelfPadded"/>).
    /// </summary>
    [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Winograd3x3(ref Args a, int selfPaddedItems = 0)
    {
        // Output channels padded to whole blocks of four (zero weights): the blocks run one kernel, no tails. The
        // caller's transform when given (a batch's samples share one), else made here on the stack.
        if (a.U == null)
        {
            int blocks = WinogradBlocks(a.Cout);
            float* raw = stackalloc float[16 * a.Cin * blocks + 16];
            float* u = Align64(raw);
            new Span<float>(u, 16 * a.Cin * blocks).Clear();
            WinogradWeights(a.W, a.Cin, a.Cout, blocks, u);
            a.U = u;
        }
        long work = (long)a.Cout * a.Cin * 9 * a.Ho * a.Wo;
        fixed (Args* p = &a)
        {
            if (selfPaddedItems > 0)
                Workers.For(p, Simd.Use512 ? &SelfPaddedItem<V512, WinogradTiles> : &SelfPaddedItem<V256, WinogradTiles>, selfPaddedItems, work);
            else
                Workers.For(p, Simd.Use512 ? &WinogradRows<V512> : &WinogradRows<V256>, a.Ho / 2, work);
        }
    }

    /// <summary>Floats of a convolution's transformed weights (<see cref="WinogradWeights(ReadOnlySpan{float}, int, int, Span{float})"/>).</summary>
    public static int WinogradWeightFloats(int cin, int cout) => 16 * cin * WinogradBlocks(cout);

    /// <summary>
    /// The transformed weights a Winograd convolution makes on each call (U = G g Gt), made once for calls that share
    /// the weights (a training batch's samples) and given to <see cref="Conv2d"/>: the same floats it would make.
    /// </summary>
    public static void WinogradWeights(ReadOnlySpan<float> weight, int cin, int cout, Span<float> u)
    {
        int blocks = WinogradBlocks(cout);
        Check(weight.Length >= (long)cout * cin * 9, "weight", weight.Length, (long)cout * cin * 9);
        Check(u.Length >= WinogradWeightFloats(cin, cout), "Winograd weights", u.Length, WinogradWeightFloats(cin, cout));
        u.Slice(0, WinogradWeightFloats(cin, cout)).Clear();
        fixed (float* pw = weight, pu = u) WinogradWeights(pw, cin, cout, blocks, pu);
    }

    /// <summary>
    /// U = G g Gt for every (output, input) channel pair, in double; stored [position][cin][stride]. Four output
    /// channels at a time (adjacent in U), the last few one by one: the same operations in the same order either
    /// way, so the same floats. It runs on every call (while a second thread waits), so it is kept cheap: 25 x 25
    /// pairs took ~10 us one pair at a time.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WinogradWeights(float* w, int cin, int cout, int stride, float* u)
    {
        double* gg = stackalloc double[12];
        var k = stackalloc Vector256<double>[12];
        nint position = (nint)cin * stride, pair = (nint)cin * 9;
        var half = Vector256.Create(0.5);
        for (int ci = 0; ci < cin; ci++)
        {
            float* to = u + (nint)ci * stride;
            int o = 0;
            for (; o + 4 <= cout; o += 4)
            {
                float* g = w + o * pair + ci * 9;
                for (int c = 0; c < 3; c++)
                {
                    Vector256<double> g0 = Gather4(g + c, pair), g1 = Gather4(g + 3 + c, pair), g2 = Gather4(g + 6 + c, pair);
                    k[c] = g0;
                    k[3 + c] = (g0 + g1 + g2) * half;
                    k[6 + c] = (g0 - g1 + g2) * half;
                    k[9 + c] = g2;
                }
                for (int r = 0; r < 4; r++)
                {
                    Vector256<double> h0 = k[3 * r], h1 = k[3 * r + 1], h2 = k[3 * r + 2];
                    float* at = to + 4 * r * position + o;
                    Vector128.Store(Vector256.Narrow(h0, h0).GetLower(), at);
                    Vector128.Store(Vector256.Narrow((h0 + h1 + h2) * half, default).GetLower(), at + position);
                    Vector128.Store(Vector256.Narrow((h0 - h1 + h2) * half, default).GetLower(), at + 2 * position);
                    Vector128.Store(Vector256.Narrow(h2, h2).GetLower(), at + 3 * position);
                }
            }
            for (; o < cout; o++)
            {
                float* g = w + o * pair + ci * 9;
                for (int c = 0; c < 3; c++)
                {
                    double g0 = g[c], g1 = g[3 + c], g2 = g[6 + c];
                    gg[c] = g0;
                    gg[3 + c] = (g0 + g1 + g2) * 0.5;
                    gg[6 + c] = (g0 - g1 + g2) * 0.5;
                    gg[9 + c] = g2;
                }
                for (int r = 0; r < 4; r++)
                {
                    double h0 = gg[3 * r], h1 = gg[3 * r + 1], h2 = gg[3 * r + 2];
                    to[(4 * r) * position + o] = (float)h0;
                    to[(4 * r + 1) * position + o] = (float)((h0 + h1 + h2) * 0.5);
                    to[(4 * r + 2) * position + o] = (float)((h0 - h1 + h2) * 0.5);
                    to[(4 * r + 3) * position + o] = (float)h2;
                }
            }
        }
    }

    /// <summary>Four weights <paramref name="step"/> floats apart, as doubles.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> Gather4(float* p, nint step) => Vector256.Create((double)p[0], p[step], p[2 * step], p[3 * step]);

    /// <summary>One pair of output rows: every tile of it, every output channel.</summary>
    [SkipLocalsInit, MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WinogradRows<TV>(void* state, int item) where TV : struct, IVec<TV>
    {
        ref Args a = ref *(Args*)state;
        int L = TV.Count, d = a.Dilation, cin = a.Cin, cout = a.Cout, blocks = WinogradBlocks(cout);
        int y0 = a.RowStart + TileColumn(item, d), vectors = a.Wo / 2 / L;
        int chunk = Math.Clamp(WinogradTileFloats / (16 * cin * L), 1, 8);
        if (chunk >= 4) chunk &= ~3;
        chunk = Math.Min(chunk, vectors);
        int T = chunk * L;
        // 64-byte aligned (a vector never straddles two cache lines): these are read and written a vector at a time.
        float* vRaw = stackalloc float[16 * cin * T + 16], mRaw = stackalloc float[16 * OcBlock * T + 16];
        float* v = Align64(vRaw), m = Align64(mRaw);

        // Lane tables for d < L: which columns of a 2-vector window hold the tiles' first and second columns, and back.
        bool permute = d < L;
        int* table = stackalloc int[4 * L];
        for (int l = 0; l < L; l++)
        {
            table[l] = TileColumn(l, d);
            table[L + l] = table[l] + d;
        }
        for (int c = 0; c < 2 * L; c++)
        {
            int q = c / (2 * d), r = c % (2 * d);
            table[2 * L + c] = r < d ? q * d + r : L + q * d + r - d;
        }
        TV first = TV.LoadIndex(table), second = TV.LoadIndex(table + L), back0 = TV.LoadIndex(table + 2 * L), back1 = TV.LoadIndex(table + 3 * L);

        nint rowStep = (nint)d * a.RowLength, positionStride = (nint)cin * T, uPosition = (nint)cin * blocks;
        float* x = a.Padded + (nint)(y0 + a.Shift - a.RowOrigin) * a.RowLength + a.Shift;
        for (int t0 = 0; t0 < vectors; t0 += chunk)
        {
            int nv = Math.Min(chunk, vectors - t0);
            for (int ci = 0; ci < cin; ci++)
            {
                float* xc = x + (nint)ci * a.PlaneLength;
                for (int k = 0; k < nv; k++)
                    InputTile(xc + TileColumn((t0 + k) * L, d), rowStep, d, permute, first, second, v + (nint)ci * T + k * L, positionStride);
            }
            for (int oc = 0; oc < cout; oc += OcBlock)
            {
                for (int pos = 0; pos < 16; pos++)
                {
                    float* up = a.U + pos * uPosition + oc, vp = v + pos * positionStride, mp = m + pos * OcBlock * T;
                    int k = 0;
                    for (; k + 4 <= nv; k += 4) Gemm_4x4V<TV>(up, blocks, vp + k * L, T, cin, mp + k * L);
                    for (; k < nv; k++) Gemm_4x1V<TV>(up, blocks, vp + k * L, T, cin, mp + k * L);
                }
                for (int r = 0; r < OcBlock && oc + r < cout; r++)
                    OutputTiles(a, m + r * T, OcBlock * T, oc + r, y0, t0, nv, permute, back0, back1);
            }
        }
        // The BatchNorms the convolution carries went through with each vector as it was stored (WinogradStore).
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float* Align64(float* p) => (float*)(((nint)p + 63) & ~(nint)63);

    /// <summary>Output channels rounded up to whole blocks of four: the weights of the padding channels are zero.</summary>
    private static int WinogradBlocks(int cout) => (cout + OcBlock - 1) / OcBlock * OcBlock;

    /// <summary>
    /// The first column of tile <paramref name="j"/> in a row of tiles (tiles start at the columns x with x mod 2d &lt; d;
    /// d a power of two); the same for the first row of tile row <paramref name="j"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int TileColumn(int j, int d) => ((j & -d) << 1) | (j & (d - 1));

    /// <summary>The four columns (x, x+d, x+2d, x+3d) of one input row for a vector of tiles starting at <paramref name="p"/>, transformed by Bt.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InputRow<TV>(float* p, int d, bool permute, TV first, TV second, out TV h0, out TV h1, out TV h2, out TV h3)
        where TV : struct, IVec<TV>
    {
        TV c0, c1, c2, c3;
        if (permute)
        {
            int L = TV.Count;
            TV w0 = TV.Load(p), w1 = TV.Load(p + L), w2 = TV.Load(p + 2 * d), w3 = TV.Load(p + 2 * d + L);
            c0 = TV.Permute2(w0, w1, first);
            c1 = TV.Permute2(w0, w1, second);
            c2 = TV.Permute2(w2, w3, first);
            c3 = TV.Permute2(w2, w3, second);
        }
        else
        {
            c0 = TV.Load(p);
            c1 = TV.Load(p + d);
            c2 = TV.Load(p + 2 * d);
            c3 = TV.Load(p + 3 * d);
        }
        h0 = TV.Subtract(c0, c2);
        h1 = TV.Add(c1, c2);
        h2 = TV.Subtract(c2, c1);
        h3 = TV.Subtract(c1, c3);
    }

    /// <summary>V = Bt d B for one input channel and a vector of tiles; position (i, j) stored at dst + (4i + j) * stride.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InputTile<TV>(float* p, nint rowStep, int d, bool permute, TV first, TV second, float* dst, nint stride)
        where TV : struct, IVec<TV>
    {
        InputRow(p, d, permute, first, second, out TV a0, out TV a1, out TV a2, out TV a3);
        InputRow(p + rowStep, d, permute, first, second, out TV b0, out TV b1, out TV b2, out TV b3);
        InputRow(p + 2 * rowStep, d, permute, first, second, out TV c0, out TV c1, out TV c2, out TV c3);
        InputRow(p + 3 * rowStep, d, permute, first, second, out TV e0, out TV e1, out TV e2, out TV e3);
        TV.Subtract(a0, c0).Store(dst); TV.Subtract(a1, c1).Store(dst + stride); TV.Subtract(a2, c2).Store(dst + 2 * stride); TV.Subtract(a3, c3).Store(dst + 3 * stride);
        dst += 4 * stride;
        TV.Add(b0, c0).Store(dst); TV.Add(b1, c1).Store(dst + stride); TV.Add(b2, c2).Store(dst + 2 * stride); TV.Add(b3, c3).Store(dst + 3 * stride);
        dst += 4 * stride;
        TV.Subtract(c0, b0).Store(dst); TV.Subtract(c1, b1).Store(dst + stride); TV.Subtract(c2, b2).Store(dst + 2 * stride); TV.Subtract(c3, b3).Store(dst + 3 * stride);
        dst += 4 * stride;
        TV.Subtract(b0, e0).Store(dst); TV.Subtract(b1, e1).Store(dst + stride); TV.Subtract(b2, e2).Store(dst + 2 * stride); TV.Subtract(b3, e3).Store(dst + 3 * stride);
    }

    /// <summary>
    /// Y = At M A for output channel <paramref name="oc"/> over <paramref name="nv"/> vectors of tiles (position p of M
    /// at m + p * stride), written through the epilogue to rows y0 and y0 + d. A method of its own: inlined into
    /// <see cref="WinogradRows{TV}"/> with the BatchNorms of its stores, it left the JIT too many locals to track
    /// there (ESPNet-C 48 -> 74 ms); the call is once per channel and chunk of tiles.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void OutputTiles<TV>(in Args a, float* m, nint stride, int oc, int y0, int t0, int nv, bool permute, TV back0, TV back1)
        where TV : struct, IVec<TV>
    {
        int L = TV.Count, d = a.Dilation, wo = a.Wo;
        float* row0 = OutRow(a, oc, y0), row1 = row0 + d * a.YRow;
        var norms = new StoreNorms<TV>(a, oc);
        for (int k = 0; k < nv; k++, m += L)
        {
            // Rows of At M: t0j = m0j + m1j + m2j, t1j = m1j - m2j - m3j.
            TV m0, m1, m2, m3, t00, t01, t02, t03, t10, t11, t12, t13;
            m0 = TV.Load(m); m1 = TV.Load(m + 4 * stride); m2 = TV.Load(m + 8 * stride); m3 = TV.Load(m + 12 * stride);
            t00 = TV.Add(TV.Add(m0, m1), m2); t10 = TV.Subtract(TV.Subtract(m1, m2), m3);
            m0 = TV.Load(m + stride); m1 = TV.Load(m + 5 * stride); m2 = TV.Load(m + 9 * stride); m3 = TV.Load(m + 13 * stride);
            t01 = TV.Add(TV.Add(m0, m1), m2); t11 = TV.Subtract(TV.Subtract(m1, m2), m3);
            m0 = TV.Load(m + 2 * stride); m1 = TV.Load(m + 6 * stride); m2 = TV.Load(m + 10 * stride); m3 = TV.Load(m + 14 * stride);
            t02 = TV.Add(TV.Add(m0, m1), m2); t12 = TV.Subtract(TV.Subtract(m1, m2), m3);
            m0 = TV.Load(m + 3 * stride); m1 = TV.Load(m + 7 * stride); m2 = TV.Load(m + 11 * stride); m3 = TV.Load(m + 15 * stride);
            t03 = TV.Add(TV.Add(m0, m1), m2); t13 = TV.Subtract(TV.Subtract(m1, m2), m3);
            TV y00 = TV.Add(TV.Add(t00, t01), t02), y01 = TV.Subtract(TV.Subtract(t01, t02), t03);
            TV y10 = TV.Add(TV.Add(t10, t11), t12), y11 = TV.Subtract(TV.Subtract(t11, t12), t13);
            int x0 = TileColumn((t0 + k) * L, d);
            if (permute)
            {
                // The window of 2L columns from x0 holds these tiles' first and second columns, interleaved in runs of d.
                WinogradStore(a, norms, TV.Permute2(y00, y01, back0), row0 + x0, oc);
                WinogradStore(a, norms, TV.Permute2(y00, y01, back1), row0 + x0 + L, oc);
                WinogradStore(a, norms, TV.Permute2(y10, y11, back0), row1 + x0, oc);
                WinogradStore(a, norms, TV.Permute2(y10, y11, back1), row1 + x0 + L, oc);
            }
            else
            {
                WinogradStore(a, norms, y00, row0 + x0, oc);
                WinogradStore(a, norms, y01, row0 + x0 + d, oc);
                WinogradStore(a, norms, y10, row1 + x0, oc);
                WinogradStore(a, norms, y11, row1 + x0 + d, oc);
            }
        }
    }

    /// <summary>
    /// One output channel's share of the BatchNorm + PReLU after an ESP block (<see cref="NormPointers"/>), as vectors:
    /// for its own output (<c>Norm</c>) and for the residual it adds (<c>ResidualNorm</c>). Made once per channel.
    /// </summary>
    private readonly struct StoreNorms<TV> where TV : struct, IVec<TV>
    {
        public readonly TV Mean, Scale, Beta, ResidualMean, ResidualScale, ResidualBeta;
        public readonly float Slope, ResidualSlope;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public StoreNorms(in Args a, int oc)
        {
            if (a.Norm.Mean != null)
            {
                Mean = TV.Splat(a.Norm.Mean[oc]); Scale = TV.Splat(a.Norm.Scale[oc]); Beta = TV.Splat(a.Norm.Beta[oc]);
                Slope = a.Norm.Slope != null ? a.Norm.Slope[oc] : 0;
            }
            if (a.ResidualNorm.Mean != null)
            {
                ResidualMean = TV.Splat(a.ResidualNorm.Mean[oc]); ResidualScale = TV.Splat(a.ResidualNorm.Scale[oc]); ResidualBeta = TV.Splat(a.ResidualNorm.Beta[oc]);
                ResidualSlope = a.ResidualNorm.Slope != null ? a.ResidualNorm.Slope[oc] : 0;
            }
        }
    }

    /// <summary>
    /// One vector of Winograd outputs stored: + the residual (HFF's previous branch), the bias and PReLU epilogue as
    /// <see cref="Accumulate"/> runs it, then the output's BatchNorm + PReLU; the residual, read here for the last
    /// time, is normalised in place by its own. Per element exactly what <see cref="NormPointers.Apply"/> computes
    /// after the item — prelu(fma((v + block residual) - mean, scale, beta)) — without a second pass over the rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WinogradStore<TV>(in Args a, in StoreNorms<TV> n, TV v, float* to, int oc) where TV : struct, IVec<TV>
    {
        nint at = (nint)(to - a.Y);
        if (a.Residual != null)
        {
            TV r = TV.Load(a.Residual + at);
            v = TV.Add(v, r);
            if (a.ResidualNorm.Mean != null)
            {
                if (a.ResidualNorm.Residual != null) r = TV.Add(r, TV.Load(a.ResidualNorm.Residual + at));
                r = TV.FusedMultiplyAdd(TV.Subtract(r, n.ResidualMean), n.ResidualScale, n.ResidualBeta);
                if (a.ResidualNorm.Slope != null) r = TV.Prelu(r, n.ResidualSlope);
                r.Store(a.Residual + at);
            }
        }
        v = TV.Epilogue(v, Bias(a, oc), Slope(a, oc), a.Slope != null);
        if (a.Norm.Mean != null)
        {
            if (a.Norm.Residual != null) v = TV.Add(v, TV.Load(a.Norm.Residual + at));
            v = TV.FusedMultiplyAdd(TV.Subtract(v, n.Mean), n.Scale, n.Beta);
            if (a.Norm.Slope != null) v = TV.Prelu(v, n.Slope);
        }
        v.Store(to);
    }

    /// <summary>Gemm_4x4V: M[4 channels][4 vectors of tiles] = sum over input channels of U[ci][4 channels] x V[ci][tiles].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Gemm_4x4V<TV>(float* u, nint uStride, float* v, nint vStride, int cin, float* m) where TV : struct, IVec<TV>
    {
        int L = TV.Count;
        TV c00 = default, c01 = default, c02 = default, c03 = default, c10 = default, c11 = default, c12 = default, c13 = default;
        TV c20 = default, c21 = default, c22 = default, c23 = default, c30 = default, c31 = default, c32 = default, c33 = default;
        for (int ci = 0; ci < cin; ci++, u += uStride, v += vStride)
        {
            var x0 = TV.Load(v); var x1 = TV.Load(v + L); var x2 = TV.Load(v + 2 * L); var x3 = TV.Load(v + 3 * L);
            var w = TV.Splat(u[0]); c00 = TV.FusedMultiplyAdd(x0, w, c00); c01 = TV.FusedMultiplyAdd(x1, w, c01); c02 = TV.FusedMultiplyAdd(x2, w, c02); c03 = TV.FusedMultiplyAdd(x3, w, c03);
            w = TV.Splat(u[1]); c10 = TV.FusedMultiplyAdd(x0, w, c10); c11 = TV.FusedMultiplyAdd(x1, w, c11); c12 = TV.FusedMultiplyAdd(x2, w, c12); c13 = TV.FusedMultiplyAdd(x3, w, c13);
            w = TV.Splat(u[2]); c20 = TV.FusedMultiplyAdd(x0, w, c20); c21 = TV.FusedMultiplyAdd(x1, w, c21); c22 = TV.FusedMultiplyAdd(x2, w, c22); c23 = TV.FusedMultiplyAdd(x3, w, c23);
            w = TV.Splat(u[3]); c30 = TV.FusedMultiplyAdd(x0, w, c30); c31 = TV.FusedMultiplyAdd(x1, w, c31); c32 = TV.FusedMultiplyAdd(x2, w, c32); c33 = TV.FusedMultiplyAdd(x3, w, c33);
        }
        // The four channels' rows of M are vStride floats apart (the caller's M holds 4 rows of T tiles per position).
        nint r = vStride;
        c00.Store(m); c01.Store(m + L); c02.Store(m + 2 * L); c03.Store(m + 3 * L);
        c10.Store(m + r); c11.Store(m + r + L); c12.Store(m + r + 2 * L); c13.Store(m + r + 3 * L);
        c20.Store(m + 2 * r); c21.Store(m + 2 * r + L); c22.Store(m + 2 * r + 2 * L); c23.Store(m + 2 * r + 3 * L);
        c30.Store(m + 3 * r); c31.Store(m + 3 * r + L); c32.Store(m + 3 * r + 2 * L); c33.Store(m + 3 * r + 3 * L);
    }

    /// <summary>Gemm_4x1V: four channels by one vector of tiles.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Gemm_4x1V<TV>(float* u, nint uStride, float* v, nint vStride, int cin, float* m) where TV : struct, IVec<TV>
    {
        TV c0 = default, c1 = default, c2 = default, c3 = default;
        for (int ci = 0; ci < cin; ci++, u += uStride, v += vStride)
        {
            var x = TV.Load(v);
            c0 = TV.FusedMultiplyAdd(x, TV.Splat(u[0]), c0);
            c1 = TV.FusedMultiplyAdd(x, TV.Splat(u[1]), c1);
            c2 = TV.FusedMultiplyAdd(x, TV.Splat(u[2]), c2);
            c3 = TV.FusedMultiplyAdd(x, TV.Splat(u[3]), c3);
        }
        c0.Store(m); c1.Store(m + vStride); c2.Store(m + 2 * vStride); c3.Store(m + 3 * vStride);
    }
}
