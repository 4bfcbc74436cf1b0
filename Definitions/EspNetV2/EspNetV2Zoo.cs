namespace Espnet.Compiled.Zoo;

// ESPNetv2 image classifiers (EESPNet, Mehta et al. 2019) at the authors' 224x224 and 1000 ImageNet classes,
// one per released width multiplier.

[EspNetV2(Scale = 0.5, Classes = 1000, Height = 224, Width = 224)]
public sealed partial class EspNetV2S05;

[EspNetV2(Scale = 1.0, Classes = 1000, Height = 224, Width = 224)]
public sealed partial class EspNetV2S10;

[EspNetV2(Scale = 1.25, Classes = 1000, Height = 224, Width = 224)]
public sealed partial class EspNetV2S125;

[EspNetV2(Scale = 1.5, Classes = 1000, Height = 224, Width = 224)]
public sealed partial class EspNetV2S15;

[EspNetV2(Scale = 2.0, Classes = 1000, Height = 224, Width = 224)]
public sealed partial class EspNetV2S20;
