using Espnet.Compiled.Generator.Model;
using Espnet.Compiled.Generator.Plan.Schedule;
using Espnet.Compiled.Generator.Shape;

namespace Espnet.Compiled.Generator.Plan.Lower;

/// <summary>
/// EESP (ESPNetv2): grouped 1x1 projection (+BN+PReLU) into scratch, each depth-wise dilated branch into its
/// slice of the concat buffer with the cumulative fusion added in place, BN + PReLU, grouped 1x1 expansion
/// (+BN) into the output, the identity residual when shapes agree, then module_act.
/// </summary>
internal static class EespLowering
{
    /// <summary>An EESP unit's tensors, in the authors' registration order.</summary>
    public sealed record Unit(Param Proj, BatchNormParams ProjBn, Param ProjAct, Param[] Branches, Param Exp, BatchNormParams ExpBn,
        BatchNormParams CatBn, Param CatAct, Param ModuleAct);

    /// <summary>
    /// proj_1x1 (CBR, K groups), spp_dw.0..K-1 (depth-wise 3x3), conv_1x1_exp (CB, K groups), br_after_cat (BR),
    /// module_act (PReLU; present even where a strided unit never applies it).
    /// </summary>
    public static Unit Declare(LayerBuilder b, string prefix, int inChannels, int outChannels, int k)
    {
        int n = outChannels / k;
        var proj = b.Param(prefix + "proj_1x1.conv.weight", SlotRole.Weight, n, inChannels / k, 1, 1);
        var projBn = b.BatchNorm(prefix + "proj_1x1.bn.", n);
        var projAct = b.PRelu(prefix + "proj_1x1.act.weight", n);
        var branches = new Param[k];
        for (int i = 0; i < k; i++) branches[i] = b.Param(prefix + "spp_dw." + i + ".conv.weight", SlotRole.Weight, n, 1, 3, 3);
        var exp = b.Param(prefix + "conv_1x1_exp.conv.weight", SlotRole.Weight, outChannels, outChannels / k, 1, 1);
        var expBn = b.BatchNorm(prefix + "conv_1x1_exp.bn.", outChannels);
        var catBn = b.BatchNorm(prefix + "br_after_cat.bn.", outChannels);
        var catAct = b.PRelu(prefix + "br_after_cat.act.weight", outChannels);
        var moduleAct = b.PRelu(prefix + "module_act.weight", outChannels);
        return new Unit(proj, projBn, projAct, branches, exp, expBn, catBn, catAct, moduleAct);
    }

    /// <summary>Scratch: the projection (n x H x W) at offset 0, then the concatenated branches at <see cref="BranchOffset"/>.</summary>
    public static int Scratch(Dims x, int width, int k, Dims output) => BranchOffset(x, width, k) + width * output.H * output.W;

    public static int BranchOffset(Dims x, int width, int k) => Arena.Align(width / k * x.H * x.W);

    public static void Lower(LayerBuilder b)
    {
        var l = b.Spec;
        var unit = Declare(b, l.Name + ".", b.X.C, l.Out, l.K);
        b.Description = (l.Stride == 2 ? "strided EESP" : "EESP") + $" K={l.K} d=[{string.Join(",", b.Layer.Dilations)}] HFF"
                        + (b.X == b.Y ? " residual" : "");
        var x = b.Input();
        var y = b.Output;
        Ops(b, unit, x, b.X, y, b.Y, l.Stride, l.K, b.Layer.Dilations, l.Eps);
        int size = (int)b.Y.Elements;
        if (b.X == b.Y)
        {
            b.Note("identity residual (input and output shapes agree), before module_act");
            b.Emit(new Add(y.Slice(0, size), x.Slice(0, size), y.Slice(0, size)));
        }
        b.Emit(new PRelu(y, b.Y.C, b.Plane, unit.ModuleAct));
    }

    /// <summary>The unit up to and including conv_1x1_exp's BN (where a DownSampler's EESP returns).</summary>
    public static void Ops(LayerBuilder b, Unit u, View source, Dims x, View target, Dims o, int stride, int k, EquatableArray<int> dilations, double eps)
    {
        int width = o.C, n = width / k, plane = o.H * o.W, inPlane = x.H * x.W;
        b.Note($"proj_1x1: 1x1 conv, {k} groups, {x.C} -> {n} channels, + BN + PReLU");
        var proj = b.Let("proj", b.Scratch(0, n * inPlane));
        b.Emit(new Conv(source, x.C, x.H, x.W, u.Proj, proj, n, x.H, x.W, 1, 1, 1, k));
        b.BatchNormPRelu(proj, n, inPlane, u.ProjBn, u.ProjAct, eps);

        var cat = b.Let("cat", b.Scratch(BranchOffset(x, width, k), width * plane));
        for (int j = 0; j < k; j++)
        {
            int d = dilations[j];
            b.Note($"spp_dw.{j}: depth-wise 3x3, dilation {d}, stride {stride} -> channels [{j * n}, {(j + 1) * n})" + (j > 0 ? " + the fused branch before it" : ""));
            var slice = cat.Slice(j * n * plane, n * plane);
            b.Emit(new Conv(proj, n, x.H, x.W, u.Branches[j], slice, n, o.H, o.W, 3, stride, d, n));
            // Hierarchical fusion over every branch, cumulatively: t_j = dw_j + t_(j-1).
            if (j > 0) b.Emit(new Add(slice, cat.Slice((j - 1) * n * plane, n * plane), slice));
        }
        b.Note("br_after_cat: BN + PReLU over the concatenation");
        b.BatchNormPRelu(cat, width, plane, u.CatBn, u.CatAct, eps);
        b.Note($"conv_1x1_exp: 1x1 conv, {k} groups, {width} -> {width} channels, + BN");
        b.Emit(new Conv(cat, width, o.H, o.W, u.Exp, target, width, o.H, o.W, 1, 1, 1, k));
        b.Emit(new BatchNorm(target, width, plane, u.ExpBn, eps));
    }
}
