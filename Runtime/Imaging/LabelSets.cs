namespace Espnet.Compiled.Imaging;

/// <summary>
/// The classes a segmentation model's outputs mean: names, display colours, the class that stands for
/// "no class" (if any), and for Cityscapes the map from train IDs to the dataset's label IDs.
/// </summary>
public sealed class LabelSet
{
    private readonly byte[] _palette;
    private readonly byte[]? _labelIds;

    private LabelSet(string name, string[] classNames, byte[] palette, int? voidClass, byte[]? labelIds)
    {
        Name = name;
        ClassNames = classNames;
        _palette = palette;
        VoidClass = voidClass;
        _labelIds = labelIds;
    }

    public string Name { get; }
    public IReadOnlyList<string> ClassNames { get; }

    /// <summary>The class meaning "none of the others" (ESPNet's Cityscapes class 19, CamVid's unlabelled), left out of mIoU and overlays.</summary>
    public int? VoidClass { get; }

    public bool HasLabelIds => _labelIds is not null;

    /// <summary>The display colour of a class (R, G, B); classes beyond the set's own get PASCAL's bit-pattern colours.</summary>
    public (byte R, byte G, byte B) Color(int label) =>
        label < ClassNames.Count ? (_palette[3 * label], _palette[3 * label + 1], _palette[3 * label + 2]) : BitPatternColor(label);

    /// <summary>A class's name; classes beyond the set's own are "class N".</summary>
    public string ClassName(int label) => label < ClassNames.Count ? ClassNames[label] : $"class {label}";

    /// <summary>Cityscapes: the label ID (as in <c>*_labelIds.png</c>) of a train ID; ESPNet's class 19 becomes 0 (unlabeled).</summary>
    public byte LabelId(int trainId) =>
        _labelIds is null ? throw new InvalidOperationException($"{Name} has no label IDs") : trainId < _labelIds.Length ? _labelIds[trainId] : (byte)0;

    /// <summary>Cityscapes train IDs 0-18 (road ... bicycle) plus ESPNet's 19 = background; the colours of the dataset's scripts.</summary>
    public static LabelSet Cityscapes { get; } = new(
        "Cityscapes",
        ["road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign", "vegetation", "terrain",
         "sky", "person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle", "background"],
        [128, 64, 128, 244, 35, 232, 70, 70, 70, 102, 102, 156, 190, 153, 153, 153, 153, 153, 250, 170, 30, 220, 220, 0,
         107, 142, 35, 152, 251, 152, 70, 130, 180, 220, 20, 60, 255, 0, 0, 0, 0, 142, 0, 0, 70, 0, 60, 100, 0, 80, 100,
         0, 0, 230, 119, 11, 32, 0, 0, 0],
        voidClass: 19,
        labelIds: [7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33, 0]);

    /// <summary>PASCAL VOC 2012: background and the 20 object classes, in the VOC devkit's bit-pattern colours.</summary>
    public static LabelSet PascalVoc { get; } = new(
        "PASCAL VOC",
        ["background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow", "dining table",
         "dog", "horse", "motorbike", "person", "potted plant", "sheep", "sofa", "train", "tv/monitor"],
        BitPatternPalette(21), voidClass: null, labelIds: null);

    /// <summary>CamVid as SegNet's splits label it (ESPNet's CamVid weights): 11 classes and unlabelled.</summary>
    public static LabelSet CamVid { get; } = new(
        "CamVid",
        ["sky", "building", "pole", "road", "pavement", "tree", "sign", "fence", "car", "pedestrian", "bicyclist", "unlabelled"],
        [128, 128, 128, 128, 0, 0, 192, 192, 128, 128, 64, 128, 60, 40, 222, 128, 128, 0, 192, 128, 128, 64, 64, 128,
         64, 0, 128, 64, 64, 0, 0, 128, 192, 0, 0, 0],
        voidClass: 11, labelIds: null);

    /// <summary>A set for a model of another class count: "class N" names, PASCAL's colour pattern, no void class.</summary>
    public static LabelSet Generic(int classes) =>
        new($"{classes} classes", [.. Enumerable.Range(0, classes).Select(i => $"class {i}")], BitPatternPalette(classes), null, null);

    private static byte[] BitPatternPalette(int count)
    {
        var palette = new byte[3 * count];
        for (int i = 0; i < count; i++) (palette[3 * i], palette[3 * i + 1], palette[3 * i + 2]) = BitPatternColor(i);
        return palette;
    }

    /// <summary>The VOC devkit's colour of class i: its bits spread over R, G, B from the high bit down.</summary>
    private static (byte, byte, byte) BitPatternColor(int label)
    {
        int r = 0, g = 0, b = 0, c = label;
        for (int j = 0; j < 8; j++)
        {
            r |= (c & 1) << (7 - j);
            g |= ((c >> 1) & 1) << (7 - j);
            b |= ((c >> 2) & 1) << (7 - j);
            c >>= 3;
        }
        return ((byte)r, (byte)g, (byte)b);
    }
}
