using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;
using Espnet.Compiled.Generator.Emit.Cpu;
using Espnet.Compiled.Generator.Plan;
using Espnet.Compiled.Generator.Plan.Graph;
using Espnet.Compiled.Generator.Plan.Schedule;
using Espnet.Compiled.Generator.Plan.Training;
using Espnet.Compiled.Generator.Shape;

namespace Espnet.Compiled.Generator.Emit.Cuda;

/// <summary>
/// The CUDA printer: the network's tensor graph (inference: BatchNorm on its running statistics) as one CUDA C
/// translation unit, one kernel per group of <see cref="GraphKernels"/> (a node with its element-wise epilogue, or an
/// ESP/EESP block's branches and what follows their concatenation) with every shape, offset and loop bound a
/// constant, over two buffers:
/// the parameter store <c>p</c> (the C# store's layout) and an activation arena <c>a</c> placed by liveness for the
/// whole batch. The same source compiles with NVRTC (the GPU), clang (<c>-nocudainc</c>, PTX, in CI) and a C++
/// compiler through a CPU shim that runs every thread in turn (<c>ESPNET_CUDA_SHIM</c>, in CI). Knows nodes, not
/// layer kinds. Embedded in the generated C# as UTF-8 with the launch table (kernel, threads); the training step's
/// kernels (<see cref="CudaTrainingPrinter"/>) follow in the same text.
/// </summary>
internal static class CudaPrinter
{
    public static void Print(CodeWriter w, ShapedNetwork network, int parameterFloats)
    {
        var (graph, failure) = TensorGraph.Build(network);
        if (graph is null)
        {
            w.Line($"public static global::System.ReadOnlySpan<byte> CudaSource => throw new global::System.NotSupportedException({CodeWriter.Str("this network has no CUDA kernels yet: " + failure)});");
            return;
        }
        int n = network.Spec.Batch;
        var (source, arena, launches) = Source(graph, n, network.Spec.ClassName);
        // The training kernels in the same translation unit, from the training plan the C# training pass uses.
        var (plan, _) = TrainingPlan.Build(graph, n);
        var text = new StringBuilder(source);
        var training = plan is null ? default : CudaTrainingPrinter.Append(text, plan, parameterFloats,
            plan.Graph.Nodes.SelectMany(TrainingPrinter.Parameters).Select(p => p.Offset).Distinct().Count());
        w.Line("/// <summary>This network as CUDA C: its forward kernels (fused over its tensor graph) and its training step's, shapes and offsets as constants (UTF-8).</summary>");
        w.Line("public static global::System.ReadOnlySpan<byte> CudaSource => \"\"\"");
        foreach (string line in text.ToString().Split('\n')) w.Line(line);
        w.Line("\"\"\"u8;");
        w.Line($"/// <summary>Floats of the CUDA activation arena (batch {n}).</summary>");
        w.Line($"public const long CudaArenaLength = {arena.Size};");
        w.Line($"public const long CudaInputStart = {arena.Offsets[graph.Input]}, CudaOutputStart = {arena.Offsets[graph.Output]};");
        w.Line("/// <summary>The kernels in launch order and how many threads each needs (one per output element).</summary>");
        w.Line("public static (string Kernel, long Threads)[] CudaLaunches => CudaTables.Launches;");
        w.Line("protected override global::System.ReadOnlySpan<byte> CudaKernelSource => CudaSource;");
        w.Line("protected override (string Kernel, long Threads)[] CudaKernelLaunches => CudaLaunches;");
        w.Line("protected override long CudaArenaFloats => CudaArenaLength;");
        w.Line("protected override long CudaInputOffset => CudaInputStart;");
        w.Line("protected override long CudaOutputOffset => CudaOutputStart;");
        if (plan is not null)
        {
            w.Line("/// <summary>The training step on the GPU: its launches in order (clear, forward, loss, backward), the optimizers' kernels, the arena and the work area's regions.</summary>");
            w.Line("public static global::Espnet.Compiled.Cuda.CudaTrainingKernels CudaTraining => CudaTables.Training;");
            w.Line("protected override global::Espnet.Compiled.Cuda.CudaTrainingKernels? CudaTrainingKernels => CudaTraining;");
        }
        // The tables live in a class of their own: its initialiser (hundreds of launches) runs, and is compiled, only when
        // the CUDA backend first asks for them, not with the network's other statics in every CPU process.
        w.Line("/// <summary>The CUDA launch tables, built on the CUDA backend's first use.</summary>");
        w.Open("private static class CudaTables");
        w.Line("public static readonly (string Kernel, long Threads)[] Launches =");
        w.Line("[");
        foreach (var (name, threads) in launches) w.Line($"    ({CodeWriter.Str(name)}, {threads}),");
        w.Line("];");
        if (plan is not null)
        {
            var g = plan.Graph;
            var work = training.Work;
            w.Line("public static readonly global::Espnet.Compiled.Cuda.CudaTrainingKernels Training = new(");
            w.Line("[");
            foreach (var (name, threads) in training.Step) w.Line($"    ({CodeWriter.Str(name)}, {threads}),");
            w.Line("],");
            w.Line("[");
            foreach (var (name, threads) in training.Optimizers) w.Line($"    ({CodeWriter.Str(name)}, {threads}),");
            w.Line("],");
            w.Line($"    ArenaFloats: {plan.ArenaFloats}, WorkFloats: {work.Length}, Input: {plan.Activation[g.Input]}, Output: {plan.Activation[g.Output]}, " +
                   $"Labels: {work.Labels}, ClassWeights: {work.ClassWeights}, Loss: {work.Loss}, Hyper: {work.Hyper}, Groups: {work.Groups}, State: {work.State});");
        }
        w.Close();
    }

