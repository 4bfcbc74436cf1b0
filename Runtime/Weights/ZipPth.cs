using System.IO.Compression;
using System.Text;

namespace Espnet.Compiled.Weights;

/// <summary>
/// torch.save's zip layout (torch >= 1.6): &lt;archive&gt;/data.pkl holds the pickle, and each storage's raw
/// little-endian bytes are in &lt;archive&gt;/data/&lt;key&gt;. The archive folder is named after the saved file.
/// </summary>
internal static class ZipPth
{
    /// <summary>Deflate cannot expand data by more than about 1032:1; a larger claim is a lie.</summary>
    private const long MaxDeflateRatio = 1100;

    public static StateDict Read(Stream stream, WeightBudget? budget = null)
    {
        try
        {
            using var zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
            return Read(zip, stream.Length, budget);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or ArgumentException or NotSupportedException)
        {
            // System.IO.Compression's own complaints about a damaged archive.
            throw new WeightFormatException(
                $"damaged zip archive ({OneLine(e.Message)}) — the download may be incomplete; fetch the file again.");
        }
    }

    private static StateDict Read(ZipArchive zip, long archiveLength, WeightBudget? budget)
    {
        ZipArchiveEntry pickle = zip.Entries.FirstOrDefault(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal)
                                                                 && e.FullName.IndexOf('/') == e.FullName.Length - "/data.pkl".Length)
            ?? throw new WeightFormatException("a zip archive but not a PyTorch weight file: it has no <folder>/data.pkl entry.");
        string folder = pickle.FullName[..^"data.pkl".Length];
        if (zip.GetEntry(folder + "constants.pkl") is not null)
            throw new WeightFormatException(
                "a TorchScript archive (torch.jit.save), not a state_dict — in Python, save `model.state_dict()` with torch.save.");
        CheckByteOrder(zip.GetEntry(folder + "byteorder"), archiveLength);

        var input = new PthInput(new MemoryStream(ReadAll(pickle, archiveLength))) { Context = Py.Clean(pickle.FullName) };
        var storages = new StorageTable();
        PyDict tensors = StateDictBuilder.Select(Unpickler.Load(input, storages.Resolve));
        return StateDictBuilder.Build(tensors, storage => storage.Data ??= ReadStorage(zip, folder, storage, archiveLength), budget);
    }

    private static float[] ReadStorage(ZipArchive zip, string folder, StorageRef storage, long archiveLength)
    {
        string name = folder + "data/" + storage.Key;
        ZipArchiveEntry entry = zip.GetEntry(name)
            ?? throw new WeightFormatException($"damaged file: storage {Py.Quote(storage.Key)} has no entry {Py.Clean(name)} — fetch the file again.");
        long needed = storage.Elements * TorchStorages.ElementSize(storage.DType); // Elements <= Array.MaxLength
        if (CheckedLength(entry, archiveLength) < needed)
            throw new WeightFormatException(
                $"truncated: storage {Py.Quote(storage.Key)} needs {needed} bytes but {Py.Clean(name)} holds {entry.Length} — fetch the file again.");
        // torch.save writes a storage's bytes and nothing more: a larger entry is not inflated, whatever it claims.
        if (entry.Length > needed)
            throw new WeightFormatException(
                $"damaged file: {Py.Clean(name)} holds {entry.Length} bytes but storage {Py.Quote(storage.Key)} needs {needed} — fetch the file again.");
        return TorchStorages.ReadData(new MemoryStream(ReadAll(entry, archiveLength)), storage.DType, (int)storage.Elements);
    }

    private static void CheckByteOrder(ZipArchiveEntry? entry, long archiveLength)
    {
        if (entry is null) return; // written only by newer torch; older files are little-endian
        string order = Encoding.ASCII.GetString(ReadAll(entry, archiveLength, maxLength: 16)).Trim();
        if (order != "little")
            throw new WeightFormatException($"saved with byte order {Py.Quote(order)}, which this reader does not support — re-save it on a little-endian machine.");
    }

    private static byte[] ReadAll(ZipArchiveEntry entry, long archiveLength, long maxLength = int.MaxValue)
    {
        long length = CheckedLength(entry, archiveLength);
        if (length > maxLength)
            throw new WeightFormatException($"damaged file: {Py.Clean(entry.FullName)} claims {length} bytes — fetch the file again.");
        var bytes = new byte[length];
        using (Stream s = entry.Open()) s.ReadExactly(bytes);
        // System.IO.Compression does not check CRCs; torch does, so a flipped bit is caught here too.
        if (Crc32(bytes) != entry.Crc32)
            throw new WeightFormatException($"damaged file: {Py.Clean(entry.FullName)} fails its CRC check — fetch the file again.");
        return bytes;
    }

    private static readonly uint[] CrcTable = Enumerable.Range(0, 256).Select(n =>
    {
        uint c = (uint)n;
        for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        return c;
    }).ToArray();

    private static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFFu;
        foreach (byte b in data) crc = CrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return ~crc;
    }

    /// <summary>The entry's stated length, once it is plausible for an archive of this size.</summary>
    private static long CheckedLength(ZipArchiveEntry entry, long archiveLength)
    {
        bool plausible = entry.CompressedLength <= archiveLength
                         && entry.Length <= Math.Max(entry.CompressedLength, 1) * MaxDeflateRatio
                         && entry.Length <= Array.MaxLength;
        return plausible ? entry.Length
            : throw new WeightFormatException($"damaged zip archive: {Py.Clean(entry.FullName)} claims {entry.Length} bytes in a {archiveLength}-byte file — fetch the file again.");
    }

    private static string OneLine(string text) => text.ReplaceLineEndings(" ").Trim();
}
