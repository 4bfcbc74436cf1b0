using System.Threading;

namespace Espnet.Compiled.Cpu.Fast;

/// <summary>
/// An allocation-free parallel-for over independent work items, shared by the fast kernels. Each item is
/// computed whole by one thread, in the same order of arithmetic whichever thread takes it, so results are
/// bit-identical for any thread count. Items are claimed with an atomic counter (load balance without
/// a schedule); the calling thread works too and returns when every item is done.
/// </summary>
public static unsafe class Workers
{
    private static readonly object s_gate = new();
    private static int s_threads = System.Environment.ProcessorCount;
    private static Thread[] s_helpers = System.Array.Empty<Thread>();
    private static readonly SemaphoreSlim s_start = new(0);

    private static delegate*<void*, int, void> s_body;
    private static void* s_state;
    private static int s_items, s_next, s_pending, s_chunk;

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
            int helpers = System.Math.Min(s_threads, items) - 1;
            EnsureHelpers(s_threads - 1);
            s_body = body;
            s_state = state;
            s_items = items;
            s_chunk = System.Math.Max(1, items / (16 * (helpers + 1)));
            s_next = 0;
            s_pending = helpers;
            s_start.Release(helpers);
            try
            {
                Work();
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
    private static void Work()
    {
        var body = s_body;
        void* state = s_state;
        int items = s_items, chunk = s_chunk, i;
        // Items are claimed a few at a time when there are many (each claim is an atomic on a line the threads
        // share): about sixteen claims per thread, so the last claims still even out the threads' shares.
        while ((i = Interlocked.Add(ref s_next, chunk) - chunk) < items)
        {
            int end = System.Math.Min(items, i + chunk);
            for (; i < end; i++) body(state, i);
        }
    }

    private static void EnsureHelpers(int wanted)
    {
        if (s_helpers.Length >= wanted) return;
        var grown = new Thread[wanted];
        System.Array.Copy(s_helpers, grown, s_helpers.Length);
        for (int t = s_helpers.Length; t < wanted; t++)
        {
            grown[t] = new Thread(HelperLoop) { IsBackground = true, Name = "espnet-worker-" + t };
            grown[t].Start();
        }
        s_helpers = grown;
    }

    private static void HelperLoop()
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
            Work();
            long allocated = System.GC.GetAllocatedBytesForCurrentThread() - before;
            if (allocated != 0) Interlocked.Add(ref s_helperAllocated, allocated);
            Interlocked.Decrement(ref s_pending);
        }
    }
}
