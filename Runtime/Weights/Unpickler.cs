using System.Numerics;
using System.Text;

namespace Espnet.Compiled.Weights;

/// <summary>
/// A restricted pickle reader: the opcodes of protocols 2–4 that plain data needs, GLOBAL only for an
/// allow-list of torch's tensor-rebuild functions, storage classes and OrderedDict, and REDUCE only on
/// those. A pickle can name any Python callable, so nothing outside the list is ever looked up or built.
/// </summary>
internal sealed class Unpickler
{
    private const int MaxGlobalNameBytes = 256;

    private static readonly Dictionary<string, PyCallable> Callables = new(StringComparer.Ordinal)
    {
        ["collections OrderedDict"] = PyCallable.OrderedDict,
        ["torch._utils _rebuild_tensor"] = PyCallable.RebuildTensor,
        ["torch._utils _rebuild_tensor_v2"] = PyCallable.RebuildTensorV2,
        ["torch._utils _rebuild_parameter"] = PyCallable.RebuildParameter,
        ["torch Size"] = PyCallable.TorchSize,
    };

    private readonly PthInput _in;
    private readonly Func<object?, object?>? _persistentLoad;
    private readonly List<object?> _stack = new();
    private readonly Stack<int> _marks = new();          // stack heights at each MARK
    private readonly Dictionary<long, object?> _memo = new();
    private long _opAt;                                    // offset of the opcode being run, for messages

    private Unpickler(PthInput input, Func<object?, object?>? persistentLoad)
    {
        _in = input;
        _persistentLoad = persistentLoad;
    }

    /// <summary>Reads one pickle, up to and including its STOP; the input is left just after it.</summary>
    public static object? Load(PthInput input, Func<object?, object?>? persistentLoad = null) =>
        new Unpickler(input, persistentLoad).Run();

