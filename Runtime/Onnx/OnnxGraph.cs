using System.Runtime.InteropServices;

namespace Espnet.Compiled.Onnx;

/// <summary>
/// Builds a static-shape ONNX model (opset 17) of a compiled network. Generated code calls it once per
/// primitive of the network's schedule as lowered (see docs/front-door.md, "ONNX export"); each call adds
/// nodes and returns the name of the tensor it made. Weights are copied from the parameter store as
/// initializers. Operators are the standard ones ONNX Runtime runs everywhere; where ONNX has no operator
/// (adaptive average pooling to any size) the graph uses the exact linear map it stands for (two MatMuls).
/// </summary>
public sealed class OnnxGraph
{
    /// <summary>The opset the graph is written for.</summary>
    public const int Opset = 17;

    private readonly int _batch;
    private readonly float[] _store;
    private readonly List<Node> _nodes = [];
    private readonly List<(string Name, long[] Dims, float[]? Floats, long[]? Longs)> _initializers = [];
    private readonly Dictionary<string, int[]> _shapes = new(StringComparer.Ordinal);   // per sample: C, H, W
    private readonly Dictionary<int, string> _storeTensors = [];
    private string? _input, _output;
    private int _next;

    public OnnxGraph(int batch, ReadOnlySpan<float> store)
    {
        _batch = batch;
        _store = store.ToArray();
    }

    public string Input(int channels, int height, int width)
    {
        _input = "input";
        _shapes[_input] = [channels, height, width];
        return _input;
    }

    public void Output(string value)
    {
        var node = new Node("Identity", "output", [value], ["output"]);
        _nodes.Add(node);
        _shapes["output"] = _shapes[value];
        _output = "output";
    }

