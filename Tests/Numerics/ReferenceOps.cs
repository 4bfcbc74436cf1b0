namespace Espnet.Compiled.Tests.Numerics;

/// <summary>A CHW tensor in double precision.</summary>
public sealed record T(int C, int H, int W, double[] D)
{
    public static T Zeros(int c, int h, int w) => new(c, h, w, new double[c * h * w]);
    public double this[int c, int y, int x] { get => D[(c * H + y) * W + x]; set => D[(c * H + y) * W + x] = value; }
}

/// <summary>
/// An independent double-precision reference, written from the papers' and PyTorch's definitions: plain
/// loops, no shared code with the generator or the runtime kernels.
/// </summary>
public static class Ref
{
    public static T Conv(T x, double[] w, int cout, int k, int stride = 1, int dilation = 1, int groups = 1, double[]? bias = null)
    {
        int pad = (k - 1) / 2 * dilation;
        int ho = (x.H + 2 * pad - dilation * (k - 1) - 1) / stride + 1;
        int wo = (x.W + 2 * pad - dilation * (k - 1) - 1) / stride + 1;
        int cinG = x.C / groups, coutG = cout / groups;
        var y = T.Zeros(cout, ho, wo);
        for (int o = 0; o < cout; o++)
            for (int oy = 0; oy < ho; oy++)
                for (int ox = 0; ox < wo; ox++)
                {
                    double s = bias?[o] ?? 0;
                    int g = o / coutG;
                    for (int i = 0; i < cinG; i++)
                        for (int a = 0; a < k; a++)
                            for (int b = 0; b < k; b++)
                            {
                                int iy = oy * stride - pad + a * dilation, ix = ox * stride - pad + b * dilation;
                                if (iy < 0 || iy >= x.H || ix < 0 || ix >= x.W) continue;
                                s += w[((o * cinG + i) * k + a) * k + b] * x[g * cinG + i, iy, ix];
                            }
                    y[o, oy, ox] = s;
                }
        return y;
    }

    public static T ConvTranspose(T x, double[] w, int cout, int k, int stride)
    {
        var y = T.Zeros(cout, (x.H - 1) * stride + k, (x.W - 1) * stride + k);
        for (int c = 0; c < x.C; c++)
            for (int o = 0; o < cout; o++)
                for (int i = 0; i < x.H; i++)
                    for (int j = 0; j < x.W; j++)
                        for (int a = 0; a < k; a++)
                            for (int b = 0; b < k; b++)
                                y[o, i * stride + a, j * stride + b] += x[c, i, j] * w[((c * cout + o) * k + a) * k + b];
        return y;
    }

    public static T BatchNorm(T x, double[] gamma, double[] beta, double[] mean, double[] var, double eps)
    {
        var y = T.Zeros(x.C, x.H, x.W);
        for (int c = 0; c < x.C; c++)
            for (int i = 0; i < x.H * x.W; i++)
                y.D[c * x.H * x.W + i] = (x.D[c * x.H * x.W + i] - mean[c]) / Math.Sqrt(var[c] + eps) * gamma[c] + beta[c];
        return y;
    }

    public static T PRelu(T x, double[] a)
    {
        var y = T.Zeros(x.C, x.H, x.W);
        for (int c = 0; c < x.C; c++)
            for (int i = 0; i < x.H * x.W; i++)
            {
                double v = x.D[c * x.H * x.W + i];
                y.D[c * x.H * x.W + i] = v >= 0 ? v : a[c] * v;
            }
        return y;
    }

    /// <summary>AvgPool2d(3, stride 2, padding 1), count_include_pad: always divide by 9.</summary>
    public static T AvgPool(T x)
    {
        int ho = (x.H - 1) / 2 + 1, wo = (x.W - 1) / 2 + 1;
        var y = T.Zeros(x.C, ho, wo);
        for (int c = 0; c < x.C; c++)
            for (int oy = 0; oy < ho; oy++)
                for (int ox = 0; ox < wo; ox++)
                {
                    double s = 0;
                    for (int a = -1; a <= 1; a++)
                        for (int b = -1; b <= 1; b++)
                        {
                            int iy = 2 * oy + a, ix = 2 * ox + b;
                            if (iy >= 0 && iy < x.H && ix >= 0 && ix < x.W) s += x[c, iy, ix];
                        }
                    y[c, oy, ox] = s / 9;
                }
        return y;
    }

    public static T Concat(params T[] xs)
    {
        var y = T.Zeros(xs.Sum(t => t.C), xs[0].H, xs[0].W);
        int at = 0;
        foreach (var t in xs) { Array.Copy(t.D, 0, y.D, at, t.D.Length); at += t.D.Length; }
        return y;
    }

    public static T Add(T a, T b) => new(a.C, a.H, a.W, a.D.Zip(b.D, (p, q) => p + q).ToArray());

    /// <summary>
    /// ESP (Mehta et al. 2018): reduce to n = out/K channels (1x1, or 3x3 stride 2 when strided); branch j is a
    /// dilated 3x3 with n outputs (the first: out - (K-1)n); HFF adds branches 1..K-1 cumulatively; concat;
    /// identity residual when asked; BN + PReLU. Keys: c1, d{dilation}, bn.bn/bn.act (or bn/act when strided).
    /// </summary>
    public static T Esp(T x, Func<string, double[]> p, string name, int outC, int k, int[] dilations, bool strided, bool residual, bool fusion, double eps)
    {
        int n = outC / k, n1 = outC - (k - 1) * n;
        var reduced = strided ? Conv(x, p(name + ".c1.conv.weight"), n, 3, stride: 2) : Conv(x, p(name + ".c1.conv.weight"), n, 1);
        var branches = new T[k];
        for (int j = 0; j < k; j++)
            branches[j] = Conv(reduced, p($"{name}.d{dilations[j]}.conv.weight"), j == 0 ? n1 : n, 3, dilation: dilations[j]);
        if (fusion)
            for (int j = 2; j < k; j++) branches[j] = Add(branches[j], branches[j - 1]);
        var y = Concat(branches);
        if (residual) y = Add(y, x);
        string bn = strided ? name + ".bn." : name + ".bn.bn.";
        string act = strided ? name + ".act.weight" : name + ".bn.act.weight";
        return PRelu(BatchNorm(y, p(bn + "weight"), p(bn + "bias"), p(bn + "running_mean"), p(bn + "running_var"), eps), p(act));
    }

