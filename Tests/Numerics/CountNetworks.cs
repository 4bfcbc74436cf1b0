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
