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
}
