using Espnet.Compiled.Generator.Model;
using Espnet.Compiled.Generator.Plan;
using Espnet.Compiled.Generator.Shape;

namespace Espnet.Compiled.Generator.Emit.Cpu;

/// <summary>
/// EESP unit as one method: grouped 1x1 projection (+BN+PReLU) into scratch, each depth-wise dilated branch
/// into its slice of the concat buffer with the cumulative fusion added in place, BN + PReLU, grouped 1x1
/// expansion (+BN) into the output, the identity residual when shapes agree, then module_act.
/// </summary>
internal static class EespEmitter
{
    public static void Emit(LayerEmitContext c)
    {
        var l = c.Layer.Spec;
        string p = l.Name + ".";
        Unit(c, p, "x", c.X, "y", c.Y, l.Stride, l.K, c.Layer.Shaped.Dilations, l.Eps);
        int size = (int)c.Y.Elements;
        if (c.X == c.Y)
        {
            c.W.Line("// identity residual (input and output shapes agree), before module_act");
            c.W.Line($"global::Espnet.Compiled.Cpu.Elementwise.Add(y.Slice(0, {size}), x.Slice(0, {size}), y.Slice(0, {size}));");
        }
        c.W.Line($"global::Espnet.Compiled.Cpu.Elementwise.PRelu(y, {c.Y.C}, {c.Y.H * c.Y.W}, {c.P(p + "module_act.weight")});");
    }

    /// <summary>
    /// The unit up to and including conv_1x1_exp's BN (where a DownSampler's EESP returns), reading
    /// <paramref name="source"/> (<paramref name="x"/>) and writing <paramref name="target"/> (<paramref name="o"/>).
    /// Uses the scratch layout of <see cref="Costs.EespScratch"/>.
    /// </summary>
    public static void Unit(LayerEmitContext c, string prefix, string source, Dims x, string target, Dims o,
        int stride, int k, EquatableArray<int> dilations, double eps)
    {
        int width = o.C, n = width / k, plane = o.H * o.W, inPlane = x.H * x.W;
        c.W.Line($"// proj_1x1: 1x1 conv, {k} groups, {x.C} -> {n} channels, + BN + PReLU");
        c.W.Line($"var proj = scratch.Slice(0, {n * inPlane});");
        c.W.Line($"global::Espnet.Compiled.Cpu.Conv.Conv2d({source}, {x.C}, {x.H}, {x.W}, {c.P(prefix + "proj_1x1.conv.weight")}, proj, {n}, {x.H}, {x.W}, kernel: 1, stride: 1, dilation: 1, groups: {k});");
        c.BatchNormPRelu("proj", n, inPlane, prefix + "proj_1x1.bn.", prefix + "proj_1x1.act.weight", eps);

        c.W.Line($"var cat = scratch.Slice({Costs.EespBranchOffset(x, width, k)}, {width * plane});");
        for (int j = 0; j < k; j++)
        {
            int d = dilations[j];
            c.W.Line($"// spp_dw.{j}: depth-wise 3x3, dilation {d}, stride {stride} -> channels [{j * n}, {(j + 1) * n})" + (j > 0 ? " + the fused branch before it" : ""));
            c.W.Line($"global::Espnet.Compiled.Cpu.Conv.Conv2d(proj, {n}, {x.H}, {x.W}, {c.P(prefix + "spp_dw." + j + ".conv.weight")}, cat.Slice({j * n * plane}, {n * plane}), {n}, {o.H}, {o.W}, kernel: 3, stride: {stride}, dilation: {d}, groups: {n});");
            // Hierarchical fusion over every branch, cumulatively: t_j = dw_j + t_(j-1).
            if (j > 0)
                c.W.Line($"global::Espnet.Compiled.Cpu.Elementwise.Add(cat.Slice({j * n * plane}, {n * plane}), cat.Slice({(j - 1) * n * plane}, {n * plane}), cat.Slice({j * n * plane}, {n * plane}));");
        }
        c.W.Line("// br_after_cat: BN + PReLU over the concatenation");
        c.BatchNormPRelu("cat", width, plane, prefix + "br_after_cat.bn.", prefix + "br_after_cat.act.weight", eps);
        c.W.Line($"// conv_1x1_exp: 1x1 conv, {k} groups, {width} -> {width} channels, + BN");
        c.W.Line($"global::Espnet.Compiled.Cpu.Conv.Conv2d(cat, {width}, {o.H}, {o.W}, {c.P(prefix + "conv_1x1_exp.conv.weight")}, {target}, {width}, {o.H}, {o.W}, kernel: 1, stride: 1, dilation: 1, groups: {k});");
        c.BatchNormPRelu(target, width, plane, prefix + "conv_1x1_exp.bn.", null, eps);
    }
}
