namespace Espnet.Compiled.Tests.Numerics;

// The segmentation-head blocks on small odd maps with random weights (the clamp to 5 and Out > In pooling occur).
[Network(Height = 12, Width = 20, InputChannels = 6, BatchNormEps = 1e-5)]
[PspPool("psp", "input", Out = 7)]
[GatedConv("gate", "psp", Out = 14)]
[PyramidPool("pyr", "gate", Proj = 3, Out = 9)]
[Resize("up", "pyr")]
[PyramidPool("last", "up", Proj = 2, Out = 5, LastBatchNorm = false)]
[Resize("out", "last", Like = "input")]
public sealed partial class HeadNet;
