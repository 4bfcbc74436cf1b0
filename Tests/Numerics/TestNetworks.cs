namespace Espnet.Compiled.Tests.Numerics;

// Small networks for differential tests: odd sizes, channel counts below, at and above the SIMD width
// (8 floats on AVX2) and not multiples of it, stride 2, every layer kind and option.

[Network(Height = 13, Width = 19, BatchNormEps = 1e-3)]
[Conv("stem", "input", Out = 7, Kernel = 3, Stride = 2)]
[AvgPool("img1", "input")]
[Concat("cat", "stem", "img1")]
[BatchNorm("br", "cat")]
[Esp("down", "br", Out = 11, K = 3, Stride = 2)]
[Esp("esp", "down", Out = 11, K = 4, Dilations = new[] { 1, 3, 2, 5 })]
[Esp("flat", "esp", Out = 9, K = 2, Residual = false, Fusion = false)]
[Conv("grouped", "flat", Out = 6, Kernel = 3, Groups = 3, Dilation = 2, Bias = true, BatchNorm = false)]
[Conv("head", "grouped", Out = 17, Kernel = 1, BatchNorm = false, PRelu = false)]
[ConvTranspose("up", "head", Out = 5)]
[Conv("side", "up", Out = 5, Kernel = 3, Eps = 0.01)]
[Add("sum", "up", "side")]
[BatchNorm("bn", "sum", PRelu = false, Keys = KeyStyle.Bare)]
public sealed partial class OddNet;

// Output picks a layer in the middle: p3 and t come after it, read by nothing, yet still run and are observed.
[Network(Height = 24, Width = 40, InputChannels = 2, Batch = 2, BatchNormEps = 1e-5, Output = "e2")]
[Conv("c1", "input", Out = 19, Kernel = 5, Keys = KeyStyle.Sequential)]
[Esp("e1", "c1", Out = 20, Stride = 2)]
[Esp("e2", "e1", Out = 20)]
[ConvTranspose("t", "e2", Out = 9, Kernel = 3, Stride = 2)]
[AvgPool("p3", "input", Times = 3)]
public sealed partial class WideNet;

// ESPNetv2 blocks: EESP with K = 3 and 4 (explicit dilations with duplicates, RLim rules), residual and not,
// stride 2; DownSamplers with 1 and 2 image poolings and one without reinforcement (weights present, unused).
[Network(Height = 23, Width = 29, BatchNormEps = 1e-5)]
[DownSampler("down0", "input", Out = 12, K = 3, RLim = 7)]
[Conv("stem", "down0", Out = 16, Kernel = 3)]
[DownSampler("down", "stem", Out = 32, K = 4, RLim = 9)]
[Eesp("e4", "down", Out = 32, K = 4, Dilations = new[] { 1, 3, 2, 2 })]
[Eesp("e4b", "e4", Out = 48, K = 4, RLim = 11)]
[Eesp("e3", "e4b", Out = 18, K = 3, RLim = 5)]
[Eesp("e3r", "e3", Out = 18, K = 3, Dilations = new[] { 2, 1, 3 })]
[Eesp("e3s", "e3r", Out = 18, K = 3, Stride = 2)]
[DownSampler("down2", "e3s", Out = 27, K = 3, Reinforce = false)]
[GlobalAvgPool("gap", "down2")]
[Linear("fc", "gap", Out = 10)]
public sealed partial class EespNet;

// Sizes where the fast kernels run the ESP branches as Winograd F(2x2, 3x3) on the dilated grid: 25 and 28
// channels, dilations 1 to 16, rows and columns in whole periods of 32, with and without the residual.
[Network(Height = 32, Width = 64, BatchNormEps = 1e-3)]
[Conv("stem", "input", Out = 32, Kernel = 3)]
[Esp("e1", "stem", Out = 128, K = 5, Residual = false)]
[Esp("e2", "e1", Out = 128, K = 5)]
public sealed partial class WinogradNet;
