using Espnet.Compiled.Cpu.Fast;

namespace Espnet.Compiled.Tests.Kernels;

/// <summary>
/// The parallel-for: every item runs exactly once whatever the thread and item counts, including when one
/// thread's range is slow and the others take what is left of it.
/// </summary>
[Collection(nameof(KernelSettings))]
public sealed unsafe class WorkersTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(5)]
    public void Every_item_runs_exactly_once(int threads)
    {
        using (KernelSettings.Threads(threads))
            foreach (int items in new[] { 1, 2, 3, 4, 7, 16, 33, 100, 1000, 4099 })
            {
                var counts = new int[items];
                fixed (int* p = counts) Workers.For(p, &Count, items, work: long.MaxValue);
                int wrong = Array.FindIndex(counts, c => c != 1);
                Assert.True(wrong < 0, $"{threads} threads, {items} items: item {wrong} ran {(wrong < 0 ? 1 : counts[wrong])} times");
            }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void A_slow_range_is_shared_out_and_still_run_once(int threads)
    {
        // The first range's items are slow (about 50 us each): the other threads finish theirs and take from it.
        const int items = SlowItems;
        using (KernelSettings.Threads(threads))
        {
            var counts = new int[items + 1];
            counts[items] = items / threads;   // the slow items: the first range
            fixed (int* p = counts) Workers.For(p, &CountSlowFirst, items, work: long.MaxValue);
            int wrong = Array.FindIndex(counts, 0, items, c => c != 1);
            Assert.True(wrong < 0, $"{threads} threads: item {wrong} ran {(wrong < 0 ? 1 : counts[wrong])} times");
        }
    }

    private const int SlowItems = 96;

    private static void Count(void* state, int item) => Interlocked.Increment(ref ((int*)state)[item]);

    private static void CountSlowFirst(void* state, int item)
    {
        int* counts = (int*)state;
        if (item < counts[SlowItems]) Thread.SpinWait(20_000);
        Interlocked.Increment(ref counts[item]);
    }
}