    /// <summary>Inference BatchNorm with the four tensors of <c>prefix</c> (weight, bias, running_mean, running_var).</summary>
    public static T Bn(T x, Func<string, double[]> p, string prefix, double eps) =>
        BatchNorm(x, p(prefix + "weight"), p(prefix + "bias"), p(prefix + "running_mean"), p(prefix + "running_var"), eps);

    /// <summary>
    /// ESPNetv2's branch dilations (espnet-reference.md §3.1): candidate kernel sizes 3, 5, 7, ... per branch,
    /// any above r_lim becomes 3, sorted ascending, dilation = (size - 1) / 2.
    /// </summary>
    public static int[] RLimDilations(int k, int rLim)
    {
        var sizes = new int[k];
        for (int i = 0; i < k; i++) sizes[i] = 3 + 2 * i > rLim ? 3 : 3 + 2 * i;
        Array.Sort(sizes);
        return sizes.Select(e => (e - 1) / 2).ToArray();
    }

    /// <summary>
    /// EESP unit (Mehta et al. 2019; espnet-reference.md §3.1): o = CBR(x, 1x1, K groups) to n = out/K; branch j
    /// is a depth-wise 3x3 (dilation d_j, the unit's stride) of o; t_0 = b_0, t_j = b_j + t_(j-1) over all branches;
    /// z = concat(t); y = BN(conv1x1_K-groups(PReLU(BN(z)))). A DownSampler's unit ('avg' mode) returns y here;
    /// otherwise y + x when the shapes agree, then PReLU (module_act).
    /// </summary>
    public static T Eesp(T x, Func<string, double[]> p, string name, int outC, int k, int[] dilations, int stride, double eps, bool avgMode = false)
    {
        string q = name + ".";
        int n = outC / k;
        var o = PRelu(Bn(Conv(x, p(q + "proj_1x1.conv.weight"), n, 1, groups: k), p, q + "proj_1x1.bn.", eps), p(q + "proj_1x1.act.weight"));
        var t = new T[k];
        for (int j = 0; j < k; j++)
        {
            var b = Conv(o, p($"{q}spp_dw.{j}.conv.weight"), n, 3, stride: stride, dilation: dilations[j], groups: n);
            t[j] = j == 0 ? b : Add(b, t[j - 1]);
        }
        var z = PRelu(Bn(Concat(t), p, q + "br_after_cat.bn.", eps), p(q + "br_after_cat.act.weight"));
        var y = Bn(Conv(z, p(q + "conv_1x1_exp.conv.weight"), outC, 1, groups: k), p, q + "conv_1x1_exp.bn.", eps);
        if (avgMode) return y;
        if (y.C == x.C && y.H == x.H && y.W == x.W) y = Add(y, x);
        return PRelu(y, p(q + "module_act.weight"));
    }

    /// <summary>
    /// Strided EESP (espnet-reference.md §3.2): concat(avgpool(x), EESP(x -> out - in, stride 2, 'avg')); with an
    /// image, pool it (at least once) until its height equals the output's, add CB(CBR(image)); then PReLU.
    /// </summary>
    public static T DownSampler(T x, T? image, Func<string, double[]> p, string name, int outC, int k, int[] dilations, double eps)
    {
        string q = name + ".";
        var a = AvgPool(x);
        var y = Concat(a, Eesp(x, p, q + "eesp", outC - x.C, k, dilations, 2, eps, avgMode: true));
        if (image is not null)
        {
            var im = image;
            do im = AvgPool(im); while (im.H != a.H);
            var r = PRelu(Bn(Conv(im, p(q + "inp_reinf.0.conv.weight"), 3, 3), p, q + "inp_reinf.0.bn.", eps), p(q + "inp_reinf.0.act.weight"));
            r = Bn(Conv(r, p(q + "inp_reinf.1.conv.weight"), outC, 1), p, q + "inp_reinf.1.bn.", eps);
            y = Add(y, r);
        }
        return PRelu(y, p(q + "act.weight"));
    }

    public static T GlobalAvgPool(T x)
    {
        var y = T.Zeros(x.C, 1, 1);
        for (int c = 0; c < x.C; c++)
        {
            double s = 0;
            for (int i = 0; i < x.H * x.W; i++) s += x.D[c * x.H * x.W + i];
            y.D[c] = s / (x.H * x.W);
        }
        return y;
    }

    /// <summary>Fully connected over the flattened input: y[o] = b[o] + sum_i W[o, i] x[i].</summary>
    public static T Linear(T x, double[] w, double[]? b, int outC)
    {
        int features = x.D.Length;
        var y = T.Zeros(outC, 1, 1);
        for (int o = 0; o < outC; o++)
        {
            double s = b?[o] ?? 0;
            for (int i = 0; i < features; i++) s += w[o * features + i] * x.D[i];
            y.D[o] = s;
        }
        return y;
    }
}
