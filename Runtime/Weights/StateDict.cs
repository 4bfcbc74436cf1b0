namespace Espnet.Compiled.Weights;

/// <summary>Element type of a stored tensor.</summary>
public enum StoredDType { Float32, Float64, Float16, Int64, Int32, UInt8, Bool, BFloat16, Int16, Int8 }

/// <summary>One tensor read from a weight file, converted to float32 where it is floating point.</summary>
public sealed class StoredTensor(int[] shape, StoredDType dtype, float[] values)
{
    public int[] Shape { get; } = shape;
    /// <summary>The dtype in the file.</summary>
    public StoredDType DType { get; } = dtype;
    /// <summary>Values in row-major order, converted to float32 (integers too, e.g. num_batches_tracked).</summary>
    public float[] Values { get; } = values;
    public int Elements => Values.Length;
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}

/// <summary>An ordered map from state_dict key to tensor, as a .pth file holds it.</summary>
public sealed class StateDict
{
    private readonly List<string> _order = new();
    private readonly Dictionary<string, StoredTensor> _tensors = new(StringComparer.Ordinal);

    public IReadOnlyList<string> Keys => _order;
    public int Count => _order.Count;
    public StoredTensor this[string key] => _tensors[key];
    public bool TryGet(string key, out StoredTensor tensor) => _tensors.TryGetValue(key, out tensor!);

    public void Add(string key, StoredTensor tensor)
    {
        if (!_tensors.TryAdd(key, tensor))
            throw new WeightFormatException($"the key '{key}' occurs twice");
        _order.Add(key);
    }
}

/// <summary>A weight file that cannot be read: malformed, truncated, or not a state_dict.</summary>
public sealed class WeightFormatException(string message) : Exception(message);

/// <summary>A readable state_dict that does not fit the model: keys missing, unexpected or mis-shaped.</summary>
public sealed class WeightLoadException(string message) : Exception(message);
