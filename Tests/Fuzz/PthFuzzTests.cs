using System.IO.Compression;
using Espnet.Compiled.Weights;

namespace Espnet.Compiled.Tests.Fuzz;

/// <summary>
/// Mutated weight files through the reader: bit flips, truncations, overwritten runs, inflated length fields in
/// zip headers, zip bombs. Every one either reads or fails with a <see cref="WeightFormatException"/> naming the
/// file — no other exception, no hang, and no more memory than a small multiple of the file and the budget.
/// Fixed seed; the counts are printed.
/// </summary>
public sealed class PthFuzzTests(ITestOutputHelper output)
{
    private const int Seed = 20261202;
    private const int Cases = 2400;

    /// <summary>What the test allows one read to allocate: the budget's floats twice over, plus the file's size several times.</summary>
    private static long AllocationBound(int fileLength, WeightBudget budget) => 8 * budget.MaxStoredElements + 16L * fileLength + (8 << 20);

    [Fact]
    public async Task Mutated_pth_files_never_crash_hang_or_take_unbounded_memory()
    {
        var seeds = new List<(string Name, byte[] Bytes)>();
        foreach (string name in new[] { "tiny_legacy.pth", "tiny_zip.pth", "tiny_wrapped_zip.pth", "tiny_zip_proto4.pth" })
            seeds.Add((name, File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Fixtures", "weights", name))));
        using (var builtin = typeof(Espnet.Compiled.Cli.UsageException).Assembly.GetManifestResourceStream("builtin/espnet_p_2_q_3.pth")!)
        {
            var copy = new MemoryStream();
            builtin.CopyTo(copy);
            seeds.Add(("espnet_p_2_q_3.pth", copy.ToArray()));
        }
        // A budget the size of the largest seed's contents (ESPNet p2q3: 0.2 M parameters).
        var budget = new WeightBudget("the fuzz model", MaxTensorElements: 1 << 16, MaxStoredElements: 1 << 19);

        var rng = new Random(Seed);
        int read = 0, refused = 0;
        long worst = 0;
        var kinds = new Dictionary<string, int>();
        for (int n = 0; n < Cases; n++)
        {
            // The large seed is slow to mutate and read: one case in ten uses it.
            var (name, original) = n % 10 == 9 ? seeds[^1] : seeds[rng.Next(seeds.Count - 1)];
            var (kind, bytes) = Mutate(rng, original);
            kinds[kind] = kinds.GetValueOrDefault(kind) + 1;
            string label = $"case {n} ({kind} of {name}, seed {Seed})";

            var reader = Task.Run(() =>
            {
                long start = GC.GetAllocatedBytesForCurrentThread();
                try
                {
                    PthReader.Read(new MemoryStream(bytes), "fuzz.pth", budget);
                    return (Ok: true, Error: (Exception?)null, Allocated: GC.GetAllocatedBytesForCurrentThread() - start);
                }
                catch (Exception e)
                {
                    return (Ok: false, Error: e, Allocated: GC.GetAllocatedBytesForCurrentThread() - start);
                }
            }, TestContext.Current.CancellationToken);
            var first = await Task.WhenAny(reader, Task.Delay(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
            Assert.True(first == reader, $"{label}: the reader hung");
            var (ok, error, allocated) = await reader;
            if (ok) read++;
            else
            {
                Assert.True(error is WeightFormatException, $"{label}: {error!.GetType().Name}: {error.Message}");
                Assert.StartsWith("fuzz.pth: ", error.Message);
                Assert.DoesNotContain('\n', error.Message);
                refused++;
            }
            worst = Math.Max(worst, allocated);
            Assert.True(allocated <= AllocationBound(bytes.Length, budget), $"{label}: the read allocated {allocated} bytes");
        }
        output.WriteLine($"{Cases} mutated .pth files (seed {Seed}): {read} read, {refused} refused with a one-line error, 0 crashes, 0 hangs; " +
                         $"largest allocation {worst / 1e6:F1} MB; mutations: {string.Join(", ", kinds.OrderBy(k => k.Key).Select(k => $"{k.Key} {k.Value}"))}");
        Assert.True(read > 0 && refused > Cases / 2, $"read {read}, refused {refused}");
    }

    private static (string Kind, byte[] Bytes) Mutate(Random rng, byte[] original)
    {
        byte[] b = (byte[])original.Clone();
        switch (rng.Next(7))
        {
            case 0:
            {
                int flips = 1 + rng.Next(8);
                for (int i = 0; i < flips; i++) b[rng.Next(b.Length)] ^= (byte)(1 << rng.Next(8));
                return ("bit flips", b);
            }
            case 1:
                return ("truncation", b[..rng.Next(b.Length)]);
            case 2:
            {
                int at = rng.Next(b.Length), length = Math.Min(b.Length - at, 1 + rng.Next(64));
                rng.NextBytes(b.AsSpan(at, length));
                return ("overwritten run", b);
            }
            case 3:
            {
                // A 32-bit field near a zip header or a pickle length set to a large or hostile value.
                int at = FindHeader(rng, b);
                uint value = (uint)rng.Next(4) switch { 0 => 0xFFFFFFFFu, 1 => 0x7FFFFFFFu, 2 => (uint)rng.Next(), _ => (uint)(b.Length * 1000) };
                if (at + 4 <= b.Length) BitConverter.TryWriteBytes(b.AsSpan(at, 4), value);
                return ("inflated length", b);
            }
            case 4:
                return ("zip bomb", Bombs.Value[rng.Next(Bombs.Value.Length)]);
            case 5:
            {
                // A repeated slice: lengths that point into the wrong place.
                int at = rng.Next(b.Length), length = Math.Min(b.Length - at, 1 + rng.Next(256));
                var slice = b.AsSpan(at, length).ToArray();
                return ("duplicated slice", [.. b[..at], .. slice, .. b[at..]]);
            }
            default:
            {
                int at = rng.Next(b.Length);
                b[at] = (byte)rng.Next(256);
                return ("byte set", b);
            }
        }
    }

    /// <summary>An offset at a zip local or central header's size fields, or anywhere.</summary>
    private static int FindHeader(Random rng, byte[] b)
    {
        var headers = new List<int>();
        for (int i = 0; i + 30 < b.Length; i++)
            if (b[i] == 'P' && b[i + 1] == 'K' && (b[i + 2] == 3 || b[i + 2] == 1)) headers.Add(i);
        if (headers.Count == 0) return rng.Next(Math.Max(1, b.Length - 4));
        int h = headers[rng.Next(headers.Count)];
        // Local header: compressed size at +18, uncompressed at +22; central: +20, +24.
        return h + (b[h + 2] == 3 ? Pick(rng, 18, 22, 26, 28) : Pick(rng, 20, 24, 28, 30, 42));
    }

    /// <summary>Zip .pth files whose one storage entry inflates far beyond what the pickle asks for, or asks for a lot (made once).</summary>
    private static readonly Lazy<byte[][]> Bombs = new(() =>
    [
        ZipBomb(4, 32L << 20), ZipBomb(1 << 16, 32L << 20), ZipBomb(1 << 24, 64L << 20), ZipBomb(int.MaxValue / 8, 1L << 20),
        ZipBomb(1 << 24, 4L << 24),
    ]);

    private static byte[] ZipBomb(int claimed, long bytes)
    {
        byte[] pickle = new Weights.PickleWriter()
            .Proto().OrderedDict().Mark()
            .Str("w").Tensor("FloatStorage", "0", claimed, offset: 0, size: [claimed], stride: [1])
            .SetItems().Stop().ToArray();
        using var memory = new MemoryStream();
        using (var zip = new ZipArchive(memory, ZipArchiveMode.Create, leaveOpen: true))
        {
            using (var s = zip.CreateEntry("archive/data.pkl", CompressionLevel.NoCompression).Open()) s.Write(pickle);
            using (var s = zip.CreateEntry("archive/data/0", CompressionLevel.Fastest).Open())
            {
                var zeros = new byte[1 << 20];
                for (long done = 0; done < bytes; done += zeros.Length) s.Write(zeros, 0, (int)Math.Min(zeros.Length, bytes - done));
            }
        }
        return memory.ToArray();
    }

    private static T Pick<T>(Random rng, params T[] values) => values[rng.Next(values.Length)];
}
