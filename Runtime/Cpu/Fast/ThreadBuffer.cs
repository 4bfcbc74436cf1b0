using System.Runtime.InteropServices;

namespace Espnet.Compiled.Cpu.Fast;

/// <summary>
/// Each thread's scratch for the kernels whose work items stage data of their own (rows padded per item, rows
/// resampled per band): native, 64-byte aligned, grown to the largest request and kept, so after the first
/// forward pass no call allocates. A thread's buffer is freed by a finalizer once the thread is gone.
/// </summary>
internal static unsafe class ThreadBuffer
{
    [System.ThreadStatic] private static Owner? t_owner;

    /// <summary>At least <paramref name="floats"/> floats for this thread, valid until its next call; zeroed when first allocated.</summary>
    public static float* Get(long floats) => (t_owner ??= new Owner()).Get(floats);

    /// <summary>
    /// Makes this thread's (small, managed) owner now: a worker calls it as it starts, so its first work item
    /// allocates nothing on the GC heap (the buffer itself is native).
    /// </summary>
    public static void Prepare() => t_owner ??= new Owner();

    private sealed class Owner
    {
        private float* _floats;
        private long _length;

        public float* Get(long floats)
        {
            if (floats > _length)
            {
                NativeMemory.AlignedFree(_floats);
                _floats = null;
                _length = System.Math.Max(floats, 1 << 14);
                _floats = (float*)NativeMemory.AlignedAlloc((nuint)(_length * sizeof(float)), 64);
                // Kernels may read a vector past an item's last row (lanes never stored): zeros there, never
                // garbage that could be a slow subnormal.
                NativeMemory.Clear(_floats, (nuint)(_length * sizeof(float)));
            }
            return _floats;
        }

        ~Owner() => NativeMemory.AlignedFree(_floats);
    }
}
