using System.Collections.Generic;
using Espnet.Compiled.Generator.Model;

namespace Espnet.Compiled.Generator.Plan;

/// <summary>
/// The parameter store being laid out: lowering files (<c>Plan/Lower</c>) append each layer's state_dict
/// tensors in the authors' registration order, so the store reads like the state_dict.
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
}
