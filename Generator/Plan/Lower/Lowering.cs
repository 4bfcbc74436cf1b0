using Espnet.Compiled.Generator.Model;
using Espnet.Compiled.Generator.Plan.Schedule;
using Espnet.Compiled.Generator.Shape;

namespace Espnet.Compiled.Generator.Plan.Lower;

/// <summary>The one place that maps a layer kind to its lowering file.</summary>
internal static class Lowering
{
    public static LayerProgram Lower(ShapedLayer layer, ParameterLayout store)
    {
        var b = new LayerBuilder(layer, store);
        switch (layer.Spec.Kind)
        {
            case LayerKind.Conv: ConvLowering.Lower(b); break;
            case LayerKind.BatchNorm: BatchNormLowering.Lower(b); break;
            case LayerKind.Esp: EspLowering.Lower(b); break;
            case LayerKind.AvgPool: AvgPoolLowering.Lower(b); break;
            case LayerKind.Concat: ConcatLowering.Lower(b); break;
            case LayerKind.Add: AddLowering.Lower(b); break;
            case LayerKind.ConvTranspose: ConvTransposeLowering.Lower(b); break;
            case LayerKind.Eesp: EespLowering.Lower(b); break;
            case LayerKind.DownSampler: DownSamplerLowering.Lower(b); break;
            case LayerKind.GlobalAvgPool: GlobalAvgPoolLowering.Lower(b); break;
            case LayerKind.Linear: LinearLowering.Lower(b); break;
            case LayerKind.Resize: ResizeLowering.Lower(b); break;
            case LayerKind.PyramidPool: PyramidPoolLowering.Lower(b); break;
            case LayerKind.GatedConv: GatedConvLowering.Lower(b); break;
            case LayerKind.PspPool: PspPoolLowering.Lower(b); break;
            default: throw new System.InvalidOperationException($"no lowering for {layer.Spec.Kind}");
        }
        return b.Build();
    }
}
