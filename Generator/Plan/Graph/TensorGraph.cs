using System.Collections.Generic;
using System.Linq;
using Espnet.Compiled.Generator.Model;
using Espnet.Compiled.Generator.Plan.Lower;
using Espnet.Compiled.Generator.Plan.Schedule;
using Espnet.Compiled.Generator.Shape;

namespace Espnet.Compiled.Generator.Plan.Graph;

/// <summary>A tensor of the graph, per sample: channels, height, width.</summary>
public sealed record TensorShape(int C, int H, int W)
{
    public long Elements => (long)C * H * W;
}

/// <summary>One node: it reads tensors (ids) and makes <see cref="Out"/>; <see cref="Layer"/> names the layer it came from.</summary>
public abstract record Node(int Out, string Layer)
{
    /// <summary>The tensors the node reads, in order.</summary>
    public abstract IEnumerable<int> Inputs { get; }
}

public sealed record ConvNode(int Out, string Layer, int X, Param Weight, int Cout, int Kernel, int Stride, int Dilation, int Groups) : Node(Out, Layer)
{
    public override IEnumerable<int> Inputs => new[] { X };
}
public sealed record ConvTransposeNode(int Out, string Layer, int X, Param Weight, int Cout, int Kernel, int Stride) : Node(Out, Layer)
{
    public override IEnumerable<int> Inputs => new[] { X };
}
public sealed record BiasNode(int Out, string Layer, int X, Param Bias) : Node(Out, Layer)
{
    public override IEnumerable<int> Inputs => new[] { X };
}
public sealed record BatchNormNode(int Out, string Layer, int X, BatchNormParams Bn, double Eps) : Node(Out, Layer)
{
    public override IEnumerable<int> Inputs => new[] { X };
}
public sealed record PReluNode(int Out, string Layer, int X, Param Slope) : Node(Out, Layer)
{
    public override IEnumerable<int> Inputs => new[] { X };
}
/// <summary>
/// A BatchNorm whose output only a PReLU reads, with that PReLU: made by the training plan (<c>TrainingPlan.Fuse</c>),
/// so the BatchNorm's output is never stored (its backward recomputes it); never in a graph <see cref="TensorGraph.Build"/> returns.
/// </summary>
public sealed record BatchNormPReluNode(int Out, string Layer, int X, BatchNormParams Bn, double Eps, Param Slope) : Node(Out, Layer)
{
    public override IEnumerable<int> Inputs => new[] { X };
}
public sealed record SumNode(int Out, string Layer, int A, int B) : Node(Out, Layer)
{
    public override IEnumerable<int> Inputs => new[] { A, B };
}
/// <summary>3x3, stride 2, padding 1 average pooling, padding counted.</summary>
public sealed record AvgPoolNode(int Out, string Layer, int X) : Node(Out, Layer)
{
    public override IEnumerable<int> Inputs => new[] { X };
}
public sealed record GlobalAvgPoolNode(int Out, string Layer, int X) : Node(Out, Layer)
{
    public override IEnumerable<int> Inputs => new[] { X };
}
/// <summary>Bilinear with aligned corners to the output's size.</summary>
public sealed record ResizeNode(int Out, string Layer, int X) : Node(Out, Layer)
{
    public override IEnumerable<int> Inputs => new[] { X };
}
public sealed record AdaptiveAvgPoolNode(int Out, string Layer, int X) : Node(Out, Layer)
{
    public override IEnumerable<int> Inputs => new[] { X };
}
public sealed record ShuffleNode(int Out, string Layer, int X, int Groups) : Node(Out, Layer)
{
    public override IEnumerable<int> Inputs => new[] { X };
}
/// <summary>x times sigmoid(gate), the gate one value per channel.</summary>
public sealed record GateNode(int Out, string Layer, int X, int Gate) : Node(Out, Layer)
{
    public override IEnumerable<int> Inputs => new[] { X, Gate };
}
/// <summary>Channels [From, To) of X.</summary>
public sealed record SliceNode(int Out, string Layer, int X, int From, int To) : Node(Out, Layer)
{
    public override IEnumerable<int> Inputs => new[] { X };
}
public sealed record ConcatNode(int Out, string Layer, EquatableArray<int> Parts) : Node(Out, Layer)
{
    public override IEnumerable<int> Inputs => Parts;
}
/// <summary>The same values in another shape (row-major): a Linear layer reading a map flattened.</summary>
public sealed record ReshapeNode(int Out, string Layer, int X) : Node(Out, Layer)
{
    public override IEnumerable<int> Inputs => new[] { X };
}

