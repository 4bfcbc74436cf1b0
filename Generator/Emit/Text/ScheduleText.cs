using System.Globalization;
using System.Linq;
using System.Text;
using Espnet.Compiled.Generator.Plan;
using Espnet.Compiled.Generator.Plan.Schedule;

namespace Espnet.Compiled.Generator.Emit.Text;

/// <summary>
/// The schedule as compact text, one op per line: what schedule snapshot tests compare, and a way to read
/// what the passes did to a network. A printer like the C# one, for people.
/// </summary>
internal static class ScheduleText
{
    public static string Print(PlannedNetwork plan)
    {
        var sb = new StringBuilder();
        sb.Append("network ").Append(plan.Spec.ClassName).Append(": arena ").Append(plan.ArenaFloats)
          .Append(", store ").Append(plan.ParameterFloats).Append(", derived ").Append(plan.DerivedFloats)
          .Append(", MACs ").Append(plan.MacCount).Append('\n');
        foreach (var (layer, i) in plan.Layers.Select((l, i) => (l, i)))
        {
            var p = layer.Program;
            sb.Append($"layer {i} {layer.Name}: {p.Description}; reads {string.Join(", ", p.Operands.Select(o => $"{o.Name}=" + (o.Source < 0 ? "input" : "#" + o.Source)))}; y {(layer.OutOffset == PlannedLayer.CallersOutput ? "= the caller's output" : layer.OutBlocked ? $"in the caller's output @{layer.OutOffset}, rows blocked" : "@" + layer.OutOffset)}")
              .Append(p.ScratchFloats > 0 ? $"; scratch {p.ScratchFloats} @{layer.ScratchOffset}" : "").Append('\n');
            foreach (var op in p.Prepare) sb.Append("  load: ").Append(Op(op)).Append('\n');
            foreach (var op in p.Ops.Where(o => o is not Note)) sb.Append("  ").Append(Op(op)).Append('\n');
        }
        return sb.ToString();
    }

    private static string Op(Op op) => op switch
    {
        Let l => $"let {l.Name} = {V(l.Of)}",
        Conv c => Conv(c),
        FusedConv f => Conv(f.Conv) + (f.Bias is null ? "" : " +bias " + P(f.Bias)) + (f.Slope is null ? "" : " prelu " + P(f.Slope))
                       + (f.Padding is null ? "" : " pad " + V(f.Padding)) + (f.Residual is null ? "" : " + " + V(f.Residual)) + (f.InputHalo > 0 ? $" (input padded by {f.InputHalo})" : "") + (f.BiasCounted ? " (bias counted)" : "")
                       + (f.Input is not { } t ? "" : $" (input: unshuffle g{t.ShuffleGroups}, bn scale {P(t.Scale)} mean {P(t.Bn.Mean)} beta {P(t.Bn.Beta)}" + (t.Slope is null ? ")" : $" prelu {P(t.Slope)})"))
                       + (f.Norm is not { } n ? "" : " then " + Norm(n)) + (f.ResidualNorm is not { } rn ? "" : " (residual then " + Norm(rn) + ")")
                       + (f.RowBlocked ? " (rows blocked)" : ""),
        ConvTranspose t => $"convT{t.Kernel}x{t.Kernel}/{t.Stride} {V(t.X)} {t.Cin}x{t.H}x{t.W} -> {V(t.Y)} {t.Cout}x{t.Ho}x{t.Wo} w {P(t.Weight)}",
        ConvTranspose2x2 t => "fast " + Op(t.Of),
        ConvTranspose2x2InOutput t => "fast " + Op(t.Of) + $" (x in y from {t.InputAt}, rows blocked)",
        FastAvgPool p => "fast " + Op(p.Of),
        FastCopy c => "fast " + Op(c.Of),
        FastSum f => f.B is null ? $"fast prelu {V(f.Y)} {f.C}x{f.Plane} {P(f.Slope!)}"
                                 : $"fast add {V(f.A)} + {V(f.B)} -> {V(f.Y)}" + (f.Slope is null ? "" : $" prelu {f.C}x{f.Plane} {P(f.Slope)}"),
        FastGlobalAvgPool g => "fast " + Op(g.Of),
        FastSigmoidGate g => "fast " + Op(g.Of),
        FastShuffle s => "fast " + Op(s.Of),
        FastBilinear r => "fast " + Op(r.Of),
        FastAdaptiveAvgPool a => "fast " + Op(a.Of),
        UpsampledDepthwisePool u => $"fast up-dw3x3-pool {V(u.X)} {u.C}x{u.H}x{u.W} via {u.Hs}x{u.Ws} w {P(u.Weight)} -> {V(u.Y)}",
        DepthwiseBranches d => $"fast dw3x3-branches {V(d.X)} {d.C}x{d.H}x{d.W} stride {d.Stride} d [{string.Join(",", d.Dilations)}]{(d.Hff ? " hff" : "")} w {P(d.Weights)} every {d.WeightStride} -> {V(d.Y)} {d.Ho}x{d.Wo}"
                               + (d.Norm is { } n ? $" then scaleshift scale {P(n.Scale)} mean {P(n.Bn.Mean)} beta {P(n.Bn.Beta)}" + (n.Slope is null ? "" : " prelu " + P(n.Slope)) : ""),
        PadInput p => $"pad {V(p.X)} {p.C}x{p.H}x{p.W} halo {p.Halo} stride {p.Stride} -> {V(p.Padded)}",
        AddBias b => $"bias {V(b.Y)} {b.C}x{b.Plane} {P(b.Bias)}" + (b.Counted ? " (counted)" : ""),
        BatchNorm b => $"bn {V(b.Y)} {b.C}x{b.Plane} {P(b.Bn.Gamma)} eps {F(b.Eps)}",
        PRelu p => $"prelu {V(p.Y)} {p.C}x{p.Plane} {P(p.Slope)}",
        ScaleShift s => $"scaleshift {V(s.Y)} {s.C}x{s.Plane} scale {P(s.Scale)} mean {P(s.Bn.Mean)} beta {P(s.Bn.Beta)}" + (s.Slope is null ? "" : " prelu " + P(s.Slope)) + (s.Residual is null ? "" : " after + " + V(s.Residual)) + (s.From is null ? "" : " from " + V(s.From)),
        Add a => $"add {V(a.A)} + {V(a.B)} -> {V(a.Y)}",
        Copy c => $"copy {V(c.X)} -> {V(c.Y)}",
        AvgPool a => $"avgpool3x3/2 {V(a.X)} {a.C}x{a.H}x{a.W} -> {V(a.Y)} {a.Ho}x{a.Wo}",
        GlobalAvgPool g => $"gap {V(g.X)} {g.C}x{g.Plane} -> {V(g.Y)}",
        Bilinear r => $"bilinear {V(r.X)} {r.C}x{r.H}x{r.W} -> {V(r.Y)} {r.Ho}x{r.Wo}",
        AdaptiveAvgPool a => $"adaptivepool {V(a.X)} {a.C}x{a.H}x{a.W} -> {V(a.Y)} {a.Ho}x{a.Wo}",
        Shuffle s => $"shuffle {V(s.X)} {s.C}x{s.Plane} g{s.Groups} -> {V(s.Y)}",
        SigmoidGate g => $"gate {V(g.Y)} {g.C}x{g.Plane} by {V(g.Gate)}",
        FoldIntoConv f => $"fold bn {P(f.Bn.Gamma)} eps {F(f.Eps)} into {P(f.Weight)}" + (f.Bias is null ? "" : " + " + P(f.Bias)) + $" -> {P(f.FoldedWeight)}, {P(f.FoldedBias)}",
        BatchNormScale b => $"bn scale {P(b.Bn.Gamma)} eps {F(b.Eps)} -> {P(b.Scale)}",
        _ => op.GetType().Name,
    };

    private static string Conv(Conv c) =>
        $"conv{c.Kernel}x{c.Kernel}/{c.Stride} d{c.Dilation} g{c.Groups} {V(c.X)} {c.Cin}x{c.H}x{c.W} -> {V(c.Y)} {c.Cout}x{c.Ho}x{c.Wo} w {P(c.Weight)}" + (c.Counted ? "" : " (not counted)");

    private static string Norm(BranchNorm n) =>
        $"bn scale {P(n.Scale)} mean {P(n.Mean)} beta {P(n.Beta)}" + (n.Slope is null ? "" : $" prelu {P(n.Slope)}") + (n.Residual is null ? "" : $" after + {V(n.Residual)}");

    private static string V(View v) => v.Sliced ? $"{v.Base}[{v.Offset}+{v.Length}]" : v.Base;

    private static string P(Param p) => (p.Store == Store.Loaded ? "P" : "D") + $"[{p.Offset}+{p.Length}]";

    private static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}
