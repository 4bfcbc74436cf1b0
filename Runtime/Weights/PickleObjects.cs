using System.Numerics;

namespace Espnet.Compiled.Weights;

// The few Python values a state_dict pickle can hold. Plain values map to .NET types:
// None -> null, bool, int -> long (BigInteger when wider), float -> double, str -> string,
// bytes -> byte[], tuple -> object?[]; the classes below cover the rest.

/// <summary>A Python list (also stands in for a set: only its presence matters here).</summary>
internal sealed class PyList : List<object?>;

/// <summary>A Python dict or OrderedDict: insertion-ordered, a later SETITEM on a key replaces its value.</summary>
internal sealed class PyDict
{
    private readonly List<KeyValuePair<object?, object?>> _items = new();
    private readonly Dictionary<string, int> _stringKeys = new(StringComparer.Ordinal);

    public IReadOnlyList<KeyValuePair<object?, object?>> Items => _items;

    public void Set(object? key, object? value)
    {
        if (key is string s)
        {
            if (_stringKeys.TryGetValue(s, out int at)) { _items[at] = new(key, value); return; }
            _stringKeys[s] = _items.Count;
        }
        _items.Add(new(key, value));
    }

    public object? Get(string key) => _stringKeys.TryGetValue(key, out int at) ? _items[at].Value : null;
}

/// <summary>One of the allow-listed callables a REDUCE may apply.</summary>
internal enum PyCallable { OrderedDict, RebuildTensor, RebuildTensorV2, RebuildParameter, TorchSize }

/// <summary>A GLOBAL naming a torch storage class, e.g. torch.FloatStorage; appears inside persistent ids.</summary>
internal sealed record StorageType(string Name, StoredDType DType);

/// <summary>A storage the pickle refers to by key; its data is read separately (legacy: after the pickles; zip: an entry).</summary>
internal sealed class StorageRef(string key, StoredDType dtype, long elements)
{
    public string Key { get; } = key;
    public StoredDType DType { get; } = dtype;
    public long Elements { get; } = elements;
    /// <summary>The whole storage converted to float, once read.</summary>
    public float[]? Data { get; set; }
}

/// <summary>A window of a storage: the whole of it, or a legacy storage view (view_metadata).</summary>
internal sealed record StorageSlice(StorageRef Root, long Offset, long Elements);

/// <summary>A tensor as the pickle describes it: a strided window of a storage, not yet read.</summary>
internal sealed record TensorRef(StorageSlice Storage, long Offset, long[] Size, long[] Stride);

internal static class Py
{
    /// <summary>A string from the file, made safe for a one-line message: control characters escaped, length capped.</summary>
    public static string Clean(string text)
    {
        const int MaxChars = 120;
        var sb = new System.Text.StringBuilder();
        foreach (char c in text.Length > MaxChars ? text[..MaxChars] : text)
            sb.Append(char.IsControl(c) ? $"\\x{(int)c:x2}" : c.ToString());
        return text.Length > MaxChars ? sb.Append('…').ToString() : sb.ToString();
    }

    /// <summary><see cref="Clean"/> in single quotes, as Python prints a str.</summary>
    public static string Quote(string text) => "'" + Clean(text) + "'";

    /// <summary>"a list", "an int", "None": a value's type for error messages.</summary>
    public static string Describe(object? value)
    {
        string name = TypeName(value);
        return value is null ? name : ("aeiou".Contains(name[0]) ? "an " : "a ") + name;
    }

    /// <summary>The Python type name of a value, for error messages (never recurses into containers).</summary>
    public static string TypeName(object? value) => value switch
    {
        null => "None",
        bool => "bool",
        long or BigInteger => "int",
        double => "float",
        string => "str",
        byte[] => "bytes",
        object?[] => "tuple",
        PyList => "list",
        PyDict => "dict",
        TensorRef => "tensor",
        StorageSlice => "storage",
        StorageType t => "torch." + t.Name,
        PyCallable c => c.ToString(),
        _ => value.GetType().Name,
    };
}
