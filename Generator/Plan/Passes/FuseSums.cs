using System.Collections.Generic;
using Espnet.Compiled.Generator.Model;
using Espnet.Compiled.Generator.Plan.Schedule;

namespace Espnet.Compiled.Generator.Plan.Passes;

/// <summary>
/// An elementwise sum right after the op that wrote one of its operands folds into that op's epilogue: the
/// hierarchical feature fusion of ESP and EESP (each branch plus the fused sum before it) and their identity
/// residuals. A convolution then adds the other operand as it stores (before its bias and activation); a
/// scale-shift adds it before normalising. Each saves a pass over the tensor. Sums and PReLUs left over run on
/// the parallel elementwise kernel, a sum and its PReLU in one pass.
/// </summary>
internal static class FuseSums
{
    public static LayerProgram Run(LayerProgram program)
    {
        // Comments do not separate ops: match on the ops alone, and keep each comment before the op that follows it.
        var ops = new List<Op>();
        var notes = new List<List<Note>>();
        var pending = new List<Note>();
        foreach (var op in program.Ops)
        {
            if (op is Note n) { pending.Add(n); continue; }
            ops.Add(op);
            notes.Add(pending);
            pending = new List<Note>();
        }
        var result = new List<Op>();
        for (int i = 0; i < ops.Count; i++)
        {
            result.AddRange(notes[i]);
            if (i + 1 < ops.Count && ops[i + 1] is Add add && add.Y.SameWindow(add.A))
            {
                // conv -> y; y += other  ==>  conv with residual other, when the conv's epilogue is still empty.
                if (ops[i] is FusedConv { Residual: null, Bias: null, Slope: null } conv && conv.Conv.Y.SameWindow(add.Y) && Separate(add.B, conv.Conv))
                {
                    result.Add(conv with { Residual = add.B });
                    result.AddRange(notes[i + 1]);
                    i++;
                    continue;
                }
                // conv (+ folded BN) -> y; y += x; prelu(y)  ==>  conv with residual x and the PReLU as epilogue (EESP's module_act).
                if (ops[i] is FusedConv { Residual: null, Slope: null } folded && folded.Conv.Y.SameWindow(add.Y) && Separate(add.B, folded.Conv)
                    && i + 2 < ops.Count && ops[i + 2] is PRelu p && p.Y.SameWindow(add.Y) && p.C == folded.Conv.Cout)
                {
                    result.Add(folded with { Residual = add.B, Slope = p.Slope });
                    result.AddRange(notes[i + 1]);
                    result.AddRange(notes[i + 2]);
                    i += 2;
                    continue;
                }
            }
            // y += r; scaleshift(y)  ==>  scaleshift with residual r (ESP's identity residual before its BN).
            if (ops[i] is Add sum && sum.Y.SameWindow(sum.A) && i + 1 < ops.Count && ops[i + 1] is ScaleShift { Residual: null, From: null } s
                && s.Y.SameWindow(sum.Y) && !sum.B.Overlaps(sum.Y))
            {
                result.Add(s with { Residual = sum.B });
                result.AddRange(notes[i + 1]);
                i++;
                continue;
            }
            // What is left runs on the parallel elementwise kernel: a sum and the PReLU after it in one pass.
            if (ops[i] is Add plain)
            {
                if (i + 1 < ops.Count && ops[i + 1] is PRelu act && act.Y.SameWindow(plain.Y) && (long)act.C * act.Plane == plain.Y.Length)
                {
                    result.Add(new FastSum(plain.A, plain.B, plain.Y, act.C, act.Plane, act.Slope));
                    result.AddRange(notes[i + 1]);
                    i++;
                }
                else
                    result.Add(new FastSum(plain.A, plain.B, plain.Y, 0, 0, null));
                continue;
            }
            if (ops[i] is PRelu alone)
            {
                result.Add(new FastSum(alone.Y, null, alone.Y, alone.C, alone.Plane, alone.Slope));
                continue;
            }
            result.Add(ops[i]);
        }
        result.AddRange(pending);
        return program with { Ops = result.ToEquatableArray() };
    }

    // The added tensor must be neither what the convolution writes nor what it reads.
    private static bool Separate(View other, Conv conv) => !other.Overlaps(conv.Y) && !other.Overlaps(conv.X);
}
