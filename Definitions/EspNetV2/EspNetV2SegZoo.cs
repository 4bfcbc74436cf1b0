namespace Espnet.Compiled.Zoo;

// ESPNetv2 segmentation as released. EdgeNets' model zoo: Cityscapes (20 classes) at 1024x512 and PASCAL VOC
// (21 classes) at 384x384, s = 0.5 / 1.0 / 1.5 / 2.0. The older ESPNetv2-repo PSP head: Cityscapes, s = 0.5 / 1.0 / 1.5.

[EspNetV2Segmentation(Scale = 0.5, Classes = 20, Height = 512, Width = 1024)]
public sealed partial class EspNetV2SegS05City;

[EspNetV2Segmentation(Scale = 1.0, Classes = 20, Height = 512, Width = 1024)]
public sealed partial class EspNetV2SegS10City;

[EspNetV2Segmentation(Scale = 1.5, Classes = 20, Height = 512, Width = 1024)]
public sealed partial class EspNetV2SegS15City;

[EspNetV2Segmentation(Scale = 2.0, Classes = 20, Height = 512, Width = 1024)]
public sealed partial class EspNetV2SegS20City;

[EspNetV2Segmentation(Scale = 0.5, Classes = 21, Height = 384, Width = 384)]
public sealed partial class EspNetV2SegS05Pascal;

[EspNetV2Segmentation(Scale = 1.0, Classes = 21, Height = 384, Width = 384)]
public sealed partial class EspNetV2SegS10Pascal;

[EspNetV2Segmentation(Scale = 1.5, Classes = 21, Height = 384, Width = 384)]
public sealed partial class EspNetV2SegS15Pascal;

[EspNetV2Segmentation(Scale = 2.0, Classes = 21, Height = 384, Width = 384)]
public sealed partial class EspNetV2SegS20Pascal;

[EspNetV2Segmentation(Scale = 0.5, Classes = 20, Height = 512, Width = 1024, Head = EspNetV2Head.Psp)]
public sealed partial class EspNetV2SegOldS05;

[EspNetV2Segmentation(Scale = 1.0, Classes = 20, Height = 512, Width = 1024, Head = EspNetV2Head.Psp)]
public sealed partial class EspNetV2SegOldS10;

[EspNetV2Segmentation(Scale = 1.5, Classes = 20, Height = 512, Width = 1024, Head = EspNetV2Head.Psp)]
public sealed partial class EspNetV2SegOldS15;
