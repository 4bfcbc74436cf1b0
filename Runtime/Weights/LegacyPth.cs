using System.Numerics;

namespace Espnet.Compiled.Weights;

/// <summary>
/// torch.save's legacy (non-zip) layout: pickles of the magic number, the protocol version (1001), system
/// info and the object, then a pickle of the storage keys, then for each key in that order an int64 element
/// count and the storage's raw little-endian bytes.
/// </summary>
internal static class LegacyPth
{
    private static readonly BigInteger Magic = BigInteger.Parse("119547037146038801333356"); // 0x1950a86a20f9469cfc6c
    private const long ProtocolVersion = 1001;

    public static StateDict Read(PthInput input, WeightBudget? budget = null)
    {
        input.Context = "the header";
        object? magic = Unpickler.Load(input);
        if (!(magic is BigInteger m && m == Magic))
            throw new WeightFormatException(
                "not a PyTorch weight file: a Python pickle without torch.save's magic number — in Python, save `model.state_dict()` with torch.save.");
        if (Unpickler.Load(input) is not ProtocolVersion)
            throw new WeightFormatException("unsupported torch.save protocol version (only 1001 is known) — re-save the file with a current torch.");
        if (Unpickler.Load(input) is PyDict sysInfo && sysInfo.Get("little_endian") is false)
            throw new WeightFormatException("saved on a big-endian machine, which this reader does not support — re-save it on a little-endian one.");

        input.Context = "the state-dict pickle";
        var storages = new StorageTable();
        PyDict tensors = StateDictBuilder.Select(Unpickler.Load(input, storages.Resolve));

        input.Context = "the storage key list";
        if (Unpickler.Load(input) is not PyList keys || keys.Any(k => k is not string))
            throw new WeightFormatException("damaged file: the storage key list is not a list of strings — fetch the file again.");
        foreach (string key in keys.Cast<string>())
            ReadStorage(input, storages, key);

        return StateDictBuilder.Build(tensors, storage => storage.Data ?? throw new WeightFormatException(
            $"damaged file: storage {Py.Quote(storage.Key)} is used by a tensor but has no data — fetch the file again."), budget);
    }

    private static void ReadStorage(PthInput input, StorageTable storages, string key)
    {
        if (!storages.ByKey.TryGetValue(key, out StorageRef? storage))
            throw new WeightFormatException($"damaged file: the storage key list names {Py.Quote(key)}, which no tensor uses — fetch the file again.");
        if (storage.Data is not null)
            throw new WeightFormatException($"damaged file: the storage key list names {Py.Quote(key)} twice — fetch the file again.");
        int size = TorchStorages.ElementSize(storage.DType);
        input.Context = $"storage {Py.Quote(key)}";
        long count = input.ReadInt64();
        if (count != storage.Elements)
            throw new WeightFormatException(
                $"damaged file: storage {Py.Quote(key)} has {count} elements in the file but {storage.Elements} in the pickle — fetch the file again.");
        // Elements <= Array.MaxLength (checked when the pickle named it), so the product cannot overflow.
        input.Need(count * size);
        storage.Data = TorchStorages.ReadData(input.Stream, storage.DType, (int)count);
    }
}
