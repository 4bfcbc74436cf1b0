using Espnet.Compiled.Imaging;

namespace Espnet.Compiled.Zoo;

/// <summary>What a model's inputs and outputs mean as pictures: its family's preprocessing and its classes.</summary>
public static class ModelImaging
{
    /// <summary>The preprocessing the model's authors used (docs/front-door.md).</summary>
    public static InputRecipe Recipe(this ModelRequest request) => request.Family switch
    {
        ModelFamily.EspNetV2 => InputRecipe.ImageNetClassification,
        ModelFamily.EspNetV2Segmentation when request.Head == EspNetV2Head.EdgeNets => InputRecipe.EdgeNetsSegmentation,
        _ => InputRecipe.EspNetCityscapes,      // ESPNet, ESPNet-C, and the ESPNetv2 repo's older head
    };

    public static bool IsClassifier(this ModelRequest request) => request.Family == ModelFamily.EspNetV2;

    /// <summary>The classes of a segmentation model's output; another class count than the name's gets numbered classes.</summary>
    public static LabelSet Labels(this ModelRequest request)
    {
        if (request.Classes != request.DefaultClasses) return LabelSet.Generic(request.Classes);
        if (request.Name.EndsWith("-camvid", StringComparison.Ordinal)) return LabelSet.CamVid;
        if (request.Family == ModelFamily.EspNetV2Segmentation && request.Head == EspNetV2Head.EdgeNets && request.Dataset == SegmentationDataset.Pascal)
            return LabelSet.PascalVoc;
        return request.IsClassifier() ? LabelSet.Generic(request.Classes) : LabelSet.Cityscapes;
    }
}
