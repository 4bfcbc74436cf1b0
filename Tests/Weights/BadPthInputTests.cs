using System.Text;
using Espnet.Compiled.Tests.Support;
using Espnet.Compiled.Weights;

namespace Espnet.Compiled.Tests.Weights;

/// <summary>
/// Damaged, truncated, hostile and wrong-kind files: each must fail with a WeightFormatException whose one-line
/// message names the file, and never with another exception type.
/// </summary>
public class BadPthInputTests
{
    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "weights", name);

    private static string Fails(byte[] bytes, string name)
    {
        var e = Assert.Throws<WeightFormatException>(() => PthReader.Read(new MemoryStream(bytes), name));
        AssertOneLineNaming(e.Message, name);
        return e.Message;
    }

    private static void AssertOneLineNaming(string message, string name)
    {
        Assert.StartsWith(name + ": ", message);
        Assert.DoesNotContain('\n', message);
        Assert.DoesNotContain("   at ", message);
        Assert.DoesNotContain("Exception", message);
    }

    /// <summary>Reads and accepts success or a WeightFormatException; anything else fails with the case's description.</summary>
    private static void ReadsOrRejects(byte[] bytes, string name, string description)
    {
        try { PthReader.Read(new MemoryStream(bytes), name); }
        catch (WeightFormatException e) { AssertOneLineNaming(e.Message, name); }
        catch (Exception e) { Assert.Fail($"{description}: {e.GetType().Name}: {e.Message}"); }
    }

    [Fact]
    public void Empty_file_via_path()
    {
        string path = Path.Combine(Path.GetTempPath(), $"empty-{Guid.NewGuid():N}.pth");
        File.WriteAllBytes(path, []);
        try
        {
            var e = Assert.Throws<WeightFormatException>(() => PthReader.Read(path));
            AssertOneLineNaming(e.Message, Path.GetFileName(path));
            Assert.Contains("empty", e.Message);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Png_header()
    {
        byte[] png = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, (byte)'I', (byte)'H', (byte)'D', (byte)'R'];
        Assert.Contains("not a PyTorch weight file (starts with bytes 89 50 4E 47)", Fails(png, "cat.png"));
    }

    [Fact]
    public void Random_bytes_and_random_bytes_behind_valid_magic()
    {
        for (int seed = 0; seed < 200; seed++)
        {
            var random = new Random(seed);
            byte[] bytes = new byte[100];
            random.NextBytes(bytes);
            // Also steer into the pickle reader and the zip reader, where random bytes get furthest.
            if (seed % 3 == 1) { bytes[0] = 0x80; bytes[1] = 2; }
            if (seed % 3 == 2) { bytes[0] = (byte)'P'; bytes[1] = (byte)'K'; bytes[2] = 3; bytes[3] = 4; }
            var e = Record.Exception(() => PthReader.Read(new MemoryStream(bytes), "random.pth"));
            Assert.True(e is WeightFormatException, $"seed {seed}: {e?.GetType().Name ?? "no exception"}: {e?.Message}");
            AssertOneLineNaming(e!.Message, "random.pth");
        }
    }

    [Theory]
    [InlineData("tiny_legacy.pth")]
    [InlineData("tiny_zip.pth")]
    [InlineData("tiny_zip_proto4.pth")]
    public void Fixture_cut_at_every_position(string file)
    {
        byte[] bytes = File.ReadAllBytes(Fixture(file));
        for (int cut = 0; cut < bytes.Length; cut++)
        {
            var e = Record.Exception(() => PthReader.Read(new MemoryStream(bytes, 0, cut), file));
            Assert.True(e is WeightFormatException, $"cut at {cut}: {e?.GetType().Name ?? "no exception"}: {e?.Message}");
            AssertOneLineNaming(e!.Message, file);
        }
    }

    [Theory]
    [InlineData("tiny_legacy.pth")]
    [InlineData("tiny_zip.pth")]
    public void Fixture_with_corrupted_bytes(string file)
    {
        byte[] original = File.ReadAllBytes(Fixture(file));
        for (int seed = 0; seed < 400; seed++)
        {
            var random = new Random(seed);
            byte[] bytes = (byte[])original.Clone();
            var where = new List<string>();
            for (int i = random.Next(1, 4); i > 0; i--)
            {
                int at = random.Next(bytes.Length);
                bytes[at] = (byte)random.Next(256);
                where.Add($"{at}={bytes[at]:X2}");
            }
            ReadsOrRejects(bytes, file, $"seed {seed} ({string.Join(", ", where)})");
        }
    }

    [Fact]
    public void Real_file_truncated()
    {
        string path = SharedData.Require("weights/ESPNet/pretrained/decoder/espnet_p_2_q_3.pth");
        byte[] bytes = File.ReadAllBytes(path);
        foreach (int cut in new[] { 1, 10, 136, 500, 20_000, bytes.Length / 2, bytes.Length - 1 })
        {
            string message = Fails(bytes[..cut], "espnet_p_2_q_3.pth");
            Assert.Contains("truncated", message);
            Assert.Contains("fetch the file again", message);
            if (cut > 40_000) Assert.Contains("storage '", message); // past the pickles, inside the data
        }
    }

    [Theory]
    [InlineData("os", "system")]
    [InlineData("builtins", "eval")]
    [InlineData("torch.nn.modules.conv", "Conv2d")]
    public void Forbidden_global_in_legacy_file(string module, string name)
    {
        byte[] file = PickleWriter.LegacyHeader()
            .Proto().Global(module, name).Mark().Str("echo pwned").Tuple().Reduce().Stop().ToArray();
        string message = Fails(file, "evil.pth");
        Assert.Contains($"'{module}.{name}'", message);
        Assert.Contains("model.state_dict()", message);
    }

    [Fact]
    public void Forbidden_global_as_a_value_in_a_zip_file()
    {
        byte[] pickle = new PickleWriter()
            .Proto().OrderedDict().Mark().Str("net").Global("builtins", "eval").SetItems().Stop().ToArray();
        Assert.Contains("'builtins.eval'", Fails(PickleWriter.Zip(pickle), "evil_zip.pth"));
    }

    [Fact]
    public void Forbidden_stack_global_in_protocol_4()
    {
        byte[] pickle = new PickleWriter().Proto(4)
            .Raw(0x8c, 2).Raw(Encoding.ASCII.GetBytes("os")).Raw(0x8c, 6).Raw(Encoding.ASCII.GetBytes("system"))
            .Raw(0x93).Stop().ToArray();
        Assert.Contains("'os.system'", Fails(PickleWriter.Zip(pickle), "evil4.pth"));
    }

    [Fact]
    public void Object_construction_opcodes_are_refused()
    {
        // NEWOBJ (0x81) on an allowed class would still build an object: not an opcode a state_dict uses.
        byte[] file = PickleWriter.LegacyHeader()
            .Proto().Global("collections", "OrderedDict").EmptyTuple().Raw(0x81).Stop().ToArray();
        Assert.Contains("opcode 0x81", Fails(file, "newobj.pth"));
    }

    [Fact]
    public void Pickle_of_a_list()
    {
        byte[] legacy = PickleWriter.LegacyHeader().Proto().EmptyList().Mark().Int(1).Int(2).Appends().Stop().ToArray();
        Assert.Contains("holds a list, not a state_dict", Fails(legacy, "list.pth"));
        byte[] bare = new PickleWriter().Proto().EmptyList().Stop().ToArray();
        Assert.Contains("magic number", Fails(bare, "bare_list.pkl"));
    }

    [Fact]
    public void Non_tensor_value_in_the_state_dict()
    {
        byte[] file = PickleWriter.LegacyHeader()
            .Proto().OrderedDict().Mark()
            .Str("w").Tensor("FloatStorage", "k", 1, offset: 0, size: [], stride: [])
            .Str("epoch").Int(3)
            .SetItems().Stop()
            .LegacyStorages(("k", [1f]))
            .ToArray();
        Assert.Contains("an int under 'epoch'", Fails(file, "mixed.pth"));
    }

    [Fact]
    public void Wrapper_whose_state_dict_holds_a_non_tensor()
    {
        byte[] pickle = new PickleWriter()
            .Proto().EmptyDict().Mark().Str("state_dict").EmptyDict().Mark().Str("lr").Int(1).SetItems().SetItems()
            .Stop().ToArray();
        Assert.Contains("its 'state_dict' dict holds an int under 'lr'", Fails(PickleWriter.Zip(pickle), "ckpt.pth"));
    }

    [Theory]
    [InlineData(0, new[] { 3 }, new[] { 2 }, "reads outside its storage")]   // last index 4 of 4 elements
    [InlineData(3, new[] { 2 }, new[] { 1 }, "reads outside its storage")]   // offset 3 + 1
    [InlineData(0, new[] { 2, 2 }, new[] { 1 }, "2 sizes but 1 strides")]
    [InlineData(0, new[] { 2 }, new[] { -1 }, "negative stride")]
    [InlineData(-1, new[] { 1 }, new[] { 1 }, "negative storage offset")]
    public void Tensor_outside_its_storage(int offset, int[] size, int[] stride, string expected)
    {
        byte[] file = PickleWriter.LegacyHeader()
            .Proto().OrderedDict().Mark()
            .Str("w").Tensor("FloatStorage", "k", 4, offset, size, stride)
            .SetItems().Stop()
            .LegacyStorages(("k", [1f, 2f, 3f, 4f]))
            .ToArray();
        string message = Fails(file, "strided.pth");
        Assert.Contains("tensor 'w'", message);
        Assert.Contains(expected, message);
    }

    [Fact]
    public void Storage_count_disagreeing_with_the_pickle()
    {
        byte[] file = PickleWriter.LegacyHeader()
            .Proto().OrderedDict().Mark()
            .Str("w").Tensor("FloatStorage", "k", 4, offset: 0, size: [4], stride: [1])
            .SetItems().Stop()
            .LegacyStorages(("k", [1f, 2f, 3f]))
            .ToArray();
        Assert.Contains("storage 'k' has 3 elements in the file but 4 in the pickle", Fails(file, "count.pth"));
    }

    [Fact]
    public void Huge_declared_lengths_do_not_allocate()
    {
        // A BINUNICODE claiming 4 GB and a storage claiming 8 GB, in files of a few hundred bytes.
        byte[] hugeString = PickleWriter.LegacyHeader().Proto().Op('X').Raw(0xFF, 0xFF, 0xFF, 0xFF).Raw(1, 2, 3).ToArray();
        Assert.Contains("truncated", Fails(hugeString, "bigstr.pth"));

        byte[] hugeStorage = PickleWriter.LegacyHeader()
            .Proto().OrderedDict().Mark()
            .Str("w").Tensor("FloatStorage", "k", Array.MaxLength, offset: 0, size: [Array.MaxLength], stride: [1])
            .SetItems().Stop().ToArray();
        byte[] withCount = [.. hugeStorage, .. new PickleWriter().Proto().EmptyList().Mark().Str("k").Appends().Stop().ToArray(),
            .. BitConverter.GetBytes((long)Array.MaxLength), 1, 2, 3, 4];
        Assert.Contains("truncated: storage 'k'", Fails(withCount, "bigstorage.pth"));

        // Zero strides would let one stored value expand into billions.
        byte[] expanded = PickleWriter.LegacyHeader()
            .Proto().OrderedDict().Mark()
            .Str("w").Tensor("FloatStorage", "k", 1, offset: 0, size: [1 << 15, 1 << 15], stride: [0, 0])
            .SetItems().Stop()
            .LegacyStorages(("k", [1f]))
            .ToArray();
        Assert.Contains("expand", Fails(expanded, "expanded.pth"));
    }

    [Fact]
    public void Zip_without_data_pkl_and_torchscript_archive()
    {
        Assert.Contains("no <folder>/data.pkl", Fails(ZipWith(("readme.txt", [1, 2, 3])), "other.zip"));
        Assert.Contains("truncated: archive/data.pkl", Fails(PickleWriter.Zip([]), "empty_pickle.pth"));

        byte[] script = ZipWith(("model/data.pkl", [0x80, 2, (byte)'N', (byte)'.']), ("model/constants.pkl", [0x80, 2, (byte)'N', (byte)'.']));
        Assert.Contains("TorchScript", Fails(script, "scripted.pt"));
    }

    [Fact]
    public void Zip_storage_entry_missing_or_short()
    {
        byte[] pickle = new PickleWriter()
            .Proto().OrderedDict().Mark()
            .Str("w").Tensor("FloatStorage", "0", 4, offset: 0, size: [4], stride: [1])
            .SetItems().Stop().ToArray();
        Assert.Contains("no entry archive/data/0", Fails(PickleWriter.Zip(pickle), "missing.pth"));
        Assert.Contains("needs 16 bytes but archive/data/0 holds 8", Fails(PickleWriter.Zip(pickle, ("0", new byte[8])), "short.pth"));
    }

    [Fact]
    public void Zip_entry_failing_its_crc()
    {
        byte[] bytes = File.ReadAllBytes(Fixture("tiny_zip.pth"));
        byte[] bias = [.. BitConverter.GetBytes(0.5f), .. BitConverter.GetBytes(-1.5f)]; // conv.bias, tiny_zip/data/1
        bytes[bytes.AsSpan().IndexOf(bias)] ^= 1;
        Assert.Contains("tiny_zip/data/1 fails its CRC check", Fails(bytes, "tiny_zip.pth"));
    }

    /// <summary>A zip .pth whose storage entry inflates to 256 MB of zeros from about a quarter megabyte.</summary>
    private static byte[] ZeroBomb(int claimedElements, long entryBytes)
    {
        byte[] pickle = new PickleWriter()
            .Proto().OrderedDict().Mark()
            .Str("w").Tensor("FloatStorage", "0", claimedElements, offset: 0, size: [claimedElements], stride: [1])
            .SetItems().Stop().ToArray();
        using var memory = new MemoryStream();
        using (var zip = new System.IO.Compression.ZipArchive(memory, System.IO.Compression.ZipArchiveMode.Create, leaveOpen: true))
        {
            using (var s = zip.CreateEntry("archive/data.pkl", System.IO.Compression.CompressionLevel.NoCompression).Open()) s.Write(pickle);
            using (var s = zip.CreateEntry("archive/data/0", System.IO.Compression.CompressionLevel.SmallestSize).Open())
            {
                var zeros = new byte[1 << 20];
                for (long done = 0; done < entryBytes; done += zeros.Length) s.Write(zeros, 0, (int)Math.Min(zeros.Length, entryBytes - done));
            }
        }
        return memory.ToArray();
    }

    [Fact]
    public void A_zip_storage_larger_than_the_model_takes_is_refused_before_it_is_inflated()
    {
        const int claimed = 64 << 20; // 64 Mi floats = 256 MB
        byte[] bomb = ZeroBomb(claimed, 4L * claimed);
        Assert.True(bomb.Length < 1 << 20, $"the crafted file is {bomb.Length} bytes");
        var budget = new WeightBudget("a model", MaxTensorElements: 1 << 16, MaxStoredElements: 1 << 18);

        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<WeightFormatException>(() => PthReader.Read(new MemoryStream(bomb), "bomb.pth", budget));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        AssertOneLineNaming(e.Message, "bomb.pth");
        Assert.Contains($"tensor 'w' holds {claimed} values, more than any parameter of a model (65536)", e.Message);
        Assert.True(allocated < 16 << 20, $"refusing took {allocated} bytes");
    }

    [Fact]
    public void A_zip_entry_larger_than_its_storage_is_refused_unread()
    {
        // The pickle asks for 4 floats; the entry claims (and inflates to) 64 MB.
        byte[] bomb = ZeroBomb(4, 64L << 20);
        long before = GC.GetAllocatedBytesForCurrentThread();
        string message = Fails(bomb, "big_entry.pth");
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("archive/data/0 holds 67108864 bytes but storage '0' needs 16", message);
        Assert.True(allocated < 16 << 20, $"refusing took {allocated} bytes");
    }

    [Fact]
    public void Storages_beyond_the_models_total_are_refused()
    {
        byte[] pickle = new PickleWriter()
            .Proto().OrderedDict().Mark()
            .Str("a").Tensor("FloatStorage", "0", 1000, offset: 0, size: [1000], stride: [1])
            .Str("b").Tensor("FloatStorage", "1", 1000, offset: 0, size: [1000], stride: [1])
            .SetItems().Stop().ToArray();
        byte[] file = PickleWriter.Zip(pickle, ("0", new byte[4000]), ("1", new byte[4000]));
        var budget = new WeightBudget("tiny", MaxTensorElements: 1000, MaxStoredElements: 1500);
        var e = Assert.Throws<WeightFormatException>(() => PthReader.Read(new MemoryStream(file), "two.pth", budget));
        Assert.Contains("storage '1' (1000 values) would bring what the file stores to 2000 values, more than tiny takes (1500)", e.Message);
        Assert.Equal(2, PthReader.Read(new MemoryStream(file), "two.pth").Count);
    }

    private static byte[] ZipWith(params (string Name, byte[] Bytes)[] entries)
    {
        var bytes = new MemoryStream();
        using (var zip = new System.IO.Compression.ZipArchive(bytes, System.IO.Compression.ZipArchiveMode.Create, leaveOpen: true))
            foreach (var (name, content) in entries)
                using (Stream s = zip.CreateEntry(name).Open()) s.Write(content);
        return bytes.ToArray();
    }
}