/// <summary>
/// The network's schedule as lowered, turned into a graph of immutable tensors (single assignment): what the
/// ONNX printer and the training plan work on. The schedule speaks of windows of float buffers (a concat is
/// convolutions writing slices of one buffer; HFF adds into slices; BatchNorm and PReLU rewrite in place);
/// <see cref="Build"/> replays its ops over a map from buffer windows to tensors: a write covers a window with a
/// new tensor, a copy moves the map without a node, and a read gathers what covers the window — one tensor, a
/// channel slice of one, or a concatenation of several.
/// </summary>
public sealed record TensorGraph(EquatableArray<TensorShape> Shapes, EquatableArray<Node> Nodes, int Input, int Output)
{
    /// <summary>The graph, or why the schedule cannot be expressed as one (a read of part of a channel).</summary>
    public static (TensorGraph? Graph, string? Failure) Build(ShapedNetwork network)
    {
        try
        {
            var store = new ParameterLayout(0);
            var programs = network.Layers.Select(layer => Lowering.Lower(layer, store)).ToList();
            var replay = new Replay();
            int input = replay.Tensor(network.Input.C, network.Input.H, network.Input.W);
            var outputs = new int[network.Layers.Count];
            for (int i = 0; i < network.Layers.Count; i++)
                outputs[i] = replay.Layer(network.Layers[i], programs[i], from => from < 0 ? input : outputs[from]);
            return (new TensorGraph(replay.Shapes.ToEquatableArray(), replay.Nodes.ToEquatableArray(), input, outputs[network.OutputLayer]), null);
        }
        catch (System.InvalidOperationException e)
        {
            return (null, e.Message);
        }
    }

    private sealed class Replay
    {
        public readonly List<TensorShape> Shapes = new();
        public readonly List<Node> Nodes = new();
        private readonly Dictionary<string, List<Piece>> _buffers = new();
        private readonly Dictionary<string, (string Base, int Offset)> _lets = new();
        private string _layer = "";

        /// <summary>A window [Offset, Offset + Length) of a buffer held by floats [From, From + Length) of a tensor.</summary>
        private sealed record Piece(int Offset, int Length, int Tensor, int From);

        public int Tensor(int c, int h, int w)
        {
            Shapes.Add(new TensorShape(c, h, w));
            return Shapes.Count - 1;
        }

        private int Add(System.Func<int, Node> node, int c, int h, int w)
        {
            int t = Tensor(c, h, w);
            Nodes.Add(node(t));
            return t;
        }

        public int Layer(ShapedLayer layer, LayerProgram program, System.Func<int, int> source)
        {
            _layer = layer.Spec.Name;
            _buffers.Clear();
            _lets.Clear();
            foreach (var operand in program.Operands) _buffers[operand.Name] = new List<Piece> { new(0, (int)operand.Length, source(operand.Source), 0) };
            foreach (var op in program.Ops) Step(op);
            var y = layer.Out;
            return Read(View.Of("y", y.Elements), y.C);
        }

        private void Step(Op op)
        {
            string l = _layer;
            switch (op)
            {
                case Note:
                    break;
                case Let let:
                    _lets[let.Name] = Root(let.Of);
                    break;
                case Conv c:
                {
                    int x = Read(c.X, c.Cin, c.H, c.W);
                    Write(c.Y, Add(t => new ConvNode(t, l, x, c.Weight, c.Cout, c.Kernel, c.Stride, c.Dilation, c.Groups), c.Cout, c.Ho, c.Wo));
                    break;
                }
                case ConvTranspose t:
                {
                    int x = Read(t.X, t.Cin);
                    Write(t.Y, Add(o => new ConvTransposeNode(o, l, x, t.Weight, t.Cout, t.Kernel, t.Stride), t.Cout, t.Ho, t.Wo));
                    break;
                }
                case AddBias a:
                    InPlace(a.Y, a.C, (o, x) => new BiasNode(o, l, x, a.Bias));
                    break;
                case BatchNorm n:
                    InPlace(n.Y, n.C, (o, x) => new BatchNormNode(o, l, x, n.Bn, n.Eps));
                    break;
                case PRelu p:
                    InPlace(p.Y, p.C, (o, x) => new PReluNode(o, l, x, p.Slope));
                    break;
                case Schedule.Add add:
                {
                    int a = Read(add.A, null), b = Read(add.B, null);
                    var s = Shapes[a];
                    if (Shapes[b] != s) throw new System.InvalidOperationException($"'{l}' adds tensors of different shapes");
                    Write(add.Y, Add(o => new SumNode(o, l, a, b), s.C, s.H, s.W));
                    break;
                }
                case Copy copy:
                    Move(copy.X, copy.Y);
                    break;
                case AvgPool pool:
                {
                    int x = Read(pool.X, pool.C);
                    Write(pool.Y, Add(o => new AvgPoolNode(o, l, x), pool.C, pool.Ho, pool.Wo));
                    break;
                }
                case GlobalAvgPool gap:
                {
                    int x = Read(gap.X, gap.C);
                    Write(gap.Y, Add(o => new GlobalAvgPoolNode(o, l, x), gap.C, 1, 1));
                    break;
                }
                case Bilinear r:
                {
                    int x = Read(r.X, r.C);
                    Write(r.Y, Add(o => new ResizeNode(o, l, x), r.C, r.Ho, r.Wo));
                    break;
                }
                case AdaptiveAvgPool a:
                {
                    int x = Read(a.X, a.C);
                    Write(a.Y, Add(o => new AdaptiveAvgPoolNode(o, l, x), a.C, a.Ho, a.Wo));
                    break;
                }
                case Shuffle s:
                {
                    int x = Read(s.X, s.C);
                    var shape = Shapes[x];
                    Write(s.Y, Add(o => new ShuffleNode(o, l, x, s.Groups), shape.C, shape.H, shape.W));
                    break;
                }
                case SigmoidGate gate:
                {
                    int y = Read(gate.Y, gate.C), g = Read(gate.Gate, gate.C);
                    var shape = Shapes[y];
                    Write(gate.Y, Add(o => new GateNode(o, l, y, g), shape.C, shape.H, shape.W));
                    break;
                }
                default:
                    throw new System.InvalidOperationException("no graph rule for " + op.GetType().Name);
            }
        }

