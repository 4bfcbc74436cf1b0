using System.IO.Compression;
using System.Numerics;
using System.Text;

namespace Espnet.Compiled.Tests.Weights;

/// <summary>Writes pickle opcodes by hand, to build hostile or unusual .pth files the tests feed the reader.</summary>
internal sealed class PickleWriter
{
    private readonly MemoryStream _bytes = new();

    public byte[] ToArray() => _bytes.ToArray();

    public PickleWriter Op(char opcode) => Raw((byte)opcode);

    public PickleWriter Raw(params byte[] bytes)
    {
        _bytes.Write(bytes);
        return this;
    }

    public PickleWriter Proto(byte version = 2) => Raw(0x80, version);
    public PickleWriter Stop() => Op('.');
    public PickleWriter Mark() => Op('(');
    public PickleWriter Tuple() => Op('t');
    public PickleWriter EmptyTuple() => Op(')');
    public PickleWriter EmptyDict() => Op('}');
    public PickleWriter EmptyList() => Op(']');
    public PickleWriter SetItems() => Op('u');
    public PickleWriter Appends() => Op('e');
    public PickleWriter Reduce() => Op('R');
    public PickleWriter BinPersId() => Op('Q');
    public PickleWriter None() => Op('N');
    public PickleWriter False() => Raw(0x89);

    public PickleWriter Global(string module, string name) =>
        Op('c').Raw(Encoding.ASCII.GetBytes(module + "\n" + name + "\n"));

    public PickleWriter Str(string text)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(text);
        return Op('X').Raw(BitConverter.GetBytes((uint)utf8.Length)).Raw(utf8);
    }

    public PickleWriter Int(int value) => Op('J').Raw(BitConverter.GetBytes(value));

    public PickleWriter Long1(BigInteger value)
    {
        byte[] bytes = value.ToByteArray(isUnsigned: false, isBigEndian: false);
        return Raw(0x8a, (byte)bytes.Length).Raw(bytes);
    }

    public PickleWriter Ints(params int[] values)
    {
        Mark();
        foreach (int v in values) Int(v);
        return Tuple();
    }

    /// <summary>OrderedDict() — then items, then SETITEMS.</summary>
    public PickleWriter OrderedDict() => Global("collections", "OrderedDict").EmptyTuple().Reduce();

    /// <summary>A _rebuild_tensor_v2 call on a persistent storage reference, with optional legacy view metadata.</summary>
    public PickleWriter Tensor(string storageType, string key, int numel, int offset, int[] size, int[] stride,
        (string Key, int Offset, int Size)? view = null)
    {
        Global("torch._utils", "_rebuild_tensor_v2").Mark();
        Mark().Str("storage").Global("torch", storageType).Str(key).Str("cpu").Int(numel);
        if (view is { } v) Mark().Str(v.Key).Int(v.Offset).Int(v.Size).Tuple(); else None();
        Tuple().BinPersId();
        Int(offset).Ints(size).Ints(stride).False().OrderedDict();
        return Tuple().Reduce();
    }

    /// <summary>The three pickles that open torch.save's legacy layout: magic number, protocol 1001, system info.</summary>
    public static PickleWriter LegacyHeader() => new PickleWriter()
        .Proto().Long1(BigInteger.Parse("119547037146038801333356")).Stop()
        .Proto().Int(1001).Stop()
        .Proto().EmptyDict().Stop();

    /// <summary>Appends the storage key list and, per key, an int64 count and float32 data.</summary>
    public PickleWriter LegacyStorages(params (string Key, float[] Values)[] storages)
    {
        Proto().EmptyList().Mark();
        foreach (var (key, _) in storages) Str(key);
        Appends().Stop();
        foreach (var (_, values) in storages)
        {
            Raw(BitConverter.GetBytes((long)values.Length));
            foreach (float v in values) Raw(BitConverter.GetBytes(v));
        }
        return this;
    }

    /// <summary>A zip-layout .pth: archive/data.pkl plus archive/data/&lt;key&gt; entries.</summary>
    public static byte[] Zip(byte[] dataPkl, params (string Key, byte[] Bytes)[] storages)
    {
        var zipBytes = new MemoryStream();
        using (var zip = new ZipArchive(zipBytes, ZipArchiveMode.Create, leaveOpen: true))
        {
            Write(zip, "archive/data.pkl", dataPkl);
            foreach (var (key, bytes) in storages) Write(zip, "archive/data/" + key, bytes);
        }
        return zipBytes.ToArray();

        static void Write(ZipArchive zip, string name, byte[] bytes)
        {
            using Stream s = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
            s.Write(bytes);
        }
    }
}
