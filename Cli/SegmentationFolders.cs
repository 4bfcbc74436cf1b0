namespace Espnet.Compiled.Cli;

/// <summary>A picture and its mask of train IDs (255 = ignore).</summary>
internal sealed record LabelledPicture(string Image, string Mask);

/// <summary>
/// The two folder layouts `eval` (and later `train`) read: Cityscapes' (<c>leftImg8bit/**/X_leftImg8bit.png</c> with
/// <c>gtFine/**/X_gtFine_labelTrainIds.png</c>) and a generic one (<c>images/**/X.png|jpg</c> with <c>masks/**/X.png</c>).
/// </summary>
internal static class SegmentationFolders
{
    public const string Layouts =
        "a Cityscapes folder (leftImg8bit/ and gtFine/ with *_gtFine_labelTrainIds.png) or images/ and masks/ (masks: PNGs of train IDs with the images' base names, 255 = ignore)";

    public static (string Layout, List<LabelledPicture> Pairs, List<string> Unmatched) Find(string folder)
    {
        if (File.Exists(folder)) throw new UsageException($"--data {folder} is a file: give a folder holding {Layouts}");
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"--data {folder} does not exist");
        string images = Path.Combine(folder, "leftImg8bit"), labels = Path.Combine(folder, "gtFine");
        if (Directory.Exists(images) && Directory.Exists(labels))
        {
            var (pairs, unmatched) = Pair(images, file =>
            {
                string relative = Path.GetRelativePath(images, file);
                string stem = Path.GetFileName(relative);
                if (!stem.EndsWith("_leftImg8bit.png", StringComparison.Ordinal)) return null;
                stem = stem[..^"_leftImg8bit.png".Length];
                return Path.Combine(labels, Path.GetDirectoryName(relative) ?? "", stem + "_gtFine_labelTrainIds.png");
            });
            return ("Cityscapes", pairs, unmatched);
        }
        images = Path.Combine(folder, "images");
        string masks = Path.Combine(folder, "masks");
        if (Directory.Exists(images) && Directory.Exists(masks))
        {
            var (pairs, unmatched) = Pair(images, file => Path.Combine(masks, Path.ChangeExtension(Path.GetRelativePath(images, file), ".png")));
            return ("images/ + masks/", pairs, unmatched);
        }
        throw new UsageException($"--data {folder} holds neither layout: give {Layouts}");
    }

    private static (List<LabelledPicture>, List<string>) Pair(string images, Func<string, string?> maskOf)
    {
        var pairs = new List<LabelledPicture>();
        var unmatched = new List<string>();
        var files = Directory.EnumerateFiles(images, "*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.Hidden });
        foreach (string file in files.Order(StringComparer.Ordinal))
        {
            if (maskOf(file) is not { } mask) continue;
            if (File.Exists(mask)) pairs.Add(new LabelledPicture(file, mask));
            else unmatched.Add(file);
        }
        return (pairs, unmatched);
    }
}
