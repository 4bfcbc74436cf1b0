namespace Espnet.Compiled.Zoo;

// ESPNet (Mehta et al. 2018) as released: Cityscapes (20 classes, decoder skip from level1) at the
// authors' 1024x512, and CamVid (12 classes, train/Model.py skip from b1) at 480x360.

[EspNetC(Classes = 20, P = 2, Q = 3, Height = 512, Width = 1024)]
public sealed partial class EspNetCP2Q3;

[EspNetC(Classes = 20, P = 2, Q = 5, Height = 512, Width = 1024)]
public sealed partial class EspNetCP2Q5;

[EspNetC(Classes = 20, P = 2, Q = 8, Height = 512, Width = 1024)]
public sealed partial class EspNetCP2Q8;

[EspNet(Classes = 20, P = 2, Q = 3, Height = 512, Width = 1024)]
public sealed partial class EspNetP2Q3;

[EspNet(Classes = 20, P = 2, Q = 5, Height = 512, Width = 1024)]
public sealed partial class EspNetP2Q5;

[EspNet(Classes = 20, P = 2, Q = 8, Height = 512, Width = 1024)]
public sealed partial class EspNetP2Q8;

[EspNet(Classes = 12, P = 2, Q = 8, Height = 360, Width = 480, Skip = EspNetDecoderSkip.Reinforced)]
public sealed partial class EspNetP2Q8CamVid;
