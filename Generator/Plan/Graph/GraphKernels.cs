using System.Collections.Generic;
using System.Linq;

namespace Espnet.Compiled.Generator.Plan.Graph;

/// <summary>
/// One kernel of a fused graph: a head node, then the element-wise nodes applied to its value before it is
/// stored (bias, BatchNorm, PReLU, a sum with a tensor already made, the sigmoid gate), each reading the one
/// before it and read by nothing else. Its output is the last node's.
/// </summary>
internal sealed record GraphKernel(Node Head, List<Node> Epilogue, List<Branch>? Branches = null)
{
    public Node Last => Epilogue.Count > 0 ? Epilogue[Epilogue.Count - 1] : Head;
    public int Out => Last.Out;
}

/// <summary>One branch of a block kernel: a convolution of the block's reduced tensor, and the HFF sum that adds the branch before it (null: none).</summary>
internal sealed record Branch(ConvNode Conv, SumNode? Sum, int Part);

/// <summary>
/// The tensor graph formed into kernels for a backend that launches one kernel per group (CUDA), two rewrites:
/// <list type="bullet">
/// <item><b>Concatenation in place.</b> A concatenation's parts are made straight into its channel slices (each part a
/// view: the concatenation's buffer, a channel offset); the concatenation itself is no kernel. An ESP block's
/// branches, its HFF sums and the ESPNet input reinforcement write where the concatenation reads them.</item>
/// <item><b>Element-wise epilogues.</b> A node whose input is a tensor read by it alone joins that tensor's kernel:
/// a convolution's bias, BatchNorm, PReLU and residual sum are applied to each value before it leaves the thread, and
/// an HFF sum is the branch convolution's epilogue. The other operand of a sum or gate must be made by an earlier
/// kernel.</item>
/// <item><b>Blocks.</b> A concatenation (in place) of convolutions of one tensor and of HFF sums of them — the
/// branches of an ESP or EESP block — becomes one kernel (<see cref="GraphKernel.Branches"/>): per pixel and branch
/// channel it computes every branch, the HFF prefix sums, and the element-wise nodes after the concatenation
/// (BatchNorm, PReLU, the residual sum), so neither the branches nor the concatenation are stored unless read.</item>
/// </list>
/// Backend-neutral: a printer prints <see cref="Kernels"/> in order, each writing <see cref="GraphKernel.Out"/>
/// at its view; <see cref="Root"/> and <see cref="ChannelOffset"/> say where every tensor lives.
/// </summary>
internal sealed record GraphKernels(TensorGraph Graph, List<GraphKernel> Kernels, int[] Root, int[] ChannelOffset)
{
    public static GraphKernels Build(TensorGraph g)
    {
        int tensors = g.Shapes.Count;
        var producer = new Node?[tensors];
        foreach (var node in g.Nodes) producer[node.Out] = node;
        var readers = new int[tensors];
        foreach (var node in g.Nodes)
            foreach (int i in node.Inputs) readers[i]++;

        // Concatenations in place: every part a distinct tensor some node makes (not the input), in one concatenation only.
        var parent = new int[tensors];
        var offset = new int[tensors];
        for (int t = 0; t < tensors; t++) parent[t] = t;
        var partOf = new int[tensors];
        foreach (var node in g.Nodes)
            if (node is ConcatNode c)
                foreach (int part in c.Parts) partOf[part]++;
        var inPlace = new HashSet<int>();
        foreach (var node in g.Nodes)
        {
            if (node is not ConcatNode c || c.Out == g.Input) continue;
            var parts = c.Parts.ToList();
            if (parts.Distinct().Count() != parts.Count || parts.Any(p => p == g.Input || p == g.Output || producer[p] is null || partOf[p] != 1)) continue;
            int at = 0;
            foreach (int part in parts)
            {
                parent[part] = c.Out;
                offset[part] = at;
                at += g.Shapes[part].C;
            }
            inPlace.Add(c.Out);
        }
        // Resolve chains (a concatenation that is itself a part of another).
        var root = new int[tensors];
        var channel = new int[tensors];
        for (int t = 0; t < tensors; t++)
        {
            int r = t, o = 0;
            while (parent[r] != r)
            {
                o += offset[r];
                r = parent[r];
            }
            root[t] = r;
            channel[t] = o;
        }

        // Kernels, in node order; element-wise nodes join the kernel of their input where they may.
        var kernels = new List<GraphKernel>();
        var kernelOf = new int[tensors];           // the kernel that makes a tensor (-1: the input, or a concatenation in place)
        for (int t = 0; t < tensors; t++) kernelOf[t] = -1;
        bool Ready(int t, int before) => t == g.Input || (kernelOf[t] >= 0 && kernelOf[t] < before) || (inPlace.Contains(t) && PartsReady(t, before));
        bool PartsReady(int t, int before) => ((ConcatNode)producer[t]!).Parts.All(p => Ready(p, before));
        foreach (var node in g.Nodes)
        {
            if (node is ConcatNode && inPlace.Contains(node.Out)) continue;
            int joined = -1;
            foreach (var (main, others) in Chainable(node))
            {
                if (readers[main] != 1 || main == g.Output || root[main] != main || kernelOf[main] < 0) continue;
                int k = kernelOf[main];
                if (kernels[k].Out != main || !others.All(o => Ready(o, k))) continue;
                joined = k;
                break;
            }
            if (joined >= 0)
            {
                kernels[joined].Epilogue.Add(node);
                kernelOf[node.Out] = joined;
                continue;
            }
            kernelOf[node.Out] = kernels.Count;
            kernels.Add(new GraphKernel(node, new List<Node>()));
        }
        FuseBlocks(g, kernels, producer, readers, inPlace);
        return new GraphKernels(g, kernels, root, channel);
    }

