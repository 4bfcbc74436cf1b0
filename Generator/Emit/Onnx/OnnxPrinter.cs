using System.Globalization;
using System.Linq;
using Espnet.Compiled.Generator.Plan.Graph;
using Espnet.Compiled.Generator.Shape;

namespace Espnet.Compiled.Generator.Emit.Onnx;

/// <summary>
/// The ONNX printer: the network's tensor graph (the schedule as lowered, in single assignment: see
/// <see cref="TensorGraph"/>; no inference passes, so BatchNorm stays a node as a user inspecting the graph
/// expects) printed as calls to the runtime's <c>OnnxGraph</c>, one per node.
/// </summary>
internal static class OnnxPrinter
{
    public static void Print(CodeWriter w, ShapedNetwork network)
    {
        w.Line("/// <summary>Adds this network's nodes to an ONNX graph: its schedule as lowered, one call per primitive.</summary>");
        w.Open("protected override void DescribeOnnx(global::Espnet.Compiled.Onnx.OnnxGraph g)");
        var (graph, failure) = TensorGraph.Build(network);
        if (graph is null)
        {
            // A network the graph cannot express: the export says why at run time; the compile goes on.
            w.Line("throw new global::System.NotSupportedException(" + CodeWriter.Str("this network cannot be exported to ONNX yet: " + failure) + ");");
            w.Close();
            return;
        }
        var input = graph.Shapes[graph.Input];
        w.Line($"var v{graph.Input} = g.Input({input.C}, {input.H}, {input.W});");
        string layer = "";
        foreach (var node in graph.Nodes)
        {
            if (node.Layer != layer) w.Line("// " + node.Layer);
            layer = node.Layer;
            string l = CodeWriter.Str(node.Layer);
            string call = node switch
            {
                ConvNode c => $"g.Conv({l}, v{c.X}, {c.Cout}, {c.Kernel}, {c.Stride}, {c.Dilation}, {c.Groups}, {c.Weight.Offset})",
                ConvTransposeNode t => $"g.ConvTranspose({l}, v{t.X}, {t.Cout}, {t.Kernel}, {t.Stride}, {t.Weight.Offset})",
                BiasNode b => $"g.AddBias({l}, v{b.X}, {b.Bias.Offset})",
                BatchNormNode n => $"g.BatchNorm({l}, v{n.X}, {n.Bn.Gamma.Offset}, {n.Bn.Beta.Offset}, {n.Bn.Mean.Offset}, {n.Bn.Variance.Offset}, {n.Eps.ToString("R", CultureInfo.InvariantCulture)})",
                PReluNode p => $"g.PRelu({l}, v{p.X}, {p.Slope.Offset})",
                SumNode s => $"g.Sum({l}, v{s.A}, v{s.B})",
                AvgPoolNode a => $"g.AvgPool3x3S2({l}, v{a.X})",
                GlobalAvgPoolNode g => $"g.GlobalAvgPool({l}, v{g.X})",
                ResizeNode r => $"g.ResizeAlignCorners({l}, v{r.X}, {graph.Shapes[r.Out].H}, {graph.Shapes[r.Out].W})",
                AdaptiveAvgPoolNode a => $"g.AdaptiveAvgPool({l}, v{a.X}, {graph.Shapes[a.Out].H}, {graph.Shapes[a.Out].W})",
                ShuffleNode s => $"g.Shuffle({l}, v{s.X}, {s.Groups})",
                GateNode g => $"g.SigmoidGate({l}, v{g.X}, v{g.Gate})",
                SliceNode s => $"g.Slice({l}, v{s.X}, {s.From}, {s.To})",
                ConcatNode c => $"g.Concat({l}, {string.Join(", ", c.Parts.Select(p => "v" + p))})",
                ReshapeNode r => $"g.Reshape({l}, v{r.X}, {graph.Shapes[r.Out].C}, {graph.Shapes[r.Out].H}, {graph.Shapes[r.Out].W})",
                _ => throw new System.InvalidOperationException("no ONNX rule for " + node.GetType().Name),
            };
            w.Line($"var v{node.Out} = {call};");
        }
        w.Line($"g.Output(v{graph.Output});");
        w.Close();
    }
}
