using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Espnet.Compiled.Generator.Plan;
using Espnet.Compiled.Generator.Plan.Lower;
using Espnet.Compiled.Generator.Plan.Schedule;
using Espnet.Compiled.Generator.Shape;

namespace Espnet.Compiled.Generator.Emit.Onnx;

/// <summary>
/// The ONNX printer: the network's schedule as lowered (no inference passes: BatchNorm stays a node, as a
/// user inspecting the graph expects) printed as calls to the runtime's <c>OnnxGraph</c>, one per node.
/// The schedule speaks of windows of float buffers; ONNX of immutable tensors. The printer replays the
/// schedule over a map of which tensor holds which window of each buffer: a write covers a window with
/// a new tensor, a read of a window gathers what covers it (a channel slice of one tensor, or a
/// concatenation of several), and a copy only moves the map — so concatenations built by writing slices
/// become one Concat where they are read.
/// </summary>
internal static class OnnxPrinter
{
    public static void Print(CodeWriter w, ShapedNetwork network)
    {
        w.Line("/// <summary>Adds this network's nodes to an ONNX graph: its schedule as lowered, one call per primitive.</summary>");
        w.Open("protected override void DescribeOnnx(global::Espnet.Compiled.Onnx.OnnxGraph g)");
        var body = new CodeWriter();
        try
        {
            PrintBody(body, network);
            foreach (string line in body.ToString().Split('\n'))
                if (line.Length > 0) w.Line(line.TrimEnd('\r'));
        }
        catch (System.InvalidOperationException e)
        {
            // A network the replay cannot express: the export says why at run time; the compile goes on.
            w.Line("throw new global::System.NotSupportedException(" + CodeWriter.Str("this network cannot be exported to ONNX yet: " + e.Message) + ");");
        }
        w.Close();
    }

    private static void PrintBody(CodeWriter w, ShapedNetwork network)
    {
        var store = new ParameterLayout(0);
        var programs = network.Layers.Select(layer => Lowering.Lower(layer, store)).ToList();
        var replay = new Replay(w);
        var input = network.Input;
        string image = replay.New("g.Input(" + input.C + ", " + input.H + ", " + input.W + ")", input.C, input.H, input.W);
        var outputs = new string[network.Layers.Count];
        for (int i = 0; i < network.Layers.Count; i++)
        {
            var layer = network.Layers[i];
            w.Line("// " + layer.Spec.Name + ": " + programs[i].Description);
            outputs[i] = replay.Layer(layer, programs[i], from => from < 0 ? image : outputs[from]);
        }
        w.Line("g.Output(" + outputs[network.OutputLayer] + ");");
    }

    /// <summary>The tensor map of one network's replay, and the C# it prints.</summary>
    private sealed class Replay
    {
        private readonly CodeWriter _w;
        private readonly Dictionary<string, (int C, int H, int W)> _shapes = new();
        private readonly Dictionary<string, List<Piece>> _buffers = new();
        private readonly Dictionary<string, (string Base, int Offset)> _lets = new();
        private string _layer = "";
        private int _next;

        public Replay(CodeWriter w) => _w = w;

        /// <summary>A window [Offset, Offset + Length) of a buffer held by floats [From, From + Length) of a tensor.</summary>
        private sealed record Piece(int Offset, int Length, string Tensor, int From);

        public string New(string call, int c, int h, int wd)
        {
            string name = "v" + _next++;
            _w.Line("var " + name + " = " + call + ";");
            _shapes[name] = (c, h, wd);
            return name;
        }

        public string Layer(ShapedLayer layer, LayerProgram program, System.Func<int, string> source)
        {
            _layer = CodeWriter.Str(layer.Spec.Name);
            _buffers.Clear();
            _lets.Clear();
            foreach (var operand in program.Operands) _buffers[operand.Name] = new List<Piece> { new(0, (int)operand.Length, source(operand.Source), 0) };
            foreach (var op in program.Ops) Step(op);
            var y = layer.Out;
            return Read(View.Of("y", y.Elements), y.C);
        }

