namespace Espnet.Compiled.Imaging;

/// <summary>How a family's authors turn a picture into the network's input (docs/front-door.md).</summary>
public enum InputRecipe
{
    /// <summary>
    /// ESPNet, ESPNet-C and the ESPNetv2 repo's older segmentation head (their test scripts): OpenCV's BGR
    /// bytes as float, minus the Cityscapes mean and over its std per channel, resized to the network's
    /// size with OpenCV's bilinear, then divided by 255 (after the normalisation: inputs are about ±0.02).
    /// </summary>
    EspNetCityscapes,

    /// <summary>
    /// EdgeNets' ESPNetv2 segmentation: RGB resized to the network's size with Pillow's bilinear, divided
    /// by 255, minus the ImageNet mean and over its std.
    /// </summary>
    EdgeNetsSegmentation,

    /// <summary>
    /// ESPNetv2's ImageNet evaluation: the shorter side resized to size / 0.875 (256 for 224) with
    /// Pillow's bilinear, the centre crop of the network's size, then as <see cref="EdgeNetsSegmentation"/>.
    /// </summary>
    ImageNetClassification,
}

/// <summary>Writes a picture into a network's input tensor (one sample, C x H x W) by a family's recipe.</summary>
public static class Preprocessing
{
    /// <summary>ESPNet's Cityscapes statistics, per channel in B, G, R order, on the 0..255 scale.</summary>
    public static readonly float[] CityscapesMeanBgr = [72.3923111f, 82.90893555f, 73.15840149f];
    public static readonly float[] CityscapesStdBgr = [45.3192215f, 46.15289307f, 44.91483307f];

    /// <summary>ImageNet's statistics, per channel in R, G, B order, on the 0..1 scale.</summary>
    public static readonly float[] ImageNetMeanRgb = [0.485f, 0.456f, 0.406f];
    public static readonly float[] ImageNetStdRgb = [0.229f, 0.224f, 0.225f];

    /// <summary>One line for users: the channel order, statistics and resize a recipe uses.</summary>
    public static string Describe(InputRecipe recipe) => recipe switch
    {
        InputRecipe.EspNetCityscapes => "BGR, Cityscapes mean/std, OpenCV bilinear resize, then /255 (ESPNet's test script)",
        InputRecipe.EdgeNetsSegmentation => "RGB, Pillow bilinear resize, /255, ImageNet mean/std (EdgeNets' test script)",
        _ => "RGB, shorter side to size/0.875 with Pillow bilinear, centre crop, /255, ImageNet mean/std (ImageNet evaluation)",
    };

    /// <summary>
    /// Writes <paramref name="image"/> as a <c>3 x height x width</c> input into <paramref name="destination"/>.
    /// </summary>
    public static void Write(InputRecipe recipe, RgbImage image, int height, int width, Span<float> destination)
    {
        if (destination.Length != 3 * height * width)
            throw new ArgumentException($"a 3x{height}x{width} input holds {3 * height * width} floats, not {destination.Length}", nameof(destination));
        switch (recipe)
        {
            case InputRecipe.EspNetCityscapes:
                WriteEspNet(image, height, width, destination);
                break;
            case InputRecipe.EdgeNetsSegmentation:
                WriteImageNetNormalised(PilResize.Bilinear(image, width, height), destination);
                break;
            case InputRecipe.ImageNetClassification:
                WriteImageNetNormalised(ResizeAndCrop(image, height, width), destination);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(recipe));
        }
    }

    private static void WriteEspNet(RgbImage image, int height, int width, Span<float> destination)
    {
        // float32 throughout, in the script's order: (x - mean) / std at the image's own size, resize, / 255.
        int w = image.Width, h = image.Height;
        var normalised = new float[3 * w * h];
        byte[] p = image.Pixels;
        for (int i = 0; i < w * h; i++)
            for (int c = 0; c < 3; c++)                          // c: B, G, R
                normalised[3 * i + c] = (p[3 * i + 2 - c] - CityscapesMeanBgr[c]) / CityscapesStdBgr[c];
        float[] resized = w == width && h == height ? normalised : OpenCvResize.Linear(normalised, w, h, 3, width, height);
        int plane = height * width;
        for (int i = 0; i < plane; i++)
            for (int c = 0; c < 3; c++)
                destination[c * plane + i] = resized[3 * i + c] / 255f;
    }

    private static void WriteImageNetNormalised(RgbImage image, Span<float> destination)
    {
        int plane = image.Width * image.Height;
        byte[] p = image.Pixels;
        for (int i = 0; i < plane; i++)
            for (int c = 0; c < 3; c++)
                destination[c * plane + i] = (p[3 * i + c] / 255f - ImageNetMeanRgb[c]) / ImageNetStdRgb[c];
    }

    /// <summary>torchvision's Resize(int(size / 0.875)) (shorter side; the longer side truncated) and CenterCrop (Python's round).</summary>
    public static RgbImage ResizeAndCrop(RgbImage image, int height, int width)
    {
        int shorter = (int)(Math.Min(height, width) / 0.875);
        int w = image.Width, h = image.Height;
        (int rw, int rh) = w <= h ? (shorter, (int)((long)shorter * h / w)) : ((int)((long)shorter * w / h), shorter);
        rw = Math.Max(rw, width);
        rh = Math.Max(rh, height);
        var resized = rw == w && rh == h ? image : PilResize.Bilinear(image, rw, rh);
        int top = (int)Math.Round((rh - height) / 2.0, MidpointRounding.ToEven), left = (int)Math.Round((rw - width) / 2.0, MidpointRounding.ToEven);
        var crop = new byte[3 * width * height];
        for (int y = 0; y < height; y++)
            Array.Copy(resized.Pixels, 3 * ((top + y) * rw + left), crop, 3 * y * width, 3 * width);
        return new RgbImage(width, height, crop);
    }
}
