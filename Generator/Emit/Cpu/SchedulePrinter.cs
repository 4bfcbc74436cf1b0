using System.Linq;
using Espnet.Compiled.Generator.Plan.Schedule;

namespace Espnet.Compiled.Generator.Emit.Cpu;

/// <summary>
/// Prints schedule ops as C# calls into the runtime's CPU kernels: plain ops to the reference kernels
/// (<c>Espnet.Compiled.Cpu</c>), fused ops to the fast ones (<c>Espnet.Compiled.Cpu.Fast</c>). Knows ops, never layer kinds.
/// </summary>
internal static class SchedulePrinter
{
    private const string Cpu = "global::Espnet.Compiled.Cpu";
    private const string Fast = "global::Espnet.Compiled.Cpu.Fast";

    public static void Print(CodeWriter w, Op op)
    {
        switch (op)
        {
            case Note n: w.Line("// " + n.Text); break;
            case Let l: w.Line($"var {l.Name} = {V(l.Of)};"); break;
            case Conv c:
                w.Line($"{Cpu}.Conv.Conv2d({V(c.X)}, {c.Cin}, {c.H}, {c.W}, {P(c.Weight)}, {V(c.Y)}, {c.Cout}, {c.Ho}, {c.Wo}, kernel: {c.Kernel}, stride: {c.Stride}, dilation: {c.Dilation}, groups: {c.Groups});");
                break;
            case ConvTranspose t:
                w.Line($"{Cpu}.Conv.ConvTranspose2d({V(t.X)}, {t.Cin}, {t.H}, {t.W}, {P(t.Weight)}, {V(t.Y)}, {t.Cout}, {t.Ho}, {t.Wo}, kernel: {t.Kernel}, stride: {t.Stride});");
                break;
            case AddBias b: w.Line($"{Cpu}.Conv.AddBias({V(b.Y)}, {b.C}, {b.Plane}, {P(b.Bias)});"); break;
            case BatchNorm b:
                w.Line($"{Cpu}.Elementwise.BatchNorm({V(b.Y)}, {b.C}, {b.Plane}, {P(b.Bn.Gamma)}, {P(b.Bn.Beta)}, {P(b.Bn.Mean)}, {P(b.Bn.Variance)}, {CodeWriter.Float(b.Eps)});");
                break;
            case PRelu p: w.Line($"{Cpu}.Elementwise.PRelu({V(p.Y)}, {p.C}, {p.Plane}, {P(p.Slope)});"); break;
            case Add a: w.Line($"{Cpu}.Elementwise.Add({V(a.A)}, {V(a.B)}, {V(a.Y)});"); break;
            case Copy c: w.Line($"{V(c.X)}.CopyTo({V(c.Y)});"); break;
            case AvgPool p: w.Line($"{Cpu}.Elementwise.AvgPool3x3S2({V(p.X)}, {p.C}, {p.H}, {p.W}, {V(p.Y)}, {p.Ho}, {p.Wo});"); break;
            case GlobalAvgPool g: w.Line($"{Cpu}.Elementwise.GlobalAvgPool({V(g.X)}, {g.C}, {g.Plane}, {V(g.Y)});"); break;
            case Bilinear r: w.Line($"{Cpu}.Resampling.BilinearAlignCorners({V(r.X)}, {r.C}, {r.H}, {r.W}, {V(r.Y)}, {r.Ho}, {r.Wo});"); break;
            case AdaptiveAvgPool a: w.Line($"{Cpu}.Resampling.AdaptiveAvgPool({V(a.X)}, {a.C}, {a.H}, {a.W}, {V(a.Y)}, {a.Ho}, {a.Wo});"); break;
            case Shuffle s: w.Line($"{Cpu}.Resampling.ChannelShuffle({V(s.X)}, {s.C}, {s.Plane}, {s.Groups}, {V(s.Y)});"); break;
            case SigmoidGate g: w.Line($"{Cpu}.Resampling.SigmoidGate({V(g.Y)}, {g.C}, {g.Plane}, {V(g.Gate)});"); break;
            case FusedConv f:
            {
                var c = f.Conv;
                w.Line($"{Fast}.FastConv.Conv2d({V(c.X)}, {c.Cin}, {c.H}, {c.W}, {P(c.Weight)}, {V(c.Y)}, {c.Cout}, {c.Ho}, {c.Wo}, kernel: {c.Kernel}, stride: {c.Stride}, dilation: {c.Dilation}, groups: {c.Groups}, "
                       + $"bias: {Opt(f.Bias)}, slope: {Opt(f.Slope)}, scratch: {(f.Padding is null ? "default" : V(f.Padding))}"
                       + (f.Residual is null ? "" : $", residual: {V(f.Residual)}") + (f.InputHalo > 0 ? $", inputHalo: {f.InputHalo}" : "")
                       + (f.Input is not { } t ? "" : $", input: new {Fast}.InputTransform({t.ShuffleGroups}, {P(t.Bn.Mean)}, {P(t.Scale)}, {P(t.Bn.Beta)}, {Opt(t.Slope)})")
                       + (f.Norm is not { } n ? "" : $", norm: {Norm(n, null)}")
                       + (f.ResidualNorm is not { } rn ? "" : $", residualNorm: {Norm(rn, f.Residual)}")
                       + (f.RowBlocked ? $", layout: {Fast}.OutputLayout.RowBlocked({c.Ho}, {c.Wo})" : "") + ");");
                break;
            }
            case ScaleShift s:
                w.Line($"{Fast}.FastElementwise.ScaleShift({V(s.Y)}, {s.C}, {s.Plane}, {P(s.Bn.Mean)}, {P(s.Scale)}, {P(s.Bn.Beta)}, {Opt(s.Slope)}"
                       + (s.Residual is null ? "" : $", residual: {V(s.Residual)}") + (s.From is null ? ");" : $", source: {V(s.From)});"));
                break;
            case FastBilinear { Of: var r }:
                w.Line($"{Fast}.FastResampling.BilinearAlignCorners({V(r.X)}, {r.C}, {r.H}, {r.W}, {V(r.Y)}, {r.Ho}, {r.Wo});");
                break;
            case UpsampledDepthwisePool u:
                w.Line($"{Fast}.FastResampling.UpsampledDepthwisePool({V(u.X)}, {u.C}, {u.H}, {u.W}, {P(u.Weight)}, {u.Hs}, {u.Ws}, {V(u.Y)});");
                break;
            case FastAdaptiveAvgPool { Of: var a }:
                w.Line($"{Fast}.FastResampling.AdaptiveAvgPool({V(a.X)}, {a.C}, {a.H}, {a.W}, {V(a.Y)}, {a.Ho}, {a.Wo});");
                break;
            case FastSum { B: null } f:
                w.Line($"{Fast}.FastElementwise.PRelu({V(f.Y)}, {f.C}, {f.Plane}, {P(f.Slope ?? throw new System.InvalidOperationException("a sum with nothing to add"))});");
                break;
            case FastSum { Slope: null } f: w.Line($"{Fast}.FastElementwise.Add({V(f.A)}, {V(f.B!)}, {V(f.Y)});"); break;
            case FastSum f: w.Line($"{Fast}.FastElementwise.AddPRelu({V(f.A)}, {V(f.B!)}, {V(f.Y)}, {f.C}, {f.Plane}, {P(f.Slope)});"); break;
            case FastGlobalAvgPool { Of: var g }: w.Line($"{Fast}.FastElementwise.GlobalAvgPool({V(g.X)}, {g.C}, {g.Plane}, {V(g.Y)});"); break;
            case FastSigmoidGate { Of: var g }: w.Line($"{Fast}.FastElementwise.SigmoidGate({V(g.Y)}, {g.C}, {g.Plane}, {V(g.Gate)});"); break;
            case FastCopy { Of: var c }: w.Line($"{Fast}.FastElementwise.Copy({V(c.X)}, {V(c.Y)});"); break;
            case FastShuffle { Of: var s }: w.Line($"{Fast}.FastElementwise.ChannelShuffle({V(s.X)}, {s.C}, {s.Plane}, {s.Groups}, {V(s.Y)});"); break;
            case DepthwiseBranches d:
                w.Line($"{Fast}.FastConv.DepthwiseBranches({V(d.X)}, {d.C}, {d.H}, {d.W}, stride: {d.Stride}, {P(d.Weights)}, weightStride: {d.WeightStride}, stackalloc int[] {{ {string.Join(", ", d.Dilations)} }}, hff: {(d.Hff ? "true" : "false")}, {V(d.Y)}, {d.Ho}, {d.Wo}"
                       + (d.Norm is not { } norm ? ");" : $", {P(norm.Bn.Mean)}, {P(norm.Scale)}, {P(norm.Bn.Beta)}, {Opt(norm.Slope)});"));
                break;
            case PadInput p:
                w.Line($"{Fast}.FastConv.Pad({V(p.X)}, {p.C}, {p.H}, {p.W}, halo: {p.Halo}, stride: {p.Stride}, {V(p.Padded)});");
                break;
            case FastAvgPool { Of: var p }:
                w.Line($"{Fast}.FastElementwise.AvgPool3x3S2({V(p.X)}, {p.C}, {p.H}, {p.W}, {V(p.Y)}, {p.Ho}, {p.Wo});");
                break;
            case ConvTranspose2x2 { Of: var t }:
                w.Line($"{Fast}.FastElementwise.ConvTranspose2x2({V(t.X)}, {t.Cin}, {t.H}, {t.W}, {P(t.Weight)}, {V(t.Y)}, {t.Cout});");
                break;
            case ConvTranspose2x2InOutput { Of: var t } t2:
                w.Line($"// x lies in y from float {t2.InputAt} on, rows blocked: each row of the kernel reads what it then overwrites");
                w.Line($"{Fast}.FastElementwise.ConvTranspose2x2InOutput({V(t.Y)}, {t2.InputAt}, {t.Cin}, {t.H}, {t.W}, {P(t.Weight)}, {t.Cout});");
                break;
            case FoldIntoConv f:
                w.Line($"{Fast}.FastElementwise.FoldBatchNorm({P(f.Weight)}, {Opt(f.Bias)}, {P(f.Bn.Gamma)}, {P(f.Bn.Beta)}, {P(f.Bn.Mean)}, {P(f.Bn.Variance)}, {CodeWriter.Float(f.Eps)}, {f.Cout}, {Out(f.FoldedWeight)}, {Out(f.FoldedBias)});");
                break;
            case BatchNormScale b:
                w.Line($"{Fast}.FastElementwise.BatchNormScale({P(b.Bn.Gamma)}, {P(b.Bn.Variance)}, {CodeWriter.Float(b.Eps)}, {b.C}, {Out(b.Scale)});");
                break;
            default: throw new System.InvalidOperationException($"the C# printer has no form for {op.GetType().Name}");
        }
    }

    /// <summary>A share of a block's BatchNorm + PReLU; <paramref name="target"/>: the residual it normalises in place.</summary>
    private static string Norm(BranchNorm n, View? target) =>
        $"new {Fast}.OutputNorm({P(n.Mean)}, {P(n.Scale)}, {P(n.Beta)}, {Opt(n.Slope)}" + (n.Residual is { } r ? $", {V(r)}" : "")
        + (target is { } t ? $", target: {V(t)})" : ")");

    /// <summary>A view as a span expression.</summary>
    public static string V(View v) => v.Sliced ? $"{v.Base}.Slice({v.Offset}, {v.Length})" : v.Base;

    private static string Opt(Param? p) => p is null ? "default" : P(p);

    /// <summary>A derived parameter as the writable slice a load-time derivation fills.</summary>
    private static string Out(Param p) => p.Store == Store.Derived
        ? $"DerivedStore.Slice({p.Offset}, {p.Length})"
        : throw new System.InvalidOperationException("load-time derivations write derived parameters only");

    /// <summary>A parameter as a read-only slice of its store.</summary>
    public static string P(Param p) => p.Store == Store.Loaded ? $"P({p.Offset}, {p.Length})" : $"D({p.Offset}, {p.Length})";
}