    /// <summary>PyTorch's Conv2d without bias: padding (k - 1) / 2 x dilation, weights [cout, cin / groups, k, k] at <paramref name="weight"/>.</summary>
    public string Conv(string layer, string x, int outChannels, int kernel, int stride, int dilation, int groups, int weight)
    {
        var (c, h, w) = Shape(x);
        int pad = (kernel - 1) / 2 * dilation;
        string weights = StoreTensor(weight, [outChannels, c / groups, kernel, kernel]);
        int ho = (h + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1, wo = (w + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1;
        return Add(layer, "Conv", [x, weights], [outChannels, ho, wo],
            Ints("kernel_shape", kernel, kernel), Ints("strides", stride, stride), Ints("dilations", dilation, dilation),
            Ints("pads", pad, pad, pad, pad), Int("group", groups));
    }

    /// <summary>PyTorch's ConvTranspose2d without padding or bias, weights [cin, cout, k, k].</summary>
    public string ConvTranspose(string layer, string x, int outChannels, int kernel, int stride, int weight)
    {
        var (c, h, w) = Shape(x);
        string weights = StoreTensor(weight, [c, outChannels, kernel, kernel]);
        return Add(layer, "ConvTranspose", [x, weights], [outChannels, (h - 1) * stride + kernel, (w - 1) * stride + kernel],
            Ints("kernel_shape", kernel, kernel), Ints("strides", stride, stride));
    }

    public string AddBias(string layer, string x, int bias) =>
        Add(layer, "Add", [x, StoreTensor(bias, [Shape(x).C, 1, 1])], Dims(x));

    public string BatchNorm(string layer, string x, int gamma, int beta, int mean, int variance, double eps)
    {
        int c = Shape(x).C;
        return Add(layer, "BatchNormalization", [x, StoreTensor(gamma, [c]), StoreTensor(beta, [c]), StoreTensor(mean, [c]), StoreTensor(variance, [c])],
            Dims(x), Float("epsilon", (float)eps));
    }

    public string PRelu(string layer, string x, int slope) =>
        Add(layer, "PRelu", [x, StoreTensor(slope, [Shape(x).C, 1, 1])], Dims(x));

    public string Sum(string layer, string a, string b)
    {
        if (!Dims(a).SequenceEqual(Dims(b))) throw new InvalidOperationException($"{layer}: adding {Text(a)} to {Text(b)}");
        return Add(layer, "Add", [a, b], Dims(a));
    }

    /// <summary>3x3 average pooling, stride 2, padding 1, padding counted (PyTorch's default count_include_pad).</summary>
    public string AvgPool3x3S2(string layer, string x)
    {
        var (c, h, w) = Shape(x);
        return Add(layer, "AveragePool", [x], [c, (h - 1) / 2 + 1, (w - 1) / 2 + 1],
            Ints("kernel_shape", 3, 3), Ints("strides", 2, 2), Ints("pads", 1, 1, 1, 1), Int("count_include_pad", 1));
    }

    public string GlobalAvgPool(string layer, string x) => Add(layer, "GlobalAveragePool", [x], [Shape(x).C, 1, 1]);

    /// <summary>Bilinear resizing with aligned corners (PyTorch's interpolate(..., align_corners=True)).</summary>
    public string ResizeAlignCorners(string layer, string x, int height, int width)
    {
        int c = Shape(x).C;
        string sizes = LongTensor([_batch, c, height, width]);
        return Add(layer, "Resize", [x, "", "", sizes], [c, height, width],
            Str("mode", "linear"), Str("coordinate_transformation_mode", "align_corners"));
    }

    /// <summary>
    /// Adaptive average pooling to any size (also larger): output cell i averages input rows floor(i H / Ho) to
    /// ceil((i + 1) H / Ho) - 1, as PyTorch; written as Y = Ph · X · Pwᵀ with the two averaging matrices.
    /// </summary>
    public string AdaptiveAvgPool(string layer, string x, int height, int width)
    {
        var (c, h, w) = Shape(x);
        string columns = FloatTensor([w, width], PoolingMatrix(w, width, transposed: true));
        string rows = FloatTensor([height, h], PoolingMatrix(h, height, transposed: false));
        string across = Add(layer, "MatMul", [x, columns], [c, h, width]);
        return Add(layer, "MatMul", [rows, across], [c, height, width]);
    }

    /// <summary>ShuffleNet's channel shuffle: channels viewed as [groups, C / groups], transposed, flattened.</summary>
    public string Shuffle(string layer, string x, int groups)
    {
        var (c, h, w) = Shape(x);
        string grouped = Add(layer, "Reshape", [x, LongTensor([_batch, groups, c / groups, h * w])], [c, h, w]);
        string swapped = Add(layer, "Transpose", [grouped], [c, h, w], Ints("perm", 0, 2, 1, 3));
        return Add(layer, "Reshape", [swapped, LongTensor([_batch, c, h, w])], [c, h, w]);
    }

    /// <summary>x times sigmoid(gate), the gate one value per channel.</summary>
    public string SigmoidGate(string layer, string x, string gate)
    {
        string sigmoid = Add(layer, "Sigmoid", [gate], Dims(gate));
        return Add(layer, "Mul", [x, sigmoid], Dims(x));
    }

    /// <summary>x with the same values in another per-sample shape (row-major, as PyTorch's view / flatten).</summary>
    public string Reshape(string layer, string x, int channels, int height, int width) =>
        Add(layer, "Reshape", [x, LongTensor([_batch, channels, height, width])], [channels, height, width]);

    /// <summary>Channels [from, to) of x.</summary>
    public string Slice(string layer, string x, int from, int to)
    {
        var (_, h, w) = Shape(x);
        return Add(layer, "Slice", [x, LongTensor([from]), LongTensor([to]), LongTensor([1])], [to - from, h, w]);
    }

    /// <summary>Channel concatenation.</summary>
    public string Concat(string layer, params string[] parts)
    {
        var (_, h, w) = Shape(parts[0]);
        return Add(layer, "Concat", parts, [parts.Sum(p => Shape(p).C), h, w], Int("axis", 1));
    }

    /// <summary>The model: one graph, its initializers, the input and output with their fixed shapes.</summary>
    public void Write(Stream destination, string graphName)
    {
        if (_input is null || _output is null) throw new InvalidOperationException("the graph has no input or output");
        var model = new ProtoWriter();
        model.Varint(1, 8);                                          // ir_version 8 (ONNX 1.10+)
        model.String(2, "Espnet.Compiled");                          // producer_name
        model.Message(8, op => { op.String(1, ""); op.Varint(2, Opset); });
        model.Message(7, graph =>
        {
            foreach (var node in _nodes) graph.Message(1, node.Write);
            graph.String(2, graphName);
            foreach (var (name, dims, floats, longs) in _initializers)
                graph.Message(5, tensor =>
                {
                    foreach (long d in dims) tensor.Varint(1, d);
                    tensor.Varint(2, floats is not null ? 1 : 7);    // FLOAT or INT64
                    tensor.String(8, name);
                    tensor.Bytes(9, floats is not null ? MemoryMarshal.AsBytes(floats.AsSpan()) : MemoryMarshal.AsBytes(longs.AsSpan()));
                });
            graph.Message(11, value => ValueInfo(value, _input));
            graph.Message(12, value => ValueInfo(value, _output));
        });
        model.CopyTo(destination);
    }

    private void ValueInfo(ProtoWriter value, string name)
    {
        value.String(1, name);
        value.Message(2, type => type.Message(1, tensor =>
        {
            tensor.Varint(1, 1);                                     // FLOAT
            tensor.Message(2, shape =>
            {
                foreach (int d in (int[])[_batch, .. _shapes[name]]) shape.Message(1, dim => dim.Varint(1, d));
            });
        }));
    }

    private string Add(string layer, string op, string[] inputs, int[] shape, params Attribute[] attributes)
    {
        string output = $"t{_next++}";
        _nodes.Add(new Node(op, $"{layer}/{op}_{_next}", inputs, [output], attributes));
        _shapes[output] = shape;
        return output;
    }

    private (int C, int H, int W) Shape(string value) =>
        _shapes.TryGetValue(value, out var s) ? (s[0], s[1], s[2]) : throw new InvalidOperationException($"unknown tensor {value}");

    private int[] Dims(string value) => _shapes[value];

    private string Text(string value) => $"{value} [{string.Join(", ", _shapes[value])}]";

    private string StoreTensor(int offset, long[] dims)
    {
        long count = dims.Aggregate(1L, (a, b) => a * b);
        if (_storeTensors.TryGetValue(offset, out string? existing) && _initializers.First(i => i.Name == existing).Dims.SequenceEqual(dims)) return existing;
        string name = $"p{offset}";
        if (_initializers.Any(i => i.Name == name)) name += $"_{_initializers.Count}";
        _initializers.Add((name, dims, _store.AsSpan(offset, (int)count).ToArray(), null));
        _storeTensors[offset] = name;
        return name;
    }

    private string FloatTensor(long[] dims, float[] values)
    {
        string name = $"k{_initializers.Count}";
        _initializers.Add((name, dims, values, null));
        return name;
    }

    private string LongTensor(long[] values)
    {
        string name = $"k{_initializers.Count}";
        _initializers.Add((name, [values.Length], null, values));
        return name;
    }

    /// <summary>Row o averages inputs floor(o n / m) .. ceil((o + 1) n / m) - 1; transposed: [n, m] for a right multiplication.</summary>
    private static float[] PoolingMatrix(int n, int m, bool transposed)
    {
        var p = new float[n * m];
        for (int o = 0; o < m; o++)
        {
            int start = o * n / m, end = ((o + 1) * n + m - 1) / m;
            for (int i = start; i < end; i++) p[transposed ? i * m + o : o * n + i] = 1f / (end - start);
        }
        return p;
    }

    private static Attribute Int(string name, long value) => new(name, 2, value, 0, null, null);
    private static Attribute Float(string name, float value) => new(name, 1, 0, value, null, null);
    private static Attribute Ints(string name, params long[] values) => new(name, 7, 0, 0, values, null);
    private static Attribute Str(string name, string value) => new(name, 3, 0, 0, null, value);

    private sealed record Attribute(string Name, int Type, long Int, float Float, long[]? Ints, string? Text)
    {
        public void Write(ProtoWriter a)
        {
            a.String(1, Name);
            switch (Type)
            {
                case 1: a.Float(2, Float); break;
                case 2: a.Varint(3, Int); break;
                case 3: a.String(4, Text!); break;
                case 7: foreach (long v in Ints!) a.Varint(8, v); break;
            }
            a.Varint(20, Type);
        }
    }

    private sealed record Node(string Op, string Name, string[] Inputs, string[] Outputs, params Attribute[] Attributes)
    {
        public void Write(ProtoWriter n)
        {
            foreach (string i in Inputs) n.String(1, i);
            foreach (string o in Outputs) n.String(2, o);
            n.String(3, Name);
            n.String(4, Op);
            foreach (var a in Attributes) n.Message(5, a.Write);
        }
    }
}
