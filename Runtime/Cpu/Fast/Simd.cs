using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Espnet.Compiled.Cpu.Fast;

/// <summary>
/// The vector width the fast kernels run at: 512-bit where the CPU runs it (AVX-512: Zen 4, recent Xeons),
/// else 256-bit (AVX2 + FMA). The kernels are written once over <see cref="IVec{TSelf}"/> and instantiated
/// for each width. Columns computed in vectors sum their products in the same order at either width; the
/// few left over at a row's end are summed in double, so the two widths agree to float rounding (tests set
/// <see cref="Use512"/> to cover both paths on one machine).
/// </summary>
public static class Simd
{
    /// <summary>Whether the kernels use 512-bit vectors (default: where the hardware accelerates them).</summary>
    public static bool Use512 { get; set; } = Vector512.IsHardwareAccelerated;
}

/// <summary>A float vector of fixed width, as the kernels need it.</summary>
internal unsafe interface IVec<TSelf> where TSelf : struct, IVec<TSelf>
{
    static abstract int Count { get; }
    static abstract TSelf Load(float* p);
    static abstract TSelf Splat(float value);
    static abstract TSelf FusedMultiplyAdd(TSelf a, TSelf b, TSelf c);
    static abstract TSelf Add(TSelf a, TSelf b);
    static abstract TSelf Subtract(TSelf a, TSelf b);
    /// <summary>The lanes added together.</summary>
    static abstract float Sum(TSelf v);
    /// <summary>A lane index vector (ints, held in a float vector's bits) for <see cref="Permute2"/>.</summary>
    static abstract TSelf LoadIndex(int* p);
    /// <summary>Lane i of the result is lane index[i] of the 2 x Count lanes of (lo, hi).</summary>
    static abstract TSelf Permute2(TSelf lo, TSelf hi, TSelf index);
    /// <summary>v + bias, then PReLU with slope when <paramref name="activate"/>.</summary>
    static abstract TSelf Epilogue(TSelf v, float bias, float slope, bool activate);
    /// <summary>PReLU alone: v &lt; 0 ? v * slope : v (a negative zero stays one).</summary>
    static abstract TSelf Prelu(TSelf v, float slope);
    void Store(float* p);
    /// <summary>Lanes [0, count) from p, the rest zero; nothing past them is read.</summary>
    static abstract TSelf LoadFirst(float* p, int count);
    /// <summary>Lanes [0, count) to p; nothing past them is written (a row's end, another thread's next row).</summary>
    void StoreFirst(float* p, int count);
}

internal readonly unsafe struct V256(Vector256<float> v) : IVec<V256>
{
    private readonly Vector256<float> _v = v;
    public static int Count => Vector256<float>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 Load(float* p) => new(Vector256.Load(p));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 Splat(float value) => new(Vector256.Create(value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 FusedMultiplyAdd(V256 a, V256 b, V256 c) =>
        new(Fma.IsSupported ? Fma.MultiplyAdd(a._v, b._v, c._v) : a._v * b._v + c._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 Add(V256 a, V256 b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 Subtract(V256 a, V256 b) => new(a._v - b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(V256 v) => Vector256.Sum(v._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 LoadIndex(int* p) => new(Vector256.Load(p).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Permute2(V256 lo, V256 hi, V256 index)
    {
        var i = index._v.AsInt32();
        if (Avx512F.VL.IsSupported) return new(Avx512F.VL.PermuteVar8x32x2(lo._v, i, hi._v));
        // AVX2: permute each source by the low three bits, then take hi's lane where the index is 8 or more.
        var fromLo = Avx2.PermuteVar8x32(lo._v, i);
        var fromHi = Avx2.PermuteVar8x32(hi._v, i);
        return new(Vector256.ConditionalSelect(Vector256.GreaterThan(i, Vector256.Create(7)).AsSingle(), fromHi, fromLo));
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Epilogue(V256 v, float bias, float slope, bool activate)
    {
        var x = v._v + Vector256.Create(bias);
        return new(activate ? Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<float>.Zero), x * Vector256.Create(slope), x) : x);
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Prelu(V256 v, float slope) =>
        new(Vector256.ConditionalSelect(Vector256.LessThan(v._v, Vector256<float>.Zero), v._v * Vector256.Create(slope), v._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public void Store(float* p) => _v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> First(int count) => Vector256.LessThan(Vector256<int>.Indices, Vector256.Create(count)).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V256 LoadFirst(float* p, int count) => new(Avx.MaskLoad(p, First(count)));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public void StoreFirst(float* p, int count) => Avx.MaskStore(p, First(count), _v);
}

internal readonly unsafe struct V512(Vector512<float> v) : IVec<V512>
{
    private readonly Vector512<float> _v = v;
    public static int Count => Vector512<float>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 Load(float* p) => new(Vector512.Load(p));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 Splat(float value) => new(Vector512.Create(value));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 FusedMultiplyAdd(V512 a, V512 b, V512 c) =>
        new(Avx512F.IsSupported ? Avx512F.FusedMultiplyAdd(a._v, b._v, c._v) : a._v * b._v + c._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 Add(V512 a, V512 b) => new(a._v + b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 Subtract(V512 a, V512 b) => new(a._v - b._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(V512 v) => Vector512.Sum(v._v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 LoadIndex(int* p) => new(Vector512.Load(p).AsSingle());
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 Permute2(V512 lo, V512 hi, V512 index) => new(Avx512F.PermuteVar16x32x2(lo._v, index._v.AsInt32(), hi._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 Epilogue(V512 v, float bias, float slope, bool activate)
    {
        var x = v._v + Vector512.Create(bias);
        return new(activate ? Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<float>.Zero), x * Vector512.Create(slope), x) : x);
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 Prelu(V512 v, float slope) =>
        new(Vector512.ConditionalSelect(Vector512.LessThan(v._v, Vector512<float>.Zero), v._v * Vector512.Create(slope), v._v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public void Store(float* p) => _v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> First(int count) => Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(count)).AsSingle();
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static V512 LoadFirst(float* p, int count) => new(Avx512F.MaskLoad(p, First(count), Vector512<float>.Zero));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public void StoreFirst(float* p, int count) => Avx512F.MaskStore(p, First(count), _v);
}
