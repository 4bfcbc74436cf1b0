namespace Espnet.Compiled.Tests.Numerics;

/// <summary>
/// Double-precision reference for the ESPNetv2 segmentation heads, from espnet-reference.md §5 and PyTorch's
/// definitions (F.interpolate(align_corners=True), F.adaptive_avg_pool2d, channel shuffle). No shared code.
/// </summary>
public static class RefHeads
{
    /// <summary>Aligned-corners bilinear: src = dst*(in-1)/(out-1) (ratio in float32, as PyTorch), linear in each axis.</summary>
    public static T Bilinear(T x, int ho, int wo)
    {
        var y = T.Zeros(x.C, ho, wo);
        float ry = ho > 1 ? (float)(x.H - 1) / (ho - 1) : 0f, rx = wo > 1 ? (float)(x.W - 1) / (wo - 1) : 0f;
        for (int i = 0; i < ho; i++)
        {
            float sy = ry * i;
            int y0 = (int)Math.Floor(sy), y1 = Math.Min(y0 + 1, x.H - 1);
            double fy = sy - y0;
            for (int j = 0; j < wo; j++)
            {
                float sx = rx * j;
                int x0 = (int)Math.Floor(sx), x1 = Math.Min(x0 + 1, x.W - 1);
                double fx = sx - x0;
                for (int c = 0; c < x.C; c++)
                    y[c, i, j] = (1 - fy) * ((1 - fx) * x[c, y0, x0] + fx * x[c, y0, x1]) + fy * ((1 - fx) * x[c, y1, x0] + fx * x[c, y1, x1]);
            }
        }
        return y;
    }

    /// <summary>Cell (i, j) averages rows floor(i*H/ho)..ceil((i+1)*H/ho)-1 and the same for columns.</summary>
    public static T AdaptiveAvgPool(T x, int ho, int wo)
    {
        var y = T.Zeros(x.C, ho, wo);
        for (int i = 0; i < ho; i++)
            for (int j = 0; j < wo; j++)
            {
                int r0 = (int)Math.Floor((double)i * x.H / ho), r1 = (int)Math.Ceiling((double)(i + 1) * x.H / ho);
                int c0 = (int)Math.Floor((double)j * x.W / wo), c1 = (int)Math.Ceiling((double)(j + 1) * x.W / wo);
                for (int c = 0; c < x.C; c++)
                {
                    double s = 0;
                    for (int r = r0; r < r1; r++)
                        for (int q = c0; q < c1; q++) s += x[c, r, q];
                    y[c, i, j] = s / ((r1 - r0) * (c1 - c0));
                }
            }
        return y;
    }

    /// <summary>view(g, C/g) -> transpose -> flatten: new channel j*g + k holds old channel k*(C/g) + j.</summary>
    public static T Shuffle(T x, int groups)
    {
        var y = T.Zeros(x.C, x.H, x.W);
        int per = x.C / groups, plane = x.H * x.W;
        for (int k = 0; k < groups; k++)
            for (int j = 0; j < per; j++)
                Array.Copy(x.D, (k * per + j) * plane, y.D, (j * groups + k) * plane, plane);
        return y;
    }

    public static T Cbr(T x, Func<string, double[]> p, string conv, string bn, string act, int cout, int k, int groups, double eps) =>
        Ref.PRelu(Ref.BatchNorm(Ref.Conv(x, p(conv), cout, k, groups: groups), p(bn + "weight"), p(bn + "bias"), p(bn + "running_mean"), p(bn + "running_var"), eps), p(act));

