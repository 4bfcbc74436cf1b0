using System.Threading;

namespace Espnet.Compiled.Cpu.Fast;

/// <summary>
/// An allocation-free parallel-for over independent work items, shared by the fast kernels. Each item is
/// computed whole by one thread, in the same order of arithmetic whichever thread takes it, so results are
/// bit-identical for any thread count. The calling thread works too and returns when every item is done.
/// <para>
/// Items are numbered in the order of the output they write (rows, pixel tiles), so the items split into one
/// contiguous range per thread, each thread taking its own first: thread t works on the same part of the map
/// in every call, and the rows one call writes are, mostly, read by the same core in the next (from its own
/// L2, not the other core's). A thread done with its range claims what is left of the others' (atomic
/// counters per range), so the load still evens out. Measured on ESP blocks: see docs/performance.md.
/// </para>
/// </summary>
public static unsafe class Workers
{
    private static readonly object s_gate = new();
    private static int s_threads = System.Environment.ProcessorCount;
    private static Thread[] s_helpers = System.Array.Empty<Thread>();
    private static readonly SemaphoreSlim s_start = new(0);

    private static delegate*<void*, int, void> s_body;
    private static void* s_state;
    private static int s_parts, s_pending, s_chunk;

    /// <summary>One thread's range of items: the next unclaimed and the end; one per 128 bytes (no false sharing).</summary>
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Explicit, Size = 128)]
    private struct Range
    {
        [System.Runtime.InteropServices.FieldOffset(0)] public int Next;
        [System.Runtime.InteropServices.FieldOffset(4)] public int End;
    }

    private static Range[] s_ranges = new Range[1];

    /// <summary>Threads the kernels use (the caller included); default: the machine's processors.</summary>
    public static int Threads
    {
        get => s_threads;
        set
        {
            if (value < 1) throw new System.ArgumentOutOfRangeException(nameof(value), value, "at least one thread");
            lock (s_gate) s_threads = value;
        }
    }

    /// <summary>Bytes the helper threads allocated while running work items, ever (a check that the kernels allocate nothing).</summary>
    public static long HelperAllocatedBytes => Interlocked.Read(ref s_helperAllocated);

    private static long s_helperAllocated;

    private const int SpinRounds = 200;

    /// <summary>
    /// Below this much work (multiply-adds or floats moved) a call runs on the calling thread: waking a helper
    /// costs about as much (ESPNetv2's 7x7 and 14x14 layers are hundreds of such calls).
    /// </summary>
    public const long SerialWork = 1 << 18;

    /// <summary>
    /// Runs body(state, i) for i in [0, items), spread over <see cref="Threads"/> threads when
    /// <paramref name="work"/> (an estimate of the call's multiply-adds or floats moved) is worth it.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void For(void* state, delegate*<void*, int, void> body, int items, long work)
    {
        if (items <= 0) return;
        // A call from inside a work item (a sample-parallel job whose items are whole convolutions) runs on its
        // thread: the pool is busy with the outer call (the caller holds the gate; Monitor would let it re-enter).
        if (s_threads == 1 || items == 1 || work < SerialWork || Monitor.IsEntered(s_gate))
        {
            for (int i = 0; i < items; i++) body(state, i);
            return;
        }
        // The pool serves one call at a time. Another thread's forward pass already using it: run this call on
        // the calling thread rather than queue (no waiting on a lock, which can allocate; same results).
        if (!Monitor.TryEnter(s_gate))
        {
            for (int i = 0; i < items; i++) body(state, i);
            return;
        }
        try
        {
            // Every helper takes part (with fewer items than threads some ranges are empty): a helper's range is
            // fixed by its index, whichever helper the semaphore wakes first.
            int parts = s_threads, helpers = parts - 1;
            EnsureHelpers(helpers);
            for (int t = 0; t < parts; t++)
            {
                s_ranges[t].Next = (int)((long)items * t / parts);
                s_ranges[t].End = (int)((long)items * (t + 1) / parts);
            }
            s_body = body;
            s_state = state;
            s_parts = parts;
            s_chunk = System.Math.Max(1, items / (16 * parts));
            s_pending = helpers;
            s_start.Release(helpers);
            try
            {
                Work(0);
            }
            finally
            {
                // Every helper released for this call decrements once, after its last item: only then is the
                // call done (and only then may the next call reset the shared state), even if an item threw here.
                // The wait is the tail of one item at most, so spin and yield rather than sleep.
                var spin = new SpinWait();
                while (Volatile.Read(ref s_pending) > 0) spin.SpinOnce(sleep1Threshold: -1);
                s_body = null;
                s_state = null;
            }
        }
        finally
        {
            Monitor.Exit(s_gate);
        }
    }

    // Optimised from the first call: a method promoted by tiered compilation mid-run can allocate on the caller.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static void Work(int self)
    {
        var body = s_body;
        void* state = s_state;
        int parts = s_parts, chunk = s_chunk, i;
        var ranges = s_ranges;
        // Its own range first, then the others' leftovers. Items are claimed a few at a time when there are many
        // (each claim is an atomic): about sixteen claims per range, so the last claims still even out the shares.
        for (int r = 0; r < parts; r++)
        {
            ref Range range = ref ranges[(self + r) % parts];
            int last = range.End;
            while ((i = Interlocked.Add(ref range.Next, chunk) - chunk) < last)
            {
                int end = System.Math.Min(last, i + chunk);
                for (; i < end; i++) body(state, i);
            }
        }
    }

    /// <summary>
    /// Makes now what a call would otherwise make the first time it needs it — the helper threads and their
    /// ranges for <see cref="Threads"/>, this thread's scratch owner — so that a forward pass whose first call
    /// ran on one thread only (the pool busy with another caller) allocates nothing later either. Cheap when done.
    /// </summary>
    public static void Prepare()
    {
        ThreadBuffer.Prepare();
        if (s_threads > 1 && (s_helpers.Length < s_threads - 1 || s_ranges.Length < s_threads) && Monitor.TryEnter(s_gate))
        {
            try { EnsureHelpers(s_threads - 1); }
            finally { Monitor.Exit(s_gate); }
        }
    }

    private static void EnsureHelpers(int wanted)
    {
        if (s_ranges.Length < wanted + 1) s_ranges = new Range[wanted + 1];
        if (s_helpers.Length >= wanted) return;
        var grown = new Thread[wanted];
        System.Array.Copy(s_helpers, grown, s_helpers.Length);
        for (int t = s_helpers.Length; t < wanted; t++)
        {
            int self = t + 1;
            grown[t] = new Thread(() => HelperLoop(self)) { IsBackground = true, Name = "espnet-worker-" + t };
            grown[t].Start();
        }
        s_helpers = grown;
    }

    private static void HelperLoop(int self)
    {
        ThreadBuffer.Prepare();
        while (true)
        {
            // A forward pass is a few hundred calls in a row: spin for a while (about 0.1 ms) before sleeping, so
            // the next call finds this helper awake instead of paying for a wake-up.
            for (int spin = 0; !s_start.Wait(0); spin++)
            {
                if (spin < SpinRounds) Thread.SpinWait(32);
                else
                {
                    s_start.Wait();
                    break;
                }
            }
            long before = System.GC.GetAllocatedBytesForCurrentThread();
            // A helper left over from a larger thread count (Threads lowered since) helps from another range.
            Work(self % s_parts);
            long allocated = System.GC.GetAllocatedBytesForCurrentThread() - before;
            if (allocated != 0) Interlocked.Add(ref s_helperAllocated, allocated);
            Interlocked.Decrement(ref s_pending);
        }
    }
}