    /// <summary>The translation unit, the arena (offset per buffer: a tensor or a concatenation its parts live in, size) and the launches in order.</summary>
    public static (string Source, (Dictionary<int, long> Offsets, long Size) Arena, List<(string Name, long Threads)> Launches) Source(TensorGraph g, int batch, string network)
    {
        // Kernels: concatenations made in place, element-wise nodes fused into the kernel that makes their input.
        var fused = GraphKernels.Build(g);
        var kernels = fused.Kernels;
        int count = kernels.Count;
        // A buffer per root tensor, live from the first kernel that writes into it to the last that reads from it.
        var first = new Dictionary<int, int> { [fused.Root[g.Input]] = 0 };
        var last = new Dictionary<int, int> { [fused.Root[g.Input]] = 0 };
        void Touch(int tensor, int time, bool write)
        {
            int r = fused.Root[tensor];
            if (write && (!first.TryGetValue(r, out int f) || time < f)) first[r] = time;
            last[r] = System.Math.Max(last.TryGetValue(r, out int l) ? l : time, time);
        }
        for (int k = 0; k < count; k++)
        {
            // A block reads the tensor its branches convolve; any other kernel, its head's inputs.
            foreach (int i in kernels[k].Branches?.Select(b => b.Conv.X) ?? kernels[k].Head.Inputs) Touch(i, k + 1, write: false);
            foreach (var node in kernels[k].Epilogue)
                foreach (int i in node.Inputs) Touch(i, k + 1, write: false);
            Touch(kernels[k].Out, k + 1, write: true);
        }
        Touch(g.Output, count + 1, write: false);
        var buffers = first.Keys.Select(r => new Arena.Buffer(r, (int)System.Math.Min(int.MaxValue, batch * g.Shapes[r].Elements), first[r], last[r])).ToList();
        var (placed, size) = Arena.Place(buffers);
        var offsets = placed.ToDictionary(p => p.Key, p => (long)p.Value);

        // Element (n, c, y, x) of a tensor: in its root's buffer, at its channel offset.
        string At(int t, string c, string y, string x)
        {
            int r = fused.Root[t];
            var s = g.Shapes[r];
            string channel = fused.ChannelOffset[t] == 0 ? c : $"{fused.ChannelOffset[t]} + ({c})";
            return $"a[{offsets[r]}LL + (((long long)n * {s.C} + ({channel})) * {s.H} + ({y})) * {s.W} + ({x})]";
        }

        var s = new StringBuilder();
        s.Append(Prelude.Replace("{network}", network));
        var launches = new List<(string, long)>();
        for (int k = 0; k < count; k++)
        {
            var kernel = kernels[k];
            var o = g.Shapes[kernel.Out];
            long total = batch * o.Elements;
            string kinds = string.Join("_", new[] { kernel.Branches is null ? Kind(kernel.Head) : "block" }.Concat(kernel.Epilogue.Select(Kind)));
            string name = $"k{k}_{kinds}";
            launches.Add((name, total));
            string layers = string.Join(", ", new[] { kernel.Head }.Concat(kernel.Epilogue).Select(n => n.Layer).Distinct());
            if (kernel.Branches is { } branches)
            {
                // A block: per pixel and channel j of the branches, every branch, HFF, and the nodes after the concatenation.
                int widest = branches.Max(b => g.Shapes[b.Part].C);
                total = batch * (long)widest * o.H * o.W;
                launches[launches.Count - 1] = (name, total);
                s.Append($"\n// {layers}: {branches.Count} branches{(branches.Any(b => b.Sum is not null) ? ", HFF" : "")}, concatenation{string.Concat(kernel.Epilogue.Select(n => " " + Kind(n)))} -> {o.C}x{o.H}x{o.W}\n");
                s.Append($"extern \"C\" __global__ void {name}(const float* __restrict__ p, float* __restrict__ a)\n{{\n");
                s.Append($"    for (long long i = (long long)ESP_BID * ESP_BDIM + ESP_TID; i < {total}LL; i += (long long)ESP_GDIM * ESP_BDIM)\n    {{\n");
                s.Append($"        const int x = (int)(i % {o.W}), y = (int)(i / {o.W} % {o.H}), j = (int)(i / {(long)o.W * o.H} % {widest}), n = (int)(i / {(long)widest * o.H * o.W});\n");
                s.Append("        (void)x; (void)y; (void)n;\n");
                s.Append($"        float {string.Join(", ", branches.Select((_, b) => $"h{b} = 0.0f"))};\n");
                int offset = 0;
                for (int b = 0; b < branches.Count; b++)
                {
                    int width = g.Shapes[branches[b].Part].C;
                    s.Append(width < widest ? $"        if (j < {width})\n" : "").Append("        {\n");
                    s.Append("            {\n                const int c = j;\n");
                    foreach (string line in Body(g, branches[b].Conv, At).TrimEnd('\n').Split('\n')) s.Append("        ").Append(line).Append('\n');
                    s.Append($"                h{b} = {(branches[b].Sum is null ? "v" : $"v + h{b - 1}")};\n            }}\n");
                    s.Append($"            const int c = {offset} + j;\n");
                    string current = $"h{b}";
                    int input = kernel.Head.Out, applied = 0;
                    foreach (var node in kernel.Epilogue)
                    {
                        string next = $"h{b}_{++applied}";
                        s.Append("    ").Append(Apply(node, input, current, next, At));
                        current = next;
                        input = node.Out;
                    }
                    s.Append($"            {At(kernel.Out, "c", "y", "x")} = {current};\n        }}\n");
                    offset += width;
                }
                s.Append("    }\n}\n");
                continue;
            }
            s.Append($"\n// {layers}: {kinds.Replace('_', ' ')} -> {o.C}x{o.H}x{o.W}\n");
            s.Append($"extern \"C\" __global__ void {name}(const float* __restrict__ p, float* __restrict__ a)\n{{\n");
            s.Append($"    for (long long i = (long long)ESP_BID * ESP_BDIM + ESP_TID; i < {total}LL; i += (long long)ESP_GDIM * ESP_BDIM)\n    {{\n");
            s.Append($"        const int x = (int)(i % {o.W}), y = (int)(i / {o.W} % {o.H}), c = (int)(i / {(long)o.W * o.H} % {o.C}), n = (int)(i / {o.Elements});\n");
            s.Append("        (void)x; (void)y; (void)c; (void)n;\n");
            s.Append(Body(g, kernel.Head, At));
            // The epilogue on the value in the thread: each node reads the one before it.
            string value = "v";
            int made = kernel.Head.Out, step = 0;
            foreach (var node in kernel.Epilogue)
            {
                string next = $"v{++step}";
                s.Append(Apply(node, made, value, next, At));
                value = next;
                made = node.Out;
            }
            s.Append($"        {At(kernel.Out, "c", "y", "x")} = {value};\n    }}\n}}\n");
        }
        s.Append("\n#ifdef ESPNET_CUDA_SHIM\n// The CPU shim's forward pass: every kernel in order over the whole grid.\nextern \"C\" void espnet_forward_shim(const float* p, float* a)\n{\n");
        foreach (var (name, threads) in launches) s.Append($"    ESPNET_SHIM_LAUNCH({name}, {threads}LL, p, a);\n");
        s.Append("}\n#endif\n");
        var roots = new Dictionary<int, long> { [g.Input] = offsets[fused.Root[g.Input]], [g.Output] = offsets[fused.Root[g.Output]] };
        return (s.ToString(), (roots, size), launches);
    }