        private void InPlace(View view, int channels, System.Func<int, int, Node> node)
        {
            int x = Read(view, channels);
            var s = Shapes[x];
            Write(view, Add(o => node(o, x), s.C, s.H, s.W));
        }

        private (string Base, int Offset) Root(View view) =>
            _lets.TryGetValue(view.Base, out var let) ? (let.Base, let.Offset + view.Offset) : (view.Base, view.Offset);

        private List<Piece> Buffer(string name)
        {
            if (!_buffers.TryGetValue(name, out var pieces)) _buffers[name] = pieces = new List<Piece>();
            return pieces;
        }

        /// <summary>The pieces covering a window, clipped to it, in order; every float must be covered.</summary>
        private List<Piece> Cover(View view)
        {
            var (b, start) = Root(view);
            int end = start + view.Length;
            var parts = Buffer(b).Where(p => p.Offset < end && start < p.Offset + p.Length).OrderBy(p => p.Offset)
                .Select(p =>
                {
                    int from = System.Math.Max(start, p.Offset), to = System.Math.Min(end, p.Offset + p.Length);
                    return new Piece(from, to - from, p.Tensor, p.From + from - p.Offset);
                }).ToList();
            int at = start;
            foreach (var p in parts)
            {
                if (p.Offset != at) break;
                at += p.Length;
            }
            if (at != end) throw new System.InvalidOperationException($"'{_layer}' reads {b}[{start}+{view.Length}] before all of it is written");
            return parts;
        }

        /// <summary>The tensor holding a window: one tensor, a channel slice of one, or a concatenation.</summary>
        private int Read(View view, int? channels, int height = 0, int width = 0)
        {
            var parts = Cover(view);
            var first = Shapes[parts[0].Tensor];
            string l = _layer;
            if (parts.Count == 1 && parts[0].From == 0 && parts[0].Length == first.Elements && height > 0 && first.H * first.W != height * width)
                return Add(o => new ReshapeNode(o, l, parts[0].Tensor), channels!.Value, height, width);   // a Linear layer reads its input flattened
            int plane = channels is int c ? view.Length / c : first.H * first.W;
            var tensors = new List<int>();
            foreach (var p in parts)
            {
                var shape = Shapes[p.Tensor];
                if (shape.H * shape.W != plane || p.From % plane != 0 || p.Length % plane != 0)
                    throw new System.InvalidOperationException($"'{l}' reads part of a tensor that is not whole channels");
                int c0 = p.From / plane, c1 = c0 + p.Length / plane;
                tensors.Add(c0 == 0 && c1 == shape.C ? p.Tensor : Add(o => new SliceNode(o, l, p.Tensor, c0, c1), c1 - c0, shape.H, shape.W));
            }
            if (tensors.Count == 1) return tensors[0];
            return Add(o => new ConcatNode(o, l, tensors.ToEquatableArray()), tensors.Sum(t => Shapes[t].C), first.H, first.W);
        }

        /// <summary>A window now holds a whole tensor; what covered it before is cut away.</summary>
        private void Write(View view, int tensor) => Place(view, new List<Piece> { new(0, view.Length, tensor, 0) });

        /// <summary>A copy: the destination window is covered by what covers the source.</summary>
        private void Move(View from, View to)
        {
            var (_, start) = Root(from);
            Place(to, Cover(from).Select(p => new Piece(p.Offset - start, p.Length, p.Tensor, p.From)).ToList());
        }

        /// <summary>Covers a window with pieces given relative to its start.</summary>
        private void Place(View view, List<Piece> relative)
        {
            var (b, start) = Root(view);
            int end = start + view.Length;
            var pieces = Buffer(b);
            var kept = new List<Piece>();
            foreach (var p in pieces)
            {
                if (p.Offset + p.Length <= start || end <= p.Offset)
                {
                    kept.Add(p);
                    continue;
                }
                if (p.Offset < start) kept.Add(new Piece(p.Offset, start - p.Offset, p.Tensor, p.From));
                if (end < p.Offset + p.Length) kept.Add(new Piece(end, p.Offset + p.Length - end, p.Tensor, p.From + end - p.Offset));
            }
            kept.AddRange(relative.Select(p => new Piece(start + p.Offset, p.Length, p.Tensor, p.From)));
            pieces.Clear();
            pieces.AddRange(kept.OrderBy(p => p.Offset));
        }
    }
}