    /// <summary>EfficientPyrPool(in, proj, out) with scales 2.0, 1.5, 1.0, 0.5, 0.1 (EdgeNets).</summary>
    public static T PyramidPool(T x, Func<string, double[]> p, string n, int proj, int outC, bool lastBr, double eps)
    {
        n += ".";
        var pr = Cbr(x, p, n + "projection_layer.cbr.0.weight", n + "projection_layer.cbr.1.", n + "projection_layer.cbr.2.weight", proj, 1, 1, eps);
        double[] scales = { 2.0, 1.5, 1.0, 0.5, 0.1 };
        var branches = new List<T>();
        for (int i = 0; i < scales.Length; i++)
        {
            double s = scales[i];
            int hs = Math.Max((int)Math.Ceiling(pr.H * s), 5), ws = Math.Max((int)Math.Ceiling(pr.W * s), 5);
            double[] w = p(n + "stages." + i + ".weight");
            if (s < 1) branches.Add(Bilinear(Ref.Conv(AdaptiveAvgPool(pr, hs, ws), w, proj, 3, groups: proj), pr.H, pr.W));
            else if (s > 1) branches.Add(AdaptiveAvgPool(Ref.Conv(Bilinear(pr, hs, ws), w, proj, 3, groups: proj), pr.H, pr.W));
            else branches.Add(Ref.Conv(pr, w, proj, 3, groups: proj));
        }
        var cat = Ref.PRelu(Ref.BatchNorm(Ref.Concat(branches.ToArray()), p(n + "merge_layer.0.br.0.weight"), p(n + "merge_layer.0.br.0.bias"),
            p(n + "merge_layer.0.br.0.running_mean"), p(n + "merge_layer.0.br.0.running_var"), eps), p(n + "merge_layer.0.br.1.weight"));
        var merged = Cbr(Shuffle(cat, 5), p, n + "merge_layer.2.cbr.0.weight", n + "merge_layer.2.cbr.1.", n + "merge_layer.2.cbr.2.weight", proj, 3, proj, eps);
        var y = Ref.Conv(merged, p(n + "merge_layer.3.weight"), outC, 1, bias: lastBr ? null : p(n + "merge_layer.3.bias"));
        if (!lastBr) return y;
        return Ref.PRelu(Ref.BatchNorm(y, p(n + "br.br.0.weight"), p(n + "br.br.0.bias"), p(n + "br.br.0.running_mean"), p(n + "br.br.0.running_var"), eps), p(n + "br.br.1.weight"));
    }

    /// <summary>EfficientPWConv(in, out): CBR 3x3 with groups gcd(in, out), times sigmoid(1x1(GAP(x))) per channel.</summary>
    public static T GatedConv(T x, Func<string, double[]> p, string n, int outC, double eps)
    {
        n += ".";
        int g = Gcd(x.C, outC);
        var y = Cbr(x, p, n + "expansion_layer.cbr.0.weight", n + "expansion_layer.cbr.1.", n + "expansion_layer.cbr.2.weight", outC, 3, g, eps);
        var gap = T.Zeros(x.C, 1, 1);
        for (int c = 0; c < x.C; c++) gap.D[c] = x.D.Skip(c * x.H * x.W).Take(x.H * x.W).Average();
        var gate = Ref.Conv(gap, p(n + "wt_layer.1.weight"), outC, 1);
        for (int c = 0; c < outC; c++)
            for (int i = 0; i < y.H * y.W; i++) y.D[c * y.H * y.W + i] *= 1 / (1 + Math.Exp(-gate.D[c]));
        return y;
    }

    /// <summary>The older head's PSP module: [x, up(stage_i(pool^i(x)))] for i = 1..levels, then a 1x1 CBR.</summary>
    public static T PspPool(T x, Func<string, double[]> p, string n, int outC, int levels, double eps)
    {
        n += ".";
        var parts = new List<T> { x };
        var t = x;
        for (int i = 0; i < levels; i++)
        {
            t = Ref.AvgPool(t);
            parts.Add(Bilinear(Ref.Conv(t, p(n + "stages." + i + ".conv.weight"), x.C, 3, groups: x.C), x.H, x.W));
        }
        return Cbr(Ref.Concat(parts.ToArray()), p, n + "project.conv.weight", n + "project.bn.", n + "project.act.weight", outC, 1, 1, eps);
    }

    private static int Gcd(int a, int b) => b == 0 ? a : Gcd(b, a % b);
}