    private const string Prelude = """
        // Generated by Espnet.Compiled.Generator for {network}: the tensor graph's nodes as CUDA kernels.
        // One thread per output element (grid-stride), NCHW, every shape and offset a constant.
        // p: the parameter store (the C# store's layout); a: the activation arena.
        #if defined(ESPNET_CUDA_SHIM)
        // CPU emulation: the shim header defines __global__ and the thread coordinates.
        #define ESP_EXP(v) espnet_shim_exp(v)
        #define ESP_SQRT(v) espnet_shim_sqrt(v)
        #define ESP_FLOOR(v) espnet_shim_floor(v)
        #define ESP_LOG(v) espnet_shim_log(v)
        #define ESP_DSQRT(v) espnet_shim_dsqrt(v)
        #elif defined(__clang__) && defined(__CUDA__) && !defined(__CUDACC_RTC__) && !defined(__global__)
        // clang -nocudainc: no CUDA headers, so the attributes and special registers by hand.
        #define __global__ __attribute__((global))
        #define ESP_TID __nvvm_read_ptx_sreg_tid_x()
        #define ESP_BID __nvvm_read_ptx_sreg_ctaid_x()
        #define ESP_BDIM __nvvm_read_ptx_sreg_ntid_x()
        #define ESP_GDIM __nvvm_read_ptx_sreg_nctaid_x()
        #define ESP_EXP(v) __nvvm_ex2_approx_f((v) * 1.4426950408889634f)
        #define ESP_SQRT(v) __nvvm_sqrt_rn_f(v)
        #define ESP_FLOOR(v) __nvvm_floor_f(v)
        #define ESP_LOG(v) (__nvvm_lg2_approx_f(v) * 0.6931471805599453f)
        #define ESP_DSQRT(v) __nvvm_sqrt_rn_d(v)
        #else
        // NVRTC or nvcc.
        #define ESP_TID threadIdx.x
        #define ESP_BID blockIdx.x
        #define ESP_BDIM blockDim.x
        #define ESP_GDIM gridDim.x
        #define ESP_EXP(v) expf(v)
        #define ESP_SQRT(v) sqrtf(v)
        #define ESP_FLOOR(v) floorf(v)
        #define ESP_LOG(v) logf(v)
        #define ESP_DSQRT(v) sqrt(v)
        #endif

        """;

