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
    /// <summary>v + bias, then PReLU with slope when <paramref name="activate"/>.</summary>
    static abstract TSelf Epilogue(TSelf v, float bias, float slope, bool activate);
    void Store(float* p);
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
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V256 Epilogue(V256 v, float bias, float slope, bool activate)
    {
        var x = v._v + Vector256.Create(bias);
        return new(activate ? Vector256.ConditionalSelect(Vector256.LessThan(x, Vector256<float>.Zero), x * Vector256.Create(slope), x) : x);
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public void Store(float* p) => _v.Store(p);
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
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static V512 Epilogue(V512 v, float bias, float slope, bool activate)
    {
        var x = v._v + Vector512.Create(bias);
        return new(activate ? Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<float>.Zero), x * Vector512.Create(slope), x) : x);
    }
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public void Store(float* p) => _v.Store(p);
}
