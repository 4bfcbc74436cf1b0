namespace Espnet.Compiled;

/// <summary>Which tensor the ESPNet decoder concatenates with its last upsampled map.</summary>
public enum EspNetDecoderSkip
{
    /// <summary>The level1 output, 16 channels: test/Model.py, the variant the released Cityscapes weights load into.</summary>
    Level1 = 0,
    /// <summary>The b1 output (level1 + image/2), 19 channels: train/Model.py, the variant the CamVid weights load into.</summary>
    Reinforced = 1,
}

/// <summary>ESPNet with its decoder (Mehta et al. 2018). The generator emits the whole compiled model.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class EspNetAttribute : Attribute
{
    public int Classes { get; set; } = 20;
    public int P { get; set; } = 2;
    public int Q { get; set; } = 8;
    public int Height { get; set; } = 512;
    public int Width { get; set; } = 1024;
    public int Batch { get; set; } = 1;
    public EspNetDecoderSkip Skip { get; set; } = EspNetDecoderSkip.Level1;
}

/// <summary>ESPNet-C: the ESPNet encoder with a 1x1 classifier, logits at 1/8 resolution.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class EspNetCAttribute : Attribute
{
    public int Classes { get; set; } = 20;
    public int P { get; set; } = 2;
    public int Q { get; set; } = 8;
    public int Height { get; set; } = 512;
    public int Width { get; set; } = 1024;
    public int Batch { get; set; } = 1;
}

/// <summary>ESPNetv2 image classifier (EESPNet, Mehta et al. 2019) with width multiplier <see cref="Scale"/>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class EspNetV2Attribute : Attribute
{
    /// <summary>Width multiplier: 0.5, 1.0, 1.25, 1.5 or 2.0.</summary>
    public double Scale { get; set; } = 1.0;
    public int Classes { get; set; } = 1000;
    public int Height { get; set; } = 224;
    public int Width { get; set; } = 224;
    public int Batch { get; set; } = 1;
}
