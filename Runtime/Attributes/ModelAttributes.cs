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
    /// <summary>The CPU kernels it compiles to (default <see cref="CpuKernels.Fast"/>).</summary>
    public CpuKernels Kernels { get; set; }
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
    /// <summary>The CPU kernels it compiles to (default <see cref="CpuKernels.Fast"/>).</summary>
    public CpuKernels Kernels { get; set; }
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
    /// <summary>The CPU kernels it compiles to (default <see cref="CpuKernels.Fast"/>).</summary>
    public CpuKernels Kernels { get; set; }
}

/// <summary>Which segmentation head an ESPNetv2 base carries.</summary>
public enum EspNetV2Head
{
    /// <summary>EdgeNets' ESPNetv2Segmentation: EfficientPyrPool decoder with gated skips; every EdgeNets model-zoo file.</summary>
    EdgeNets = 0,
    /// <summary>The older ESPNetv2-repo EESPNet_Seg head (PSP module); the three espnetv2_segmentation_s_*.pth files.</summary>
    Psp = 1,
}

/// <summary>ESPNetv2 segmentation: the EESPNet base (levels 1-4) with a segmentation head.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class EspNetV2SegmentationAttribute : Attribute
{
    /// <summary>Width multiplier: 0.5, 1.0, 1.5 or 2.0 (1.25 has a base configuration but no released head).</summary>
    public double Scale { get; set; } = 2.0;
    /// <summary>20 for Cityscapes ('city'), 21 for PASCAL VOC.</summary>
    public int Classes { get; set; } = 20;
    public int Height { get; set; } = 512;
    public int Width { get; set; } = 1024;
    public int Batch { get; set; } = 1;
    /// <summary>The CPU kernels it compiles to (default <see cref="CpuKernels.Fast"/>).</summary>
    public CpuKernels Kernels { get; set; }
    public EspNetV2Head Head { get; set; } = EspNetV2Head.EdgeNets;
}
