namespace Espnet.Compiled.Tests.RealWeights;

// The EdgeNets reference tensors were computed at 64x128 (its H/16 map is 4x8: EfficientPyrPool's clamp to 5
// and adaptive pooling with more outputs than inputs both occur).
[EspNetV2Segmentation(Scale = 2.0, Classes = 20, Height = 64, Width = 128)]
public sealed partial class EdgeNetsS20CityAt64x128;
