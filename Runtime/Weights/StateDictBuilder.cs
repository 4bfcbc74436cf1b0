namespace Espnet.Compiled.Weights;

/// <summary>Turns an unpickled object into a <see cref="StateDict"/>: picks the tensor dict and copies each tensor out.</summary>
internal static class StateDictBuilder
{
    /// <summary>Keys under which training checkpoints commonly keep the model's state_dict.</summary>
    private static readonly string[] WrapperKeys = ["state_dict", "model", "model_state_dict"];

    /// <summary>Tensors may overlap (tied weights, views), but not so much that a small file expands without bound.</summary>
    private const long OverlapFactor = 4, OverlapSlack = 1 << 20;

    /// <param name="data">Gives a storage's values, reading (and so validating) them on first use.</param>
    /// <param name="budget">When given, a tensor or storage larger than the model can take is refused before it is read.</param>
    public static StateDict Build(PyDict dict, Func<StorageRef, float[]> data, WeightBudget? budget = null)
    {
        var read = new HashSet<StorageRef>();
        long stored = 0, used = 0;
        var result = new StateDict();
        foreach (var (key, value) in dict.Items)
        {
            var tensor = (TensorRef)value!;
            var name = (string)key!;
            long elements = CheckBounds(name, tensor, out int[] shape);
            budget?.CheckTensor(name, elements);
            float[] values = [];
            if (elements > 0)
            {
                // Read the storage first: its size is then known to be backed by bytes in the file.
                StorageRef storage = tensor.Storage.Root;
                if (!read.Contains(storage)) budget?.CheckStored(storage.Key, stored, storage.Elements);
                float[] source = data(storage);
                if (read.Add(storage)) stored += storage.Elements;
                if ((used += elements) > stored * OverlapFactor + OverlapSlack)
                    throw new WeightFormatException(
                        $"the tensors would expand to {used} values from {stored} stored ones — the file is damaged or crafted.");
                values = Copy(tensor, (int)elements, source);
            }
            result.Add(name, new StoredTensor(shape, tensor.Storage.Root.DType, values));
        }
        return result;
    }

    private static bool IsTensorDict(PyDict dict) => dict.Items.All(kv => kv.Key is string && kv.Value is TensorRef);

    /// <summary>The dict of tensors: the top level itself, or a checkpoint's 'state_dict' / 'model' entry.</summary>
    public static PyDict Select(object? root)
    {
        if (root is not PyDict top)
            throw new WeightFormatException(
                $"the file holds {Py.Describe(root)}, not a state_dict — in Python, save `model.state_dict()` with torch.save.");
        if (IsTensorDict(top)) return top;
        foreach (string wrapper in WrapperKeys)
            if (top.Get(wrapper) is PyDict inner && IsTensorDict(inner)) return inner;

        // Blame the first non-tensor entry of the wrapped dict if there is one, else of the top level.
        string? wrapped = WrapperKeys.FirstOrDefault(w => top.Get(w) is PyDict);
        PyDict blamed = wrapped is null ? top : (PyDict)top.Get(wrapped)!;
        var (key, value) = blamed.Items.First(kv => kv.Key is not string || kv.Value is not TensorRef);
        string where = wrapped is null ? "the dict" : $"its {Py.Quote(wrapped)} dict";
        string what = key is string s
            ? $"{where} holds {Py.Describe(value)} under {Py.Quote(s)}, not a tensor"
            : $"{where} has a key of type {Py.TypeName(key)}, not str";
        throw new WeightFormatException(
            $"not a plain state_dict: {what} — in Python, save `model.state_dict()` with torch.save.");
    }

    /// <summary>Validates size, stride and offset against the storage window; returns the element count.</summary>
    private static long CheckBounds(string key, TensorRef t, out int[] shape)
    {
        WeightFormatException Bad(string problem) => new($"tensor {Py.Quote(key)} {problem} — the file is corrupt; fetch or export it again.");

        int rank = t.Size.Length;
        if (t.Stride.Length != rank) throw Bad($"has {rank} sizes but {t.Stride.Length} strides");
        if (t.Offset < 0) throw Bad($"has a negative storage offset {t.Offset}");
        shape = new int[rank];
        long elements = 1;
        for (int d = 0; d < rank; d++)
        {
            if (t.Size[d] < 0 || t.Size[d] > Array.MaxLength) throw Bad($"has an invalid size {t.Size[d]}");
            if (t.Stride[d] < 0) throw Bad($"has a negative stride {t.Stride[d]}");
            shape[d] = (int)t.Size[d];
            elements = t.Size[d] == 0 || elements == 0 ? 0
                : elements <= Array.MaxLength / t.Size[d] ? elements * t.Size[d]
                : throw Bad("has more elements than this reader supports");
        }
        if (elements == 0) return 0;

        // The last element read is at offset + sum((size - 1) * stride); each step is checked so nothing overflows.
        long window = t.Storage.Elements, last = t.Offset;
        for (int d = 0; d < rank && last < window; d++)
            if (t.Size[d] > 1)
                last = t.Stride[d] >= window ? window : last + (t.Size[d] - 1) * t.Stride[d];
        if (last >= window)
            throw Bad($"reads outside its storage {Py.Quote(t.Storage.Root.Key)} of {window} elements (size {Text(t.Size)}, stride {Text(t.Stride)}, offset {t.Offset})");
        return elements;
    }

    /// <summary>A contiguous row-major copy of the strided view.</summary>
    private static float[] Copy(TensorRef t, int elements, float[] source)
    {
        var values = new float[elements];
        long start = t.Storage.Offset + t.Offset;
        if (IsContiguous(t))
        {
            Array.Copy(source, start, values, 0, elements);
            return values;
        }
        int rank = t.Size.Length;
        var index = new long[rank];
        long at = start;
        for (int n = 0; n < elements; n++)
        {
            values[n] = source[at];
            for (int d = rank - 1; d >= 0; d--) // odometer: step the last axis, carry into earlier ones
            {
                at += t.Stride[d];
                if (++index[d] < t.Size[d]) break;
                at -= t.Stride[d] * t.Size[d];
                index[d] = 0;
            }
        }
        return values;
    }

    private static bool IsContiguous(TensorRef t)
    {
        long expected = 1;
        for (int d = t.Size.Length - 1; d >= 0; d--)
        {
            if (t.Size[d] != 1 && t.Stride[d] != expected) return false;
            expected *= t.Size[d];
        }
        return true;
    }

    private static string Text(long[] values) => "(" + string.Join(", ", values) + ")";
}
