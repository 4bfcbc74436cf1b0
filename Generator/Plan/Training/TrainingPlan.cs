using System.Collections.Generic;
using System.Linq;
using Espnet.Compiled.Generator.Model;
using Espnet.Compiled.Generator.Plan.Graph;

namespace Espnet.Compiled.Generator.Plan.Training;

/// <summary>
/// Where a training step keeps its tensors. The timeline is the forward nodes (time 1 .. F; the input at 0), the
/// loss (F + 1), then the backward of each node in reverse (node k at 2F + 1 - k). An activation lives from its
/// node to its last reader, or to the backward of a node that needs it saved (a convolution's input, for its
/// weight gradient; a BatchNorm's or PReLU's input; both operands of the gate) — and no longer. A gradient exists
/// for a tensor that depends on a parameter, lives from the backward of its last reader (where it is cleared and
/// first added to) to the backward of its producer. All of them, and BatchNorm's saved statistics, are placed
/// in one arena by liveness, for the whole batch.
/// </summary>
internal sealed record TrainingPlan(TensorGraph Graph, int Batch, int[] Activation, int[] Gradient, int[] Statistics, int ArenaFloats,
    Dictionary<int, List<int>> ClearedAt, HashSet<int> SharedGradients)
{
    /// <summary>
    /// Whether a sum's operand has its gradient in the sum's own gradient buffer (the operand is read by that sum
    /// alone, so its gradient is the sum's, unchanged): the sum's backward has nothing to write for it.
    /// </summary>
    public bool SharesGradient(int tensor) => SharedGradients.Contains(tensor);

    public int Forward(int node) => node + 1;
    public int Backward(int node) => 2 * Graph.Nodes.Count + 1 - node;
    public int LossTime => Graph.Nodes.Count + 1;

    public bool HasGradient(int tensor) => Gradient[tensor] >= 0;

    /// <summary>The plan, or why there is none (a batch too large for one arena).</summary>
    public static (TrainingPlan? Plan, string? Failure) Build(TensorGraph graph, int batch)
    {
        graph = Fuse(graph);
        int tensors = graph.Shapes.Count, nodes = graph.Nodes.Count;
        var producer = new int[tensors];
        for (int t = 0; t < tensors; t++) producer[t] = -1;
        for (int k = 0; k < nodes; k++) producer[graph.Nodes[k].Out] = k;

        // Which tensors depend on a parameter (and so carry a gradient).
        var needs = new bool[tensors];
        foreach (var node in graph.Nodes)
            needs[node.Out] = HasParameters(node) || node.Inputs.Any(i => needs[i]);

        int Time(int k) => k + 1;
        int Back(int k) => 2 * nodes + 1 - k;
        var first = new int[tensors];
        var last = new int[tensors];
        for (int t = 0; t < tensors; t++) first[t] = last[t] = producer[t] < 0 ? 0 : Time(producer[t]);
        last[graph.Output] = nodes + 1;
        var gradFirst = new int[tensors];
        for (int t = 0; t < tensors; t++) gradFirst[t] = int.MaxValue;
        gradFirst[graph.Output] = nodes + 1;
        for (int k = 0; k < nodes; k++)
        {
            var node = graph.Nodes[k];
            foreach (int i in node.Inputs)
            {
                last[i] = System.Math.Max(last[i], Time(k));
                gradFirst[i] = System.Math.Min(gradFirst[i], Back(k));
            }
            foreach (int saved in Saved(node)) last[saved] = System.Math.Max(last[saved], Back(k));
        }

        // A sum's operand that nothing else reads has the sum's gradient as its own: one buffer for both (a chain of
        // such sums, one), living from the first's birth to the last member's producer. HFF's branch outputs and
        // the residual blocks' convolutions are the cases; each saves a copy of a map per step.
        var readers = new int[tensors];
        foreach (var node in graph.Nodes)
            foreach (int i in node.Inputs) readers[i]++;
        var sharedWith = new Dictionary<int, int>();
        foreach (var node in graph.Nodes)
            if (node is SumNode sum && sum.A != sum.B && needs[sum.Out])
                foreach (int operand in new[] { sum.B, sum.A })
                    if (needs[operand] && readers[operand] == 1 && producer[operand] >= 0)
                    {
                        sharedWith[operand] = sum.Out;
                        break;
                    }
        int Root(int t) => sharedWith.TryGetValue(t, out int of) ? Root(of) : t;

        var buffers = new List<Arena.Buffer>();
        long Floats(int t) => (long)batch * graph.Shapes[t].Elements;
        if (Enumerable.Range(0, tensors).Any(t => Floats(t) > int.MaxValue / 4))
            return (null, $"a batch of {batch} makes tensors too large for one training arena");
        for (int t = 0; t < tensors; t++)
        {
            if (producer[t] < 0 && t != graph.Input) continue;   // a tensor fusion left unmade
            buffers.Add(new Arena.Buffer(3 * t, (int)Floats(t), first[t], last[t]));
            if (!needs[t]) continue;
            if (sharedWith.ContainsKey(t)) continue;
            int born = producer[t] >= 0 && gradFirst[t] == int.MaxValue ? Back(producer[t]) : gradFirst[t];   // read by nothing: zero
            int dies = producer[t] >= 0 ? Back(producer[t]) : born;
            foreach (int member in sharedWith.Keys.Where(m => Root(m) == t)) dies = System.Math.Max(dies, Back(producer[member]));
            buffers.Add(new Arena.Buffer(3 * t + 1, (int)Floats(t), born, System.Math.Max(born, dies)));
        }
        for (int k = 0; k < nodes; k++)
            if (graph.Nodes[k] is BatchNormNode or BatchNormPReluNode)
                buffers.Add(new Arena.Buffer(3 * graph.Nodes[k].Out + 2, StatisticsPerChannel(graph.Nodes[k]) * graph.Shapes[graph.Nodes[k].Out].C, Time(k), Back(k)));
        var (offsets, size) = Arena.Place(buffers);

        var activation = Enumerable.Range(0, tensors).Select(t => offsets.TryGetValue(3 * t, out int o) ? o : -1).ToArray();
        var gradient = Enumerable.Range(0, tensors).Select(t => needs[t] ? offsets[3 * Root(t) + 1] : -1).ToArray();
        var statistics = Enumerable.Range(0, tensors).Select(t => offsets.TryGetValue(3 * t + 2, out int o) ? o : -1).ToArray();
        var cleared = new Dictionary<int, List<int>>();
        foreach (var b in buffers.Where(b => b.Id % 3 == 1))
        {
            if (!cleared.TryGetValue(b.First, out var list)) cleared[b.First] = list = new List<int>();
            list.Add(b.Id / 3);
        }
        return (new TrainingPlan(graph, batch, activation, gradient, statistics, size, cleared, new HashSet<int>(sharedWith.Keys)), null);
    }

    private static bool HasParameters(Node node) => node is ConvNode or ConvTransposeNode or BiasNode or BatchNormNode or PReluNode or BatchNormPReluNode;

    /// <summary>Saved statistics per channel: mean and 1/std; with a fused PReLU also the float scale the forward used.</summary>
    public static int StatisticsPerChannel(Node node) => node is BatchNormPReluNode ? 3 : 2;

    /// <summary>
    /// A BatchNorm whose output nothing but one PReLU reads becomes one node with it: the BatchNorm's output is never
    /// stored (nor its gradient), and forward and backward make one and two passes over the tensor where the pair
    /// made two and three (ESPNet and ESPNetv2 follow almost every BatchNorm with a PReLU).
    /// </summary>
    private static TensorGraph Fuse(TensorGraph graph)
    {
        var readers = new int[graph.Shapes.Count];
        foreach (var node in graph.Nodes)
            foreach (int i in node.Inputs) readers[i]++;
        var producer = graph.Nodes.ToDictionary(n => n.Out);
        var fused = new Dictionary<int, BatchNormPReluNode>();   // the PReLU's output -> the fused node
        var gone = new HashSet<int>();                            // the BatchNorms' outputs
        foreach (var node in graph.Nodes)
            if (node is PReluNode p && readers[p.X] == 1 && p.X != graph.Output && producer.TryGetValue(p.X, out var made) && made is BatchNormNode b)
            {
                fused[p.Out] = new BatchNormPReluNode(p.Out, p.Layer, b.X, b.Bn, b.Eps, p.Slope);
                gone.Add(b.Out);
            }
        if (fused.Count == 0) return graph;
        var nodes = graph.Nodes.Where(n => !gone.Contains(n.Out)).Select(n => fused.TryGetValue(n.Out, out var f) ? (Node)f : n);
        return graph with { Nodes = nodes.ToEquatableArray() };
    }

    /// <summary>The inputs a node's backward reads.</summary>
    private static IEnumerable<int> Saved(Node node) => node switch
    {
        ConvNode c => new[] { c.X },
        ConvTransposeNode t => new[] { t.X },
        BatchNormNode b => new[] { b.X },
        PReluNode p => new[] { p.X },
        BatchNormPReluNode b => new[] { b.X },
        GateNode g => new[] { g.X, g.Gate },
        _ => System.Array.Empty<int>(),
    };
}
