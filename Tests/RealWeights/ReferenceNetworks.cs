namespace Espnet.Compiled.Tests.RealWeights;

// The reference tensors in shared/data/reference were computed at these sizes.

[EspNet(Classes = 20, P = 2, Q = 3, Height = 64, Width = 128)]
public sealed partial class EspNetP2Q3At64x128;
