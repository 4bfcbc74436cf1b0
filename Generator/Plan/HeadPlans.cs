using Espnet.Compiled.Generator.Shape;

namespace Espnet.Compiled.Generator.Plan;

/// <summary>Parameters, MACs and scratch of the ESPNetv2 segmentation-head blocks, with the authors' key names.</summary>
internal static class HeadPlans
{
    public static void PyramidPoolParameters(ParameterLayout p, ShapedLayer layer)
    {
        var l = layer.Spec;
        int cin = layer.InputDims[0].C, proj = l.Proj, branches = PyramidPoolShape.Scales.Length;
        string n = l.Name + ".";
        // The authors register the stages before the projection; the store follows their order.
        for (int i = 0; i < branches; i++) p.Add(n + "stages." + i + ".weight", SlotRole.Weight, proj, 1, 3, 3);
        p.Add(n + "projection_layer.cbr.0.weight", SlotRole.Weight, proj, cin, 1, 1);
        p.BatchNorm(n + "projection_layer.cbr.1.", proj);
        p.PRelu(n + "projection_layer.cbr.2.weight", proj);
        p.BatchNorm(n + "merge_layer.0.br.0.", branches * proj);
        p.PRelu(n + "merge_layer.0.br.1.weight", branches * proj);
        p.Add(n + "merge_layer.2.cbr.0.weight", SlotRole.Weight, proj, branches, 3, 3);
        p.BatchNorm(n + "merge_layer.2.cbr.1.", proj);
        p.PRelu(n + "merge_layer.2.cbr.2.weight", proj);
        p.Add(n + "merge_layer.3.weight", SlotRole.Weight, l.Out, proj, 1, 1);
        if (l.Bias) p.Add(n + "merge_layer.3.bias", SlotRole.Bias, l.Out);
        if (l.BatchNorm)
        {
            p.BatchNorm(n + "br.br.0.", l.Out);
            p.PRelu(n + "br.br.1.weight", l.Out);
        }
    }

    public static void GatedConvParameters(ParameterLayout p, ShapedLayer layer)
    {
        var l = layer.Spec;
        int cin = layer.InputDims[0].C, groups = ConvShape.Gcd(cin, l.Out);
        string n = l.Name + ".";
        p.Add(n + "wt_layer.1.weight", SlotRole.Weight, l.Out, cin, 1, 1);
        p.Add(n + "expansion_layer.cbr.0.weight", SlotRole.Weight, l.Out, cin / groups, 3, 3);
        p.BatchNorm(n + "expansion_layer.cbr.1.", l.Out);
        p.PRelu(n + "expansion_layer.cbr.2.weight", l.Out);
    }

    public static void PspPoolParameters(ParameterLayout p, ShapedLayer layer)
    {
        var l = layer.Spec;
        int f = layer.InputDims[0].C;
        string n = l.Name + ".";
        for (int i = 0; i < l.Times; i++) p.Add(n + "stages." + i + ".conv.weight", SlotRole.Weight, f, 1, 3, 3);
        p.Add(n + "project.conv.weight", SlotRole.Weight, l.Out, (l.Times + 1) * f, 1, 1);
        p.BatchNorm(n + "project.bn.", l.Out);
        p.PRelu(n + "project.act.weight", l.Out);
    }

    /// <summary>Branch sizes of EfficientPyrPool for a map: the size each depthwise stage runs at.</summary>
    public static (int H, int W) BranchSize(Dims x, double scale) =>
        scale == 1.0 ? (x.H, x.W) : (PyramidPoolShape.Scaled(x.H, scale), PyramidPoolShape.Scaled(x.W, scale));

    public static long PyramidPoolMacs(ShapedLayer layer)
    {
        var l = layer.Spec;
        var x = layer.InputDims[0];
        long plane = (long)x.H * x.W;
        long macs = x.C * (long)l.Proj * plane;
        foreach (double s in PyramidPoolShape.Scales)
        {
            var (h, w) = BranchSize(x, s);
            macs += 9L * l.Proj * h * w;
        }
        macs += 9L * PyramidPoolShape.Scales.Length * l.Proj * plane;
        macs += (long)l.Proj * l.Out * plane;
        // EdgeNets' counter adds the final conv's bias per output element (espnet-reference.md §5.1.3).
        if (l.Bias) macs += l.Out * plane;
        return macs;
    }

    public static long GatedConvMacs(ShapedLayer layer)
    {
        var l = layer.Spec;
        var x = layer.InputDims[0];
        int groups = ConvShape.Gcd(x.C, l.Out);
        return (long)x.C * l.Out + 9L * (x.C / groups) * l.Out * x.H * x.W;
    }

    public static long PspPoolMacs(ShapedLayer layer)
    {
        var l = layer.Spec;
        var x = layer.InputDims[0];
        long macs = 0;
        int h = x.H, w = x.W;
        for (int i = 0; i < l.Times; i++)
        {
            h = (h - 1) / 2 + 1; w = (w - 1) / 2 + 1;
            macs += 9L * x.C * h * w;
        }
        return macs + (long)(l.Times + 1) * x.C * l.Out * x.H * x.W;
    }

    /// <summary>Scratch layout of EfficientPyrPool: p | cat | shuffled | merged | a | b (floats, aligned).</summary>
    public static (int P, int Cat, int Shuffled, int Merged, int A, int B, int Total) PyramidPoolScratch(ShapedLayer layer)
    {
        var x = layer.InputDims[0];
        int proj = layer.Spec.Proj, plane = x.H * x.W, branches = PyramidPoolShape.Scales.Length;
        int largest = plane;
        foreach (double s in PyramidPoolShape.Scales)
        {
            var (h, w) = BranchSize(x, s);
            largest = System.Math.Max(largest, h * w);
        }
        int p = Arena.Align(proj * plane), cat = Arena.Align(branches * proj * plane), tmp = Arena.Align(proj * largest);
        return (0, p, p + cat, p + 2 * cat, p + 2 * cat + p, p + 2 * cat + p + tmp, p + 2 * cat + p + 2 * tmp);
    }

    /// <summary>Scratch of EfficientPWConv: the pooled input and the gate.</summary>
    public static int GatedConvScratch(ShapedLayer layer) => Arena.Align(layer.InputDims[0].C) + Arena.Align(layer.Spec.Out);

    /// <summary>Scratch of the PSP module: cat | pooled ping | pooled pong | branch output.</summary>
    public static (int Cat, int A, int B, int Conv, int Total) PspPoolScratch(ShapedLayer layer)
    {
        var x = layer.InputDims[0];
        int cat = Arena.Align((layer.Spec.Times + 1) * x.C * x.H * x.W);
        int half = Arena.Align(x.C * ((x.H - 1) / 2 + 1) * ((x.W - 1) / 2 + 1));
        return (0, cat, cat + half, cat + 2 * half, cat + 3 * half);
    }
}
