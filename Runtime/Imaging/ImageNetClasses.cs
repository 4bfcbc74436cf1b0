namespace Espnet.Compiled.Imaging;

/// <summary>
/// The 1,000 ImageNet-1k class names in the classifiers' output order: torchvision's list (BSD-3), with its two
/// repeated names told apart as some copies of it do ("crane bird" at 134 beside "crane" at 517, "maillot tank suit"
/// at 639 beside "maillot" at 638).
/// </summary>
public static class ImageNetClasses
{
    private static readonly Lazy<string[]> s_names = new(Load);

    public static IReadOnlyList<string> Names => s_names.Value;

    private static string[] Load()
    {
        using var stream = typeof(ImageNetClasses).Assembly.GetManifestResourceStream("imagenet-classes.txt")
                           ?? throw new InvalidOperationException("the ImageNet class list is missing from this build");
        using var reader = new StreamReader(stream);
        var names = reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return names.Length == 1000 ? names : throw new InvalidOperationException($"the ImageNet class list holds {names.Length} names, not 1000");
    }
}
