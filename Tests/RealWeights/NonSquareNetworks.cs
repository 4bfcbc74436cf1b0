namespace Espnet.Compiled.Tests.RealWeights;

// 96x160 is not square: the DownSamplers' image-pooling loop compares heights only, and the head's branch
// sizes differ per axis.
[EspNetV2Segmentation(Scale = 1.0, Classes = 20, Height = 96, Width = 160)]
public sealed partial class EdgeNetsS10CityAt96x160;

[EspNetV2Segmentation(Scale = 0.5, Classes = 20, Height = 96, Width = 160, Head = EspNetV2Head.Psp)]
public sealed partial class PspHeadS05At96x160;