        private void Step(Op op)
        {
            switch (op)
            {
                case Note:
                    break;
                case Let let:
                    var (b, o) = Root(let.Of);
                    _lets[let.Name] = (b, o);
                    break;
                case Conv c:
                {
                    string x = Read(c.X, c.Cin, c.H, c.W);
                    Write(c.Y, New($"g.Conv({_layer}, {x}, {c.Cout}, {c.Kernel}, {c.Stride}, {c.Dilation}, {c.Groups}, {c.Weight.Offset})", c.Cout, c.Ho, c.Wo));
                    break;
                }
                case ConvTranspose t:
                {
                    string x = Read(t.X, t.Cin);
                    Write(t.Y, New($"g.ConvTranspose({_layer}, {x}, {t.Cout}, {t.Kernel}, {t.Stride}, {t.Weight.Offset})", t.Cout, t.Ho, t.Wo));
                    break;
                }
                case AddBias a:
                    InPlace(a.Y, a.C, x => $"g.AddBias({_layer}, {x}, {a.Bias.Offset})");
                    break;
                case BatchNorm n:
                    InPlace(n.Y, n.C, x => $"g.BatchNorm({_layer}, {x}, {n.Bn.Gamma.Offset}, {n.Bn.Beta.Offset}, {n.Bn.Mean.Offset}, {n.Bn.Variance.Offset}, {n.Eps.ToString("R", CultureInfo.InvariantCulture)})");
                    break;
                case PRelu p:
                    InPlace(p.Y, p.C, x => $"g.PRelu({_layer}, {x}, {p.Slope.Offset})");
                    break;
                case Add add:
                {
                    string a = Read(add.A, null), b2 = Read(add.B, null);
                    var (c, h, wd) = _shapes[a];
                    Write(add.Y, New($"g.Sum({_layer}, {a}, {b2})", c, h, wd));
                    break;
                }
                case Copy copy:
                    Move(copy.X, copy.Y);
                    break;
                case AvgPool pool:
                {
                    string x = Read(pool.X, pool.C);
                    Write(pool.Y, New($"g.AvgPool3x3S2({_layer}, {x})", pool.C, pool.Ho, pool.Wo));
                    break;
                }
                case GlobalAvgPool gap:
                {
                    string x = Read(gap.X, gap.C);
                    Write(gap.Y, New($"g.GlobalAvgPool({_layer}, {x})", gap.C, 1, 1));
                    break;
                }
                case Bilinear r:
                {
                    string x = Read(r.X, r.C);
                    Write(r.Y, New($"g.ResizeAlignCorners({_layer}, {x}, {r.Ho}, {r.Wo})", r.C, r.Ho, r.Wo));
                    break;
                }
                case AdaptiveAvgPool a:
                {
                    string x = Read(a.X, a.C);
                    Write(a.Y, New($"g.AdaptiveAvgPool({_layer}, {x}, {a.Ho}, {a.Wo})", a.C, a.Ho, a.Wo));
                    break;
                }
                case Shuffle s:
                {
                    string x = Read(s.X, s.C);
                    var (c, h, wd) = _shapes[x];
                    Write(s.Y, New($"g.Shuffle({_layer}, {x}, {s.Groups})", c, h, wd));
                    break;
                }
                case SigmoidGate gate:
                {
                    string y = Read(gate.Y, gate.C), g = Read(gate.Gate, gate.C);
                    var (c, h, wd) = _shapes[y];
                    Write(gate.Y, New($"g.SigmoidGate({_layer}, {y}, {g})", c, h, wd));
                    break;
                }
                default:
                    throw new System.InvalidOperationException("the ONNX printer has no rule for " + op.GetType().Name);
            }
        }

        private void InPlace(View view, int channels, System.Func<string, string> call)
        {
            string x = Read(view, channels);
            var (c, h, wd) = _shapes[x];
            Write(view, New(call(x), c, h, wd));
        }

        private (string Base, int Offset) Root(View view)
        {
            if (_lets.TryGetValue(view.Base, out var let)) return (let.Base, let.Offset + view.Offset);
            return (view.Base, view.Offset);
        }

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
            if (at != end) throw new System.InvalidOperationException($"ONNX printer: {_layer} reads {b}[{start}+{view.Length}] before all of it is written");
            return parts;
        }

        /// <summary>The tensor holding a window: one tensor, a channel slice of one, or a concatenation.</summary>
        private string Read(View view, int? channels, int height = 0, int width = 0)
        {
            var parts = Cover(view);
            var first = _shapes[parts[0].Tensor];
            if (parts.Count == 1 && parts[0].From == 0 && parts[0].Length == first.C * first.H * first.W && height > 0 && first.H * first.W != height * width)
            {
                // One whole tensor read at another shape (a Linear layer reads its input flattened): a reshape.
                return New($"g.Reshape({_layer}, {parts[0].Tensor}, {channels}, {height}, {width})", channels!.Value, height, width);
            }
            int plane = channels is int c ? view.Length / c : first.H * first.W;
            var tensors = new List<string>();
            foreach (var p in parts)
            {
                var shape = _shapes[p.Tensor];
                if (shape.H * shape.W != plane || p.From % plane != 0 || p.Length % plane != 0)
                    throw new System.InvalidOperationException($"ONNX printer: {_layer} reads part of {p.Tensor} that is not whole channels");
                int c0 = p.From / plane, c1 = c0 + p.Length / plane;
                tensors.Add(c0 == 0 && c1 == shape.C ? p.Tensor : New($"g.Slice({_layer}, {p.Tensor}, {c0}, {c1})", c1 - c0, shape.H, shape.W));
            }
            if (tensors.Count == 1) return tensors[0];
            int total = tensors.Sum(t => _shapes[t].C);
            return New($"g.Concat({_layer}, {string.Join(", ", tensors)})", total, first.H, first.W);
        }

        /// <summary>A window now holds a whole tensor; what covered it before is cut away.</summary>
        private void Write(View view, string tensor) => Place(view, new List<Piece> { new(0, view.Length, tensor, 0) });

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
