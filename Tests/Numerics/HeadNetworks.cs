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

// Rows wider than the kernels' 4096-column stack chunk.
[Network(Height = 3, Width = 9001, InputChannels = 2)]
[Conv("wide", "input", Out = 3, Kernel = 3, Dilation = 2)]
[Conv("half", "wide", Out = 2, Kernel = 3, Stride = 2, BatchNorm = false, PRelu = false)]
[Resize("back", "half", Like = "input")]
public sealed partial class WideRowNet;