    private object? Run()
    {
        while (true)
        {
            _opAt = _in.Position;
            byte op = _in.ReadByte();
            switch (op)
            {
                case 0x80: // PROTO
                {
                    byte protocol = _in.ReadByte();
                    if (protocol > 5) throw Malformed($"unknown pickle protocol {protocol}");
                    break;
                }
                case 0x95: // FRAME: only a length hint, but it must fit in what is left
                {
                    long frame = _in.ReadInt64();
                    if (frame < 0) throw Malformed($"negative frame length {frame}");
                    _in.Need(frame);
                    break;
                }
                case (byte)'.': return Pop(); // STOP

                case (byte)'c': Push(Global(ReadLine(), ReadLine())); break;
                case 0x93: // STACK_GLOBAL
                {
                    object? name = Pop(), module = Pop();
                    if (module is not string m || name is not string n) throw Malformed("STACK_GLOBAL without two strings");
                    Push(Global(m, n));
                    break;
                }
                case (byte)'R': { object? args = Pop(); Push(Reduce(Pop(), args)); break; }
                case (byte)'b': Build(Pop(), Peek()); break;
                case (byte)'Q': Push(PersistentLoad(Pop())); break;

                case (byte)'(': _marks.Push(_stack.Count); break;
                case (byte)'t': Push(PopMark()); break;
                case 0x85: Push(new[] { Pop() }); break;
                case 0x86: { object? b = Pop(), a = Pop(); Push(new[] { a, b }); break; }
                case 0x87: { object? c = Pop(), b = Pop(), a = Pop(); Push(new[] { a, b, c }); break; }
                case (byte)')': Push(Array.Empty<object?>()); break;

                case (byte)'}': Push(new PyDict()); break;
                case (byte)'d': { var dict = new PyDict(); SetItems(dict, PopMark()); Push(dict); break; }
                case (byte)'s': { object? value = Pop(), key = Pop(); AsDict(Peek()).Set(key, value); break; }
                case (byte)'u': { object?[] items = PopMark(); SetItems(AsDict(Peek()), items); break; }

                case (byte)']': Push(new PyList()); break;
                case (byte)'l': { var list = new PyList(); list.AddRange(PopMark()); Push(list); break; }
                case (byte)'a': { object? value = Pop(); AsList(Peek()).Add(value); break; }
                case (byte)'e': { object?[] items = PopMark(); AsList(Peek()).AddRange(items); break; }
                case 0x8f: Push(new PyList()); break;                                 // EMPTY_SET
                case 0x90: { object?[] items = PopMark(); AsList(Peek()).AddRange(items); break; } // ADDITEMS
                case 0x91: { var set = new PyList(); set.AddRange(PopMark()); Push(set); break; } // FROZENSET

                case (byte)'X': Push(ReadUtf8(_in.ReadUInt32())); break;             // BINUNICODE
                case 0x8c: Push(ReadUtf8(_in.ReadByte())); break;                     // SHORT_BINUNICODE
                case 0x8d: Push(ReadUtf8(_in.ReadInt64())); break;                    // BINUNICODE8
                case (byte)'U': Push(Encoding.Latin1.GetString(_in.ReadBytes(_in.ReadByte()))); break; // SHORT_BINSTRING
                case (byte)'T': Push(Encoding.Latin1.GetString(ReadCounted(_in.ReadInt32()))); break;  // BINSTRING
                case (byte)'C': Push(_in.ReadBytes(_in.ReadByte())); break;           // SHORT_BINBYTES
                case (byte)'B': Push(ReadCounted(_in.ReadUInt32())); break;           // BINBYTES
                case 0x8e: Push(ReadCounted(_in.ReadInt64())); break;                 // BINBYTES8

                case (byte)'J': Push((long)_in.ReadInt32()); break;                   // BININT
                case (byte)'K': Push((long)_in.ReadByte()); break;                    // BININT1
                case (byte)'M': Push((long)_in.ReadUInt16()); break;                  // BININT2
                case 0x8a: Push(ReadLong(_in.ReadByte())); break;                     // LONG1
                case 0x8b: Push(ReadLong(_in.ReadInt32())); break;                    // LONG4
                case (byte)'G': Push(_in.ReadDoubleBigEndian()); break;              // BINFLOAT
                case (byte)'N': Push(null); break;
                case 0x88: Push(true); break;
                case 0x89: Push(false); break;

                case (byte)'q': _memo[_in.ReadByte()] = Peek(); break;               // BINPUT
                case (byte)'r': _memo[_in.ReadUInt32()] = Peek(); break;             // LONG_BINPUT
                case 0x94: _memo[_memo.Count] = Peek(); break;                        // MEMOIZE
                case (byte)'h': Push(MemoGet(_in.ReadByte())); break;                 // BINGET
                case (byte)'j': Push(MemoGet(_in.ReadUInt32())); break;               // LONG_BINGET

                case (byte)'0': Pop(); break;                                         // POP
                case (byte)'1': PopMark(); break;                                     // POP_MARK
                case (byte)'2': Push(Peek()); break;                                  // DUP

                default:
                    throw Malformed($"pickle opcode 0x{op:X2} is not one a state_dict uses");
            }
        }
    }

    private WeightFormatException Malformed(string problem) => new(
        $"damaged pickle in {_in.Context} at byte {_opAt}: {problem} — the file is corrupt or not a " +
        "PyTorch state_dict; fetch or export it again.");

    private int Fence => _marks.Count > 0 ? _marks.Peek() : 0;

    private void Push(object? value) => _stack.Add(value);

    private object? Pop()
    {
        if (_stack.Count <= Fence) throw Malformed("stack underflow");
        object? top = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return top;
    }

    private object? Peek() => _stack.Count > Fence ? _stack[^1] : throw Malformed("stack underflow");

    private object?[] PopMark()
    {
        if (_marks.Count == 0) throw Malformed("no MARK to pop to");
        int mark = _marks.Pop();
        object?[] items = _stack.GetRange(mark, _stack.Count - mark).ToArray();
        _stack.RemoveRange(mark, items.Length);
        return items;
    }