    /// <summary>The block rewrite (see the type's summary): the branch kernels and the kernel that reads the concatenation become one.</summary>
    private static void FuseBlocks(TensorGraph g, List<GraphKernel> kernels, Node?[] producer, int[] readers, HashSet<int> inPlace)
    {
        foreach (var concat in g.Nodes.OfType<ConcatNode>().Where(c => inPlace.Contains(c.Out)).ToList())
        {
            var parts = concat.Parts.ToList();
            var branches = new List<Branch>();
            int reduced = -1;
            for (int k = 0; k < parts.Count && branches.Count == k; k++)
            {
                int part = parts[k];
                bool readNext = k + 1 < parts.Count && producer[parts[k + 1]] is SumNode next && (next.A == part || next.B == part);
                if (readers[part] != (readNext ? 2 : 1)) break;
                switch (producer[part])
                {
                    case ConvNode cv when reduced < 0 || cv.X == reduced:
                        reduced = cv.X;
                        branches.Add(new Branch(cv, null, part));
                        break;
                    case SumNode sum when k > 0 && (sum.A == parts[k - 1] || sum.B == parts[k - 1]):
                    {
                        int other = sum.A == parts[k - 1] ? sum.B : sum.A;
                        if (readers[other] == 1 && producer[other] is ConvNode cv && cv.X == reduced) branches.Add(new Branch(cv, sum, part));
                        break;
                    }
                }
            }
            if (branches.Count != parts.Count || parts.Count < 2) continue;
            // The kernels that make the branches: a convolution each, with its HFF sum as the only epilogue.
            var removed = new List<int>();
            foreach (var b in branches)
            {
                int k = kernels.FindIndex(x => x.Branches is null && x.Head == b.Conv);
                if (k < 0 || kernels[k].Epilogue.Count != (b.Sum is null ? 0 : 1) || (b.Sum is not null && kernels[k].Epilogue[0] != b.Sum)) break;
                removed.Add(k);
            }
            if (removed.Count != branches.Count) continue;
            // The kernel that reads the concatenation, when what it does is element-wise on it.
            var epilogue = new List<Node>();
            int reader = readers[concat.Out] == 1 && concat.Out != g.Output
                ? kernels.FindIndex(x => x.Branches is null && Chainable(x.Head).Any(c => c.Main == concat.Out))
                : -1;
            if (reader >= 0)
            {
                epilogue.Add(kernels[reader].Head);
                epilogue.AddRange(kernels[reader].Epilogue);
                removed.Add(reader);
            }
            int at = removed.Max();
            var fused = new GraphKernel(concat, epilogue, branches);
            kernels[at] = fused;
            foreach (int k in removed.Where(k => k != at).OrderByDescending(k => k)) kernels.RemoveAt(k);
        }
    }

    /// <summary>
    /// For an element-wise node, each way it could join its input's kernel: the input it would take from that kernel
    /// (the kernel's value) and the tensors it reads besides.
    /// </summary>
    private static IEnumerable<(int Main, int[] Others)> Chainable(Node node) => node switch
    {
        BiasNode b => new[] { (b.X, System.Array.Empty<int>()) },
        BatchNormNode b => new[] { (b.X, System.Array.Empty<int>()) },
        PReluNode p => new[] { (p.X, System.Array.Empty<int>()) },
        GateNode gt => new[] { (gt.X, new[] { gt.Gate }) },
        // The later-made operand first: the other is then more likely made already.
        SumNode s when s.A != s.B => new[] { (s.B, new[] { s.A }), (s.A, new[] { s.B }) },
        _ => System.Array.Empty<(int, int[])>(),
    };
}
