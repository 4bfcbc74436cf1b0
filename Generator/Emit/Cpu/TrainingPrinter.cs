using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using Espnet.Compiled.Generator.Plan.Graph;
using Espnet.Compiled.Generator.Plan.Schedule;
using Espnet.Compiled.Generator.Plan.Training;
using Espnet.Compiled.Generator.Shape;

namespace Espnet.Compiled.Generator.Emit.Cpu;

/// <summary>
/// Prints a network's training pass: the tensor graph's nodes forward (batch-wide, BatchNorm on the batch's
/// statistics) and, in reverse, each node's gradient rule, over the training arena the plan placed
/// (<see cref="TrainingPlan"/>), as calls to the runtime's <c>TrainingContext</c>. Knows nodes, not layer kinds.
/// </summary>
internal static class TrainingPrinter
{
    private const string Ctx = "global::Espnet.Compiled.Training.TrainingContext";

    public static void Print(CodeWriter w, ShapedNetwork network)
    {
        var (graph, failure) = TensorGraph.Build(network);
        var (plan, planFailure) = graph is null ? (null, failure) : TrainingPlan.Build(graph, network.Spec.Batch);
        if (plan is null)
        {
            string why = CodeWriter.Str("this network cannot be trained yet: " + planFailure);
            w.Line($"protected override void TrainForward({Ctx} t, global::System.ReadOnlySpan<float> input) => throw new global::System.NotSupportedException({why});");
            w.Line($"protected override void TrainBackward({Ctx} t) => throw new global::System.NotSupportedException({why});");
            return;
        }
        var g = plan.Graph;
        int n = plan.Batch;
        string A(int t) => $"a.Slice({plan.Activation[t]}, {n * g.Shapes[t].Elements})";
        string D(int t) => plan.HasGradient(t) ? $"a.Slice({plan.Gradient[t]}, {n * g.Shapes[t].Elements})" : "default";
        string P(Param p) => $"P({p.Offset}, {p.Length})";
        string M(Param p) => $"Mutable({p.Offset}, {p.Length})";
        string G(Param p) => $"d.Slice({p.Offset}, {p.Length})";
        string Plane(int t) => (g.Shapes[t].H * g.Shapes[t].W).ToString(CultureInfo.InvariantCulture);

        var trained = new SortedSet<int>();
        foreach (var node in g.Nodes)
            foreach (var p in Parameters(node)) trained.Add(p.Offset);

        w.Line($"/// <summary>Floats of the training arena (batch {n}): saved activations, gradients and BatchNorm statistics, placed by liveness.</summary>");
        w.Line($"public const int TrainingArenaLength = {plan.ArenaFloats};");
        w.Line($"protected override int TrainingArenaFloats => TrainingArenaLength;");
        w.Line($"protected override int TrainingOutputOffset => {plan.Activation[g.Output]};");
        w.Line($"protected override int TrainingOutputGradientOffset => {plan.Gradient[g.Output]};");
        w.Line($"private static readonly int[] s_trained = {{ {string.Join(", ", trained)} }};");
        w.Line("/// <summary>Offsets of the parameters the graph reads (a parameter nothing reads gets no update, as in PyTorch).</summary>");
        w.Line("protected override global::System.ReadOnlySpan<int> TrainedParameters => s_trained;");
        w.Line();

        w.Line("/// <summary>The training forward pass over the batch: every node of the tensor graph, in order.</summary>");
        w.Line(CodeWriter.Optimized);
        w.Open($"protected override void TrainForward({Ctx} t, global::System.ReadOnlySpan<float> input)");
        w.Line("var a = t.Arena;");
        w.Line($"input.CopyTo({A(g.Input)});");
        string layer = "";
        foreach (var node in g.Nodes)
        {
            if (node.Layer != layer) w.Line("// " + node.Layer);
            layer = node.Layer;
            var o = g.Shapes[node.Out];
            switch (node)
            {
                case ConvNode c:
                {
                    var x = g.Shapes[c.X];
                    w.Line($"t.Conv({A(c.X)}, {x.C}, {x.H}, {x.W}, {P(c.Weight)}, {A(c.Out)}, {o.C}, {o.H}, {o.W}, {c.Kernel}, {c.Stride}, {c.Dilation}, {c.Groups});");
                    break;
                }
                case ConvTransposeNode c:
                {
                    var x = g.Shapes[c.X];
                    w.Line($"t.ConvTranspose({A(c.X)}, {x.C}, {x.H}, {x.W}, {P(c.Weight)}, {A(c.Out)}, {o.C}, {o.H}, {o.W}, {c.Kernel}, {c.Stride});");
                    break;
                }
                case BiasNode b:
                    w.Line($"t.Bias({A(b.X)}, {A(b.Out)}, {o.C}, {Plane(b.Out)}, {P(b.Bias)});");
                    break;
                case BatchNormNode b:
                {
                    int s = plan.Statistics[b.Out];
                    w.Line($"t.BatchNorm({A(b.X)}, {A(b.Out)}, {o.C}, {Plane(b.Out)}, {P(b.Bn.Gamma)}, {P(b.Bn.Beta)}, {M(b.Bn.Mean)}, {M(b.Bn.Variance)}, " +
                           $"{b.Eps.ToString("R", CultureInfo.InvariantCulture)}, a.Slice({s}, {o.C}), a.Slice({s + o.C}, {o.C}));");
                    break;
                }
                case PReluNode p:
                    w.Line($"t.PRelu({A(p.X)}, {A(p.Out)}, {o.C}, {Plane(p.Out)}, {P(p.Slope)});");
                    break;
                case BatchNormPReluNode b:
                {
                    int s = plan.Statistics[b.Out];
                    w.Line($"t.BatchNormPRelu({A(b.X)}, {A(b.Out)}, {o.C}, {Plane(b.Out)}, {P(b.Bn.Gamma)}, {P(b.Bn.Beta)}, {M(b.Bn.Mean)}, {M(b.Bn.Variance)}, " +
                           $"{b.Eps.ToString("R", CultureInfo.InvariantCulture)}, {P(b.Slope)}, a.Slice({s}, {3 * o.C}));");
                    break;
                }
                case SumNode s:
                    w.Line($"{Ctx}.Sum({A(s.A)}, {A(s.B)}, {A(s.Out)});");
                    break;
                case AvgPoolNode p:
                {
                    var x = g.Shapes[p.X];
                    w.Line($"t.AvgPool({A(p.X)}, {x.C}, {x.H}, {x.W}, {A(p.Out)}, {o.H}, {o.W});");
                    break;
                }
                case GlobalAvgPoolNode p:
                    w.Line($"t.GlobalAvgPool({A(p.X)}, {o.C}, {Plane(p.X)}, {A(p.Out)});");
                    break;
                case ResizeNode r:
                {
                    var x = g.Shapes[r.X];
                    w.Line($"t.Resize({A(r.X)}, {x.C}, {x.H}, {x.W}, {A(r.Out)}, {o.H}, {o.W});");
                    break;
                }
                case AdaptiveAvgPoolNode r:
                {
                    var x = g.Shapes[r.X];
                    w.Line($"t.AdaptiveAvgPool({A(r.X)}, {x.C}, {x.H}, {x.W}, {A(r.Out)}, {o.H}, {o.W});");
                    break;
                }
                case ShuffleNode s:
                    w.Line($"t.Shuffle({A(s.X)}, {o.C}, {Plane(s.Out)}, {s.Groups}, {A(s.Out)});");
                    break;
                case GateNode gate:
                    w.Line($"t.Gate({A(gate.X)}, {A(gate.Gate)}, {A(gate.Out)}, {o.C}, {Plane(gate.Out)});");
                    break;
                case SliceNode s:
                    w.Line($"t.Slice({A(s.X)}, {g.Shapes[s.X].C}, {Plane(s.X)}, {s.From}, {s.To}, {A(s.Out)});");
                    break;
                case ConcatNode c:
                {
                    int at = 0;
                    foreach (int part in c.Parts)
                    {
                        w.Line($"t.ConcatPart({A(part)}, {g.Shapes[part].C}, {Plane(part)}, {A(c.Out)}, {o.C}, {at});");
                        at += g.Shapes[part].C;
                    }
                    break;
                }
                case ReshapeNode r:
                    w.Line($"{A(r.X)}.CopyTo({A(r.Out)});");
                    break;
                default:
                    throw new System.InvalidOperationException("no training rule for " + node.GetType().Name);
            }
        }
        w.Close();
        w.Line();

        w.Line("/// <summary>The backward pass: each node's gradient rule in reverse; each gradient's first contribution writes it, later ones add (a gradient no rule writes whole is cleared first).</summary>");
        w.Line(CodeWriter.Optimized);
        w.Open($"protected override void TrainBackward({Ctx} t)");
        w.Line("var a = t.Arena;");
        w.Line("var d = global::System.MemoryExtensions.AsSpan(t.ParameterGradients);");
        // Which gradients each rule clears first and which it writes whole (BackwardSteps: shared with the CUDA printer).
        layer = "";
        foreach (var step in BackwardSteps.Build(plan))
        {
            var node = g.Nodes[step.Node];
            if (step.ClearOutput) w.Line($"{D(node.Out)}.Clear();");
            if (node.Layer != layer) w.Line("// " + node.Layer);
            layer = node.Layer;
            foreach (int cleared in step.ClearInputs) w.Line($"{D(cleared)}.Clear();");
            string Over(int position) => step.Overwrite[position] ? "true" : "false";
            var o = g.Shapes[node.Out];
            string dy = D(node.Out);
            switch (node)
            {
                case ConvNode c:
                {
                    var x = g.Shapes[c.X];
                    w.Line($"t.ConvBackward({A(c.X)}, {x.C}, {x.H}, {x.W}, {P(c.Weight)}, {dy}, {o.C}, {o.H}, {o.W}, {c.Kernel}, {c.Stride}, {c.Dilation}, {c.Groups}, {D(c.X)}, {G(c.Weight)}, overwrite: {Over(0)});");
                    break;
                }
                case ConvTransposeNode c:
                {
                    var x = g.Shapes[c.X];
                    w.Line($"t.ConvTransposeBackward({A(c.X)}, {x.C}, {x.H}, {x.W}, {P(c.Weight)}, {dy}, {o.C}, {o.H}, {o.W}, {c.Kernel}, {c.Stride}, {D(c.X)}, {G(c.Weight)}, overwrite: {Over(0)});");
                    break;
                }
                case BiasNode b:
                    w.Line($"t.BiasBackward({dy}, {o.C}, {Plane(b.Out)}, {D(b.X)}, {G(b.Bias)}, overwrite: {Over(0)});");
                    break;
                case BatchNormNode b:
                {
                    int s = plan.Statistics[b.Out];
                    w.Line($"t.BatchNormBackward({A(b.X)}, {dy}, {o.C}, {Plane(b.Out)}, {P(b.Bn.Gamma)}, a.Slice({s}, {o.C}), a.Slice({s + o.C}, {o.C}), {D(b.X)}, {G(b.Bn.Gamma)}, {G(b.Bn.Beta)}, overwrite: {Over(0)});");
                    break;
                }
                case PReluNode p:
                    w.Line($"t.PReluBackward({A(p.X)}, {dy}, {o.C}, {Plane(p.Out)}, {P(p.Slope)}, {D(p.X)}, {G(p.Slope)}, overwrite: {Over(0)});");
                    break;
                case BatchNormPReluNode b:
                {
                    int s = plan.Statistics[b.Out];
                    w.Line($"t.BatchNormPReluBackward({A(b.X)}, {dy}, {o.C}, {Plane(b.Out)}, {P(b.Bn.Gamma)}, {P(b.Bn.Beta)}, {P(b.Bn.Mean)}, {P(b.Bn.Variance)}, " +
                           $"{b.Eps.ToString("R", CultureInfo.InvariantCulture)}, {P(b.Slope)}, a.Slice({s}, {3 * o.C}), {D(b.X)}, {G(b.Bn.Gamma)}, {G(b.Bn.Beta)}, {G(b.Slope)}, overwrite: {Over(0)});");
                    break;
                }
                case SumNode s:
                {
                    // An operand whose gradient is this sum's own buffer (TrainingPlan.SharesGradient) is already done.
                    bool shareA = plan.SharesGradient(s.A), shareB = plan.SharesGradient(s.B);
                    if (shareA && shareB) break;
                    string overA = Over(0), overB = Over(1);
                    w.Line($"{Ctx}.SumBackward({dy}, {(shareA ? "default" : D(s.A))}, {(shareB ? "default" : D(s.B))}, {overA}, {overB});");
                    break;
                }
                case AvgPoolNode p when plan.HasGradient(p.X):
                {
                    var x = g.Shapes[p.X];
                    w.Line($"t.AvgPoolBackward({dy}, {x.C}, {x.H}, {x.W}, {o.H}, {o.W}, {D(p.X)});");
                    break;
                }
                case GlobalAvgPoolNode p when plan.HasGradient(p.X):
                    w.Line($"t.GlobalAvgPoolBackward({dy}, {o.C}, {Plane(p.X)}, {D(p.X)});");
                    break;
                case ResizeNode r when plan.HasGradient(r.X):
                {
                    var x = g.Shapes[r.X];
                    w.Line($"t.ResizeBackward({dy}, {x.C}, {x.H}, {x.W}, {o.H}, {o.W}, {D(r.X)});");
                    break;
                }
                case AdaptiveAvgPoolNode r when plan.HasGradient(r.X):
                {
                    var x = g.Shapes[r.X];
                    w.Line($"t.AdaptiveAvgPoolBackward({dy}, {x.C}, {x.H}, {x.W}, {o.H}, {o.W}, {D(r.X)});");
                    break;
                }
                case ShuffleNode s when plan.HasGradient(s.X):
                    w.Line($"t.ShuffleBackward({dy}, {o.C}, {Plane(s.Out)}, {s.Groups}, {D(s.X)});");
                    break;
                case GateNode gate:
                    w.Line($"t.GateBackward({A(gate.X)}, {A(gate.Gate)}, {dy}, {o.C}, {Plane(gate.Out)}, {D(gate.X)}, {D(gate.Gate)});");
                    break;
                case SliceNode s when plan.HasGradient(s.X):
                    w.Line($"t.SliceBackward({dy}, {g.Shapes[s.X].C}, {Plane(s.X)}, {s.From}, {s.To}, {D(s.X)});");
                    break;
                case ConcatNode c:
                {
                    int at = 0;
                    for (int i = 0; i < c.Parts.Count; i++)
                    {
                        int part = c.Parts[i];
                        if (plan.HasGradient(part)) w.Line($"t.ConcatPartBackward({dy}, {o.C}, {at}, {g.Shapes[part].C}, {Plane(part)}, {D(part)}, overwrite: {Over(i)});");
                        at += g.Shapes[part].C;
                    }
                    break;
                }
                case ReshapeNode r when plan.HasGradient(r.X):
                    w.Line($"{Ctx}.CopyBackward({dy}, {D(r.X)}, overwrite: {Over(0)});");
                    break;
            }
        }
        w.Close();
    }

    /// <summary>The parameters a node reads (and so trains).</summary>
    internal static IEnumerable<Param> Parameters(Node node) => node switch
    {
        ConvNode c => new[] { c.Weight },
        ConvTransposeNode c => new[] { c.Weight },
        BiasNode b => new[] { b.Bias },
        BatchNormNode b => new[] { b.Bn.Gamma, b.Bn.Beta },
        PReluNode p => new[] { p.Slope },
        BatchNormPReluNode b => new[] { b.Bn.Gamma, b.Bn.Beta, b.Slope },
        _ => System.Array.Empty<Param>(),
    };
}