    internal static string Kind(Node node) => node switch
    {
        ConvNode => "conv",
        ConvTransposeNode => "convtranspose",
        BiasNode => "bias",
        BatchNormNode => "batchnorm",
        PReluNode => "prelu",
        SumNode => "add",
        AvgPoolNode => "avgpool",
        GlobalAvgPoolNode => "globalavgpool",
        ResizeNode => "resize",
        AdaptiveAvgPoolNode => "adaptiveavgpool",
        ShuffleNode => "shuffle",
        GateNode => "gate",
        SliceNode => "slice",
        ConcatNode => "concat",
        ReshapeNode => "reshape",
        _ => "node",
    };

    private static string F(double v) => ((float)v).ToString("R", CultureInfo.InvariantCulture) switch
    {
        var t when t.Contains('E') || t.Contains('.') => t + "f",
        var t => t + ".0f",
    };

    /// <summary>
    /// An element-wise node on a value in the thread: <c>const float <paramref name="output"/></c> from
    /// <paramref name="input"/>, the node's input <paramref name="main"/> at (n, c, y, x); a sum's or gate's other
    /// operand read through <paramref name="At"/>. The same expressions whether the node is a kernel or an epilogue.
    /// </summary>
    internal static string Apply(Node node, int main, string input, string output, System.Func<int, string, string, string, string> At) => node switch
    {
        BiasNode b => $"        const float {output} = {input} + p[{b.Bias.Offset} + c];\n",
        BatchNormNode bn => $"        const float {output} = ({input} - p[{bn.Bn.Mean.Offset} + c]) / ESP_SQRT(p[{bn.Bn.Variance.Offset} + c] + {F(bn.Eps)}) * p[{bn.Bn.Gamma.Offset} + c] + p[{bn.Bn.Beta.Offset} + c];\n",
        PReluNode pr => $"        const float {output} = {input} > 0.0f ? {input} : p[{pr.Slope.Offset} + c] * {input};\n",
        SumNode sum => $"        const float {output} = {input} + {At(main == sum.A ? sum.B : sum.A, "c", "y", "x")};\n",
        GateNode gt => $"        const float {output} = {input} / (1.0f + ESP_EXP(-{At(gt.Gate, "c", "0", "0")}));\n",
        _ => throw new System.InvalidOperationException("no element-wise rule for " + node.GetType().Name),
    };

