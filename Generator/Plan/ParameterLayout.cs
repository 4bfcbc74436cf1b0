using System.Collections.Generic;
using Espnet.Compiled.Generator.Model;
using Espnet.Compiled.Generator.Shape;

namespace Espnet.Compiled.Generator.Plan;

/// <summary>
/// The state_dict keys and shapes each layer kind owns, spelled as the authors' PyTorch modules name them.
/// Slots are appended in the authors' registration order so the store reads like the state_dict.
/// </summary>
internal sealed class ParameterLayout
{
    private readonly List<ParamSlot> _slots = new();
    private int _offset;

    public ParameterLayout(int startOffset) => _offset = startOffset;

    public int Offset => _offset;
    public List<ParamSlot> Slots => _slots;

    public void Add(string key, SlotRole role, params int[] shape)
    {
        var slot = new ParamSlot(key, shape.ToEquatableArray(), role, _offset);
        _slots.Add(slot);
        // Keep every tensor 16-float aligned so SIMD kernels can assume it.
        _offset += (slot.Elements + 15) / 16 * 16;
    }

    public void BatchNorm(string prefix, int channels)
    {
        Add(prefix + "weight", SlotRole.Weight, channels);
        Add(prefix + "bias", SlotRole.Bias, channels);
        Add(prefix + "running_mean", SlotRole.RunningMean, channels);
        Add(prefix + "running_var", SlotRole.RunningVar, channels);
    }

    public void PRelu(string key, int channels) => Add(key, SlotRole.Weight, channels);

    /// <summary>Keys for a layer's parts: conv, BN and PReLU under the layer's key style.</summary>
    public static (string Conv, string Bn, string Act) Prefixes(LayerSpec l, bool hasConv)
    {
        string p = l.Name + ".";
        return l.Keys switch
        {
            KeyStyle.Bare => (p, p, p),
            KeyStyle.Sequential => hasConv ? (p + "0.", p + "1.", p + "2.") : ("", p + "0.", p + "1."),
            _ => (p + "conv.", p + "bn.", p + "act."),
        };
    }

    public void Build(ShapedLayer layer)
    {
        var l = layer.Spec;
        var x = layer.InputDims.Count > 0 ? layer.InputDims[0] : default;
        switch (l.Kind)
        {
            case LayerKind.Conv:
            {
                var (conv, bn, act) = Prefixes(l, hasConv: true);
                Add(conv + "weight", SlotRole.Weight, l.Out, x.C / l.Groups, l.Kernel, l.Kernel);
                if (l.Bias) Add(conv + "bias", SlotRole.Bias, l.Out);
                if (l.BatchNorm) BatchNorm(bn, l.Out);
                if (l.PRelu) PRelu(act + "weight", l.Out);
                break;
            }
            case LayerKind.BatchNorm:
            {
                var (_, bn, act) = Prefixes(l, hasConv: false);
                BatchNorm(bn, x.C);
                if (l.PRelu) PRelu(act + "weight", x.C);
                break;
            }
            case LayerKind.Esp:
            {
                string p = l.Name + ".";
                var (n, n1) = EspWidths(l);
                int reduceKernel = l.Stride == 2 ? 3 : 1;
                Add(p + "c1.conv.weight", SlotRole.Weight, n, x.C, reduceKernel, reduceKernel);
                for (int j = 0; j < l.K; j++)
                    Add(p + "d" + layer.Dilations[j] + ".conv.weight", SlotRole.Weight, j == 0 ? n1 : n, n, 3, 3);
                // The ESP module wraps BN + PReLU in a BR ("bn.bn.*"); the strided one holds them directly.
                if (l.Stride == 2) { BatchNorm(p + "bn.", l.Out); PRelu(p + "act.weight", l.Out); }
                else { BatchNorm(p + "bn.bn.", l.Out); PRelu(p + "bn.act.weight", l.Out); }
                break;
            }
            case LayerKind.ConvTranspose:
                Add(l.Name + ".weight", SlotRole.Weight, x.C, l.Out, l.Kernel, l.Kernel);
                break;
            case LayerKind.Eesp:
                EespUnit(l.Name + ".", x.C, l.Out, l.K);
                break;
            case LayerKind.DownSampler:
            {
                // Registration order of the authors' DownSampler: eesp, (avg), inp_reinf, act.
                string p = l.Name + ".";
                EespUnit(p + "eesp.", x.C, l.Out - x.C, l.K);
                if (l.ReinforcementWeights)
                {
                    const int c = Shape.DownSamplerShape.ImageChannels;
                    Add(p + "inp_reinf.0.conv.weight", SlotRole.Weight, c, c, 3, 3);
                    BatchNorm(p + "inp_reinf.0.bn.", c);
                    PRelu(p + "inp_reinf.0.act.weight", c);
                    Add(p + "inp_reinf.1.conv.weight", SlotRole.Weight, l.Out, c, 1, 1);
                    BatchNorm(p + "inp_reinf.1.bn.", l.Out);
                }
                PRelu(p + "act.weight", l.Out);
                break;
            }
            case LayerKind.Linear:
                Add(l.Name + ".weight", SlotRole.Weight, l.Out, (int)x.Elements);
                if (l.Bias) Add(l.Name + ".bias", SlotRole.Bias, l.Out);
                break;
            case LayerKind.PyramidPool: HeadPlans.PyramidPoolParameters(this, layer); break;
            case LayerKind.GatedConv: HeadPlans.GatedConvParameters(this, layer); break;
            case LayerKind.PspPool: HeadPlans.PspPoolParameters(this, layer); break;
        }
    }

    /// <summary>
    /// An EESP unit's tensors in the authors' registration order: proj_1x1 (CBR, K groups), spp_dw.0..K-1
    /// (depth-wise 3x3), conv_1x1_exp (CB, K groups), br_after_cat (BR), module_act (PReLU; present even
    /// where a strided unit never applies it).
    /// </summary>
    public void EespUnit(string prefix, int inChannels, int outChannels, int k)
    {
        int n = outChannels / k;
        Add(prefix + "proj_1x1.conv.weight", SlotRole.Weight, n, inChannels / k, 1, 1);
        BatchNorm(prefix + "proj_1x1.bn.", n);
        PRelu(prefix + "proj_1x1.act.weight", n);
        for (int i = 0; i < k; i++)
            Add(prefix + "spp_dw." + i + ".conv.weight", SlotRole.Weight, n, 1, 3, 3);
        Add(prefix + "conv_1x1_exp.conv.weight", SlotRole.Weight, outChannels, outChannels / k, 1, 1);
        BatchNorm(prefix + "conv_1x1_exp.bn.", outChannels);
        BatchNorm(prefix + "br_after_cat.bn.", outChannels);
        PRelu(prefix + "br_after_cat.act.weight", outChannels);
        PRelu(prefix + "module_act.weight", outChannels);
    }

    /// <summary>ESP branch widths: n = Out / K, and the first branch takes the remainder.</summary>
    public static (int N, int N1) EspWidths(LayerSpec l)
    {
        int n = l.Out / l.K;
        return (n, l.Out - (l.K - 1) * n);
    }
}
