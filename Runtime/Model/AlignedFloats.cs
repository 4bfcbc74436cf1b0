namespace Espnet.Compiled;

/// <summary>
/// Zeroed floats whose first element sits on a 64-byte boundary, in an array that never moves (the pinned
/// object heap). The planner places every buffer at a multiple of 16 floats, so with the base aligned a
/// 512-bit vector load or store at a buffer's start, or at a row of a plane whose width is a multiple of 16,
/// touches one cache line instead of two.
/// </summary>
internal sealed class AlignedFloats
{
    private const int Bytes = 64;
    private readonly float[] _values;
    private readonly int _start;

    public AlignedFloats(int length)
    {
        _values = GC.AllocateArray<float>(length + Bytes / sizeof(float), pinned: true);
        unsafe
        {
            fixed (float* p = _values)
                _start = (int)((Bytes - (nint)p % Bytes) % Bytes) / sizeof(float);
        }
        Length = length;
    }

    public int Length { get; }

    public Span<float> Span => _values.AsSpan(_start, Length);
}