    private object? MemoGet(long index) =>
        _memo.TryGetValue(index, out object? value) ? value : throw Malformed($"memo entry {index} was never stored");

    private PyDict AsDict(object? value) => value as PyDict ?? throw Malformed($"SETITEM on {Py.Describe(value)}");

    private PyList AsList(object? value) => value as PyList ?? throw Malformed($"APPEND on {Py.Describe(value)}");

    private void SetItems(PyDict dict, object?[] items)
    {
        if (items.Length % 2 != 0) throw Malformed("odd number of dict items");
        for (int i = 0; i < items.Length; i += 2) dict.Set(items[i], items[i + 1]);
    }

    private string ReadLine()
    {
        var bytes = new List<byte>();
        for (byte b = _in.ReadByte(); b != (byte)'\n'; b = _in.ReadByte())
        {
            if (bytes.Count == MaxGlobalNameBytes) throw Malformed("GLOBAL name too long");
            bytes.Add(b);
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    private byte[] ReadCounted(long count) =>
        count < 0 ? throw Malformed($"negative length {count}") : _in.ReadBytes(count);

    private string ReadUtf8(long count) => Encoding.UTF8.GetString(ReadCounted(count));

    /// <summary>LONG1/LONG4: little-endian two's complement of <paramref name="count"/> bytes.</summary>
    private object ReadLong(long count)
    {
        var value = new BigInteger(ReadCounted(count), isUnsigned: false, isBigEndian: false);
        return value >= long.MinValue && value <= long.MaxValue ? (long)value : value;
    }

    private static object Global(string module, string name)
    {
        if (Callables.TryGetValue(module + " " + name, out PyCallable callable)) return callable;
        if (module == "torch" && TorchStorages.TryGetType(name, out StorageType? type)) return type;
        throw new WeightFormatException(
            $"not a plain state_dict: it contains the Python object {Py.Quote(module + "." + name)}, which this reader will not " +
            "load (unpickling it could run code) — in Python, load it and save `model.state_dict()` with torch.save.");
    }

    private object? PersistentLoad(object? pid) =>
        _persistentLoad is null ? throw Malformed("persistent id outside the state dict") : _persistentLoad(pid);

    private object? Reduce(object? callable, object? args)
    {
        if (args is not object?[] a) throw Malformed($"REDUCE with {Py.Describe(args)} for arguments");
        if (callable is not PyCallable c) throw Malformed($"REDUCE calls {Py.Describe(callable)}");
        return c switch
        {
            PyCallable.OrderedDict when a.Length == 0 => new PyDict(),
            PyCallable.RebuildTensor when a.Length == 4 => RebuildTensor(a),
            // v2 adds requires_grad and backward_hooks; torch >= 1.13 may append a metadata dict.
            PyCallable.RebuildTensorV2 when a.Length is 6 or 7 => RebuildTensor(a),
            PyCallable.RebuildParameter when a.Length == 3 && a[0] is TensorRef t => t,
            PyCallable.TorchSize when a.Length == 1 && a[0] is object?[] size => size,
            _ => throw Malformed($"{c} called with {a.Length} unexpected arguments"),
        };
    }

    private TensorRef RebuildTensor(object?[] a)
    {
        if (a[0] is not StorageSlice storage) throw Malformed($"tensor built on {Py.Describe(a[0])}, not a storage");
        return new TensorRef(storage, ToLong(a[1]), ToLongs(a[2]), ToLongs(a[3]));
    }

    private long ToLong(object? value) => value is long v ? v : throw Malformed($"expected an int, found {Py.Describe(value)}");

    private long[] ToLongs(object? value) =>
        value is object?[] items ? Array.ConvertAll(items, ToLong) : throw Malformed($"expected a tuple of ints, found {Py.Describe(value)}");

    /// <summary>BUILD sets object state. Only OrderedDict's _metadata (module versions) reaches here; it is dropped.</summary>
    private void Build(object? state, object? target)
    {
        if (target is not PyDict) throw Malformed($"BUILD on {Py.Describe(target)}");
    }
}