    /// <summary>
    /// The statements that compute <c>v</c>, the output element at (n, c, y, x); <paramref name="At"/> gives the
    /// expression of a tensor's element (n, c, y, x), wherever the printer keeps it.
    /// </summary>
    internal static string Body(TensorGraph g, Node node, System.Func<int, string, string, string, string> At)
    {
        var o = g.Shapes[node.Out];
        switch (node)
        {
            case ConvNode cv:
            {
                var x = g.Shapes[cv.X];
                int cinG = x.C / cv.Groups, coutG = cv.Cout / cv.Groups, pad = (cv.Kernel - 1) / 2 * cv.Dilation;
                return $"        float v = 0.0f;\n" +
                       $"        const int g0 = c / {coutG} * {cinG};\n" +
                       $"        for (int ci = 0; ci < {cinG}; ci++)\n" +
                       $"            for (int ky = 0; ky < {cv.Kernel}; ky++)\n" +
                       $"            {{\n" +
                       $"                const int iy = y * {cv.Stride} - {pad} + ky * {cv.Dilation};\n" +
                       $"                if (iy < 0 || iy >= {x.H}) continue;\n" +
                       $"                for (int kx = 0; kx < {cv.Kernel}; kx++)\n" +
                       $"                {{\n" +
                       $"                    const int ix = x * {cv.Stride} - {pad} + kx * {cv.Dilation};\n" +
                       $"                    if (ix < 0 || ix >= {x.W}) continue;\n" +
                       $"                    v += {At(cv.X, "g0 + ci", "iy", "ix")} * p[{cv.Weight.Offset} + ((c * {cinG} + ci) * {cv.Kernel} + ky) * {cv.Kernel} + kx];\n" +
                       $"                }}\n" +
                       $"            }}\n";
            }
            case ConvTransposeNode ct:
            {
                var x = g.Shapes[ct.X];
                return $"        float v = 0.0f;\n" +
                       $"        for (int ky = 0; ky < {ct.Kernel}; ky++)\n" +
                       $"        {{\n" +
                       $"            if ((y - ky) < 0 || (y - ky) % {ct.Stride} != 0 || (y - ky) / {ct.Stride} >= {x.H}) continue;\n" +
                       $"            for (int kx = 0; kx < {ct.Kernel}; kx++)\n" +
                       $"            {{\n" +
                       $"                if ((x - kx) < 0 || (x - kx) % {ct.Stride} != 0 || (x - kx) / {ct.Stride} >= {x.W}) continue;\n" +
                       $"                for (int ci = 0; ci < {x.C}; ci++)\n" +
                       $"                    v += {At(ct.X, "ci", $"(y - ky) / {ct.Stride}", $"(x - kx) / {ct.Stride}")} * p[{ct.Weight.Offset} + ((ci * {ct.Cout} + c) * {ct.Kernel} + ky) * {ct.Kernel} + kx];\n" +
                       $"            }}\n" +
                       $"        }}\n";
            }
            case BiasNode or BatchNormNode or PReluNode or GateNode:
                return $"        const float u = {At(node.Inputs.First(), "c", "y", "x")};\n" + Apply(node, node.Inputs.First(), "u", "v", At);
            case SumNode sum:
                return $"        const float u = {At(sum.A, "c", "y", "x")};\n" + Apply(node, sum.A, "u", "v", At);
            case AvgPoolNode ap:
            {
                var x = g.Shapes[ap.X];
                return $"        float v = 0.0f;\n" +
                       $"        for (int ky = 0; ky < 3; ky++)\n" +
                       $"            for (int kx = 0; kx < 3; kx++)\n" +
                       $"            {{\n" +
                       $"                const int iy = 2 * y - 1 + ky, ix = 2 * x - 1 + kx;\n" +
                       $"                if (iy >= 0 && iy < {x.H} && ix >= 0 && ix < {x.W}) v += {At(ap.X, "c", "iy", "ix")};\n" +
                       $"            }}\n" +
                       $"        v /= 9.0f;\n";
            }
            case GlobalAvgPoolNode gp:
            {
                var x = g.Shapes[gp.X];
                return $"        float v = 0.0f;\n" +
                       $"        for (int iy = 0; iy < {x.H}; iy++)\n" +
                       $"            for (int ix = 0; ix < {x.W}; ix++) v += {At(gp.X, "c", "iy", "ix")};\n" +
                       $"        v /= {F(x.H * x.W)};\n";
            }
            case ResizeNode r:
            {
                var x = g.Shapes[r.X];
                string sy = o.H > 1 ? F((double)(x.H - 1) / (o.H - 1)) : "0.0f", sx = o.W > 1 ? F((double)(x.W - 1) / (o.W - 1)) : "0.0f";
                return $"        const float fy = y * {sy}, fx = x * {sx};\n" +
                       $"        const int y0 = (int)ESP_FLOOR(fy), x0 = (int)ESP_FLOOR(fx);\n" +
                       $"        const int y1 = y0 + 1 < {x.H} ? y0 + 1 : {x.H - 1}, x1 = x0 + 1 < {x.W} ? x0 + 1 : {x.W - 1};\n" +
                       $"        const float wy = fy - y0, wx = fx - x0;\n" +
                       $"        const float top = {At(r.X, "c", "y0", "x0")} * (1.0f - wx) + {At(r.X, "c", "y0", "x1")} * wx;\n" +
                       $"        const float bottom = {At(r.X, "c", "y1", "x0")} * (1.0f - wx) + {At(r.X, "c", "y1", "x1")} * wx;\n" +
                       $"        const float v = top * (1.0f - wy) + bottom * wy;\n";
            }
            case AdaptiveAvgPoolNode ad:
            {
                var x = g.Shapes[ad.X];
                return $"        const int ys = y * {x.H} / {o.H}, ye = ((y + 1) * {x.H} + {o.H - 1}) / {o.H};\n" +
                       $"        const int xs = x * {x.W} / {o.W}, xe = ((x + 1) * {x.W} + {o.W - 1}) / {o.W};\n" +
                       $"        float v = 0.0f;\n" +
                       $"        for (int iy = ys; iy < ye; iy++)\n" +
                       $"            for (int ix = xs; ix < xe; ix++) v += {At(ad.X, "c", "iy", "ix")};\n" +
                       $"        v /= (float)((ye - ys) * (xe - xs));\n";
            }
            case ShuffleNode sh:
                return $"        const float v = {At(sh.X, $"(c % {sh.Groups}) * {o.C / sh.Groups} + c / {sh.Groups}", "y", "x")};\n";
            case SliceNode sl:
                return $"        const float v = {At(sl.X, $"c + {sl.From}", "y", "x")};\n";
            case ConcatNode cc:
            {
                var text = new StringBuilder("        float v;\n");
                int at = 0;
                foreach (int part in cc.Parts)
                {
                    int pc = g.Shapes[part].C;
                    text.Append($"        {(at == 0 ? "if" : "else if")} (c < {at + pc}) v = {At(part, $"c - {at}", "y", "x")};\n");
                    at += pc;
                }
                text.Append("        else v = 0.0f;\n");
                return text.ToString();
            }
            case ReshapeNode rs:
            {
                var x = g.Shapes[rs.X];
                return $"        const long long j = i % {o.Elements};\n" +
                       $"        const float v = {At(rs.X, $"(int)(j / {(long)x.H * x.W})", $"(int)(j / {x.W} % {x.H})", $"(int)(j % {x.W})")};\n";
            }
            default:
                throw new System.InvalidOperationException("no CUDA rule for " + node.GetType().Name);
        }
    }
}
