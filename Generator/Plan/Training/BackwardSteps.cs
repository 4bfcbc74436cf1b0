using System.Collections.Generic;
using System.Linq;
using Espnet.Compiled.Generator.Plan.Graph;

namespace Espnet.Compiled.Generator.Plan.Training;

/// <summary>
/// One node's gradient rule in the backward pass: the gradients to clear before it (its output's, when nothing has
/// written it yet; the inputs' of a rule that adds into part of them), and for each input, in the node's
/// <see cref="Node.Inputs"/> order, whether the rule's contribution is the first (written, not added).
/// </summary>
internal sealed record BackwardStep(int Node, bool ClearOutput, int[] ClearInputs, bool[] Overwrite);

/// <summary>
/// The backward pass as steps over the training plan, for every printer (C# and CUDA): the nodes in reverse, each
/// gradient cleared only where no rule writes it whole first. A gradient born (its room taken) but not yet written
/// is pending; the first rule that writes one whole overwrites it instead of adding to zeros; any other first
/// contribution, or a read, clears it first.
/// </summary>
internal static class BackwardSteps
{
    public static List<BackwardStep> Build(TrainingPlan plan)
    {
        var g = plan.Graph;
        var pending = new HashSet<int>();
        if (plan.ClearedAt.TryGetValue(plan.LossTime, out var atLoss))
            foreach (int tensor in atLoss.Where(x => x != g.Output)) pending.Add(tensor);
        var steps = new List<BackwardStep>();
        for (int k = g.Nodes.Count - 1; k >= 0; k--)
        {
            var node = g.Nodes[k];
            if (plan.ClearedAt.TryGetValue(plan.Backward(k), out var born))
                foreach (int tensor in born) pending.Add(tensor);
            if (!plan.HasGradient(node.Out)) continue;
            bool clearOutput = pending.Remove(node.Out);
            var inputs = node.Inputs.ToArray();
            var overwrite = new bool[inputs.Length];
            var clears = new List<int>();
            for (int i = 0; i < inputs.Length; i++)
            {
                int x = inputs[i];
                switch (Write(plan, node, i))
                {
                    case Contribution.Whole:
                        overwrite[i] = pending.Remove(x);
                        break;
                    case Contribution.Part:
                        if (pending.Remove(x)) clears.Add(x);
                        break;
                }
            }
            steps.Add(new BackwardStep(k, clearOutput, clears.ToArray(), overwrite));
        }
        return steps;
    }

    private enum Contribution { None, Whole, Part }

    /// <summary>How the node's rule contributes to its input at <paramref name="position"/>: all of it, added into (part of) it, or not at all.</summary>
    private static Contribution Write(TrainingPlan plan, Node node, int position)
    {
        int x = node.Inputs.ElementAt(position);
        return node switch
        {
            ConvNode or ConvTransposeNode or BiasNode or BatchNormNode or PReluNode or BatchNormPReluNode => Contribution.Whole,
            // An operand whose gradient is the sum's own buffer (TrainingPlan.SharesGradient) gets nothing written.
            SumNode => plan.SharesGradient(x) ? Contribution.None : Contribution.Whole,
            ConcatNode or ReshapeNode => plan.HasGradient(x) ? Contribution.Whole : Contribution.None,
            GateNode => Contribution.Part,
            AvgPoolNode or GlobalAvgPoolNode or ResizeNode or AdaptiveAvgPoolNode or ShuffleNode or SliceNode =>
                plan.HasGradient(x) ? Contribution.Part : Contribution.None,
            _ => Contribution.None,
        };
    }
}
