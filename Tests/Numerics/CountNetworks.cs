namespace Espnet.Compiled.Tests.Numerics;

// The authors quote multiply-accumulates at 224x224.
[EspNet(Classes = 20, P = 2, Q = 8, Height = 224, Width = 224)]
public sealed partial class EspNetP2Q8At224;

[EspNet(Classes = 20, P = 2, Q = 5, Height = 224, Width = 224)]
public sealed partial class EspNetP2Q5At224;

[EspNet(Classes = 20, P = 2, Q = 3, Height = 224, Width = 224)]
public sealed partial class EspNetP2Q3At224;

[EspNetC(Classes = 20, P = 2, Q = 8, Height = 224, Width = 224)]
public sealed partial class EspNetCP2Q8At224;

// EdgeNets quotes its segmentation MACs at 512x256 (city) and the older head's at 224x224.
[EspNetV2Segmentation(Scale = 2.0, Classes = 20, Height = 256, Width = 512)]
public sealed partial class EdgeNetsS20At256x512;

[EspNetV2Segmentation(Scale = 0.5, Classes = 20, Height = 256, Width = 512)]
public sealed partial class EdgeNetsS05At256x512;

[EspNetV2Segmentation(Scale = 0.5, Classes = 20, Height = 224, Width = 224, Head = EspNetV2Head.Psp)]
public sealed partial class PspHeadS05At224;

[EspNetV2Segmentation(Scale = 1.5, Classes = 20, Height = 224, Width = 224, Head = EspNetV2Head.Psp)]
public sealed partial class PspHeadS15At224;
