namespace Espnet.Compiled;

// The layer-level vocabulary. A network is a [Network] class followed by layer attributes in order; each
// layer names itself (its name is also its state_dict key prefix) and the layers it reads ("input" is the
// image). The generator checks every shape at compile time.

/// <summary>How a layer's parameters are named in the authors' state_dict.</summary>
public enum KeyStyle
{
    /// <summary>Sub-modules named conv / bn / act (ESPNet's CBR, BR, CB, C).</summary>
    Module = 0,
    /// <summary>The layer is the bare PyTorch module: <c>name.weight</c>, <c>name.running_mean</c>, ...</summary>
    Bare = 1,
    /// <summary>An nn.Sequential: conv, BN and PReLU at indices 0, 1, 2 of <c>name</c>.</summary>
    Sequential = 2,
}

/// <summary>Which CPU kernels a compiled network runs on.</summary>
public enum CpuKernels
{
    /// <summary>BatchNorm folded into convolutions, fused epilogues, vectorised multithreaded float32 kernels (the default).</summary>
    Fast = 0,
    /// <summary>The plain kernels, double accumulation, no passes: the oracle the fast path is tested against.</summary>
    Reference = 1,
}

/// <summary>Marks a partial class as a network declared layer by layer.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class NetworkAttribute : Attribute
{
    public int Height { get; set; }
    public int Width { get; set; }
    public int InputChannels { get; set; } = 3;
    public int Batch { get; set; } = 1;
    /// <summary>The layer whose output is the network's output; default the last layer.</summary>
    public string? Output { get; set; }
    /// <summary>Default BatchNorm epsilon (ESPNet uses 1e-3, ESPNetv2 1e-5).</summary>
    public double BatchNormEps { get; set; } = 1e-3;
    /// <summary>The CPU kernels it compiles to (default <see cref="CpuKernels.Fast"/>).</summary>
    public CpuKernels Kernels { get; set; }
}

/// <summary>Convolution, optionally followed by BatchNorm and PReLU (CBR / CB / C).</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class ConvAttribute(string name, string from) : Attribute
{
    public string Name { get; } = name;
    public string From { get; } = from;
    public int Out { get; set; }
    public int Kernel { get; set; } = 3;
    public int Stride { get; set; } = 1;
    public int Dilation { get; set; } = 1;
    public int Groups { get; set; } = 1;
    public bool Bias { get; set; }
    public bool BatchNorm { get; set; } = true;
    public bool PRelu { get; set; } = true;
    /// <summary>BatchNorm epsilon; 0 means the network's default.</summary>
    public double Eps { get; set; }
    public KeyStyle Keys { get; set; } = KeyStyle.Module;
}

/// <summary>BatchNorm, optionally followed by PReLU (BR / BN).</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class BatchNormAttribute(string name, string from) : Attribute
{
    public string Name { get; } = name;
    public string From { get; } = from;
    public bool PRelu { get; set; } = true;
    public double Eps { get; set; }
    public KeyStyle Keys { get; set; } = KeyStyle.Module;
}

/// <summary>
/// ESP module: reduce to K branches of width Out/K (the first takes the remainder), dilated 3x3 per branch,
/// hierarchical feature fusion over branches 2..K, concat, optional identity residual, BN + PReLU.
/// Stride 2 is the strided ESP (3x3 stride-2 reduce, no residual).
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class EspAttribute(string name, string from) : Attribute
{
    public string Name { get; } = name;
    public string From { get; } = from;
    public int Out { get; set; }
    public int K { get; set; } = 5;
    /// <summary>Dilation per branch; default 1, 2, 4, ..., 2^(K-1).</summary>
    public int[]? Dilations { get; set; }
    public int Stride { get; set; } = 1;
    /// <summary>Add the input before BN + PReLU (stride 1 only; needs In == Out).</summary>
    public bool Residual { get; set; } = true;
    /// <summary>Hierarchical feature fusion: branch k adds the fused sum of branches 2..k-1.</summary>
    public bool Fusion { get; set; } = true;
    public double Eps { get; set; }
}

/// <summary>k successive 3x3 / stride 2 / pad 1 average poolings, padding counted (input reinforcement).</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class AvgPoolAttribute(string name, string from) : Attribute
{
    public string Name { get; } = name;
    public string From { get; } = from;
    public int Times { get; set; } = 1;
}

/// <summary>Concatenation along channels, in the order given.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class ConcatAttribute(string name, params string[] from) : Attribute
{
    public string Name { get; } = name;
    public string[] From { get; } = from;
}

/// <summary>Elementwise sum of two maps of the same shape.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class AddAttribute(string name, string left, string right) : Attribute
{
    public string Name { get; } = name;
    public string Left { get; } = left;
    public string Right { get; } = right;
}

/// <summary>Transposed convolution without bias (weights [In, Out, k, k]); ESPNet uses 2x2 stride 2.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class ConvTransposeAttribute(string name, string from) : Attribute
{
    public string Name { get; } = name;
    public string From { get; } = from;
    public int Out { get; set; }
    public int Kernel { get; set; } = 2;
    public int Stride { get; set; } = 2;
}

/// <summary>
/// EESP unit (ESPNetv2): grouped 1x1 CBR In -> Out/K (K groups), K depth-wise 3x3 branches (dilations from the
/// r_lim rule or given; the stride sits here), hierarchical fusion over all branches cumulatively, concat,
/// BN + PReLU, grouped 1x1 CB Out -> Out (K groups), identity residual when the input has the output's shape,
/// then PReLU (<c>module_act</c>). Keys: <c>proj_1x1</c>, <c>spp_dw.&lt;i&gt;</c>, <c>conv_1x1_exp</c>,
/// <c>br_after_cat</c>, <c>module_act</c>.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class EespAttribute(string name, string from) : Attribute
{
    public string Name { get; } = name;
    public string From { get; } = from;
    public int Out { get; set; }
    public int K { get; set; } = 4;
    /// <summary>Largest effective kernel: branch i has 3 + 2i, replaced by 3 when above RLim, sorted; d = (e - 1) / 2.</summary>
    public int RLim { get; set; } = 7;
    /// <summary>Dilation per branch, overriding the RLim rule.</summary>
    public int[]? Dilations { get; set; }
    public int Stride { get; set; } = 1;
    public double Eps { get; set; }
}

/// <summary>
/// Strided EESP (ESPNetv2's DownSampler): concat [avgpool3x3/2(x), EESP(x -> Out - In, stride 2, no residual,
/// no module_act)], plus, with <see cref="Reinforce"/>, CB(CBR(image pooled until its height equals the
/// output's)), then PReLU (<c>act</c>). The image is the network input.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class DownSamplerAttribute(string name, string from) : Attribute
{
    public string Name { get; } = name;
    public string From { get; } = from;
    public int Out { get; set; }
    public int K { get; set; } = 4;
    public int RLim { get; set; } = 9;
    public int[]? Dilations { get; set; }
    /// <summary>Add the input-reinforcement branch computed from the network input.</summary>
    public bool Reinforce { get; set; } = true;
    /// <summary>Declare the <c>inp_reinf.*</c> weights (the authors' level5_0 has them but never uses them).</summary>
    public bool ReinforcementWeights { get; set; } = true;
    public double Eps { get; set; }
}

/// <summary>Global average pooling to C x 1 x 1.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class GlobalAvgPoolAttribute(string name, string from) : Attribute
{
    public string Name { get; } = name;
    public string From { get; } = from;
}

/// <summary>Fully-connected layer over the flattened input: <c>name.weight</c> [Out, In], <c>name.bias</c> [Out].</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class LinearAttribute(string name, string from) : Attribute
{
    public string Name { get; } = name;
    public string From { get; } = from;
    public int Out { get; set; }
    public bool Bias { get; set; } = true;
}

/// <summary>Bilinear resize with aligned corners: by <see cref="Factor"/> (floor(f * size)) or to the size of <see cref="Like"/>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class ResizeAttribute(string name, string from) : Attribute
{
    public string Name { get; } = name;
    public string From { get; } = from;
    public double Factor { get; set; } = 2.0;
    /// <summary>A layer (or "input") whose height and width the output takes.</summary>
    public string? Like { get; set; }
}

/// <summary>
/// EfficientPyrPool (EdgeNets): 1x1 CBR to Proj channels; depthwise 3x3 branches at scales 2.0, 1.5, 1.0, 0.5,
/// 0.1 (size ceil(s * map), at least 5; adaptive average pooling and aligned-corners bilinear in between);
/// BR, 5-group channel shuffle, grouped 3x3 CBR, 1x1 conv to Out, then BR (or a bias when LastBatchNorm is false).
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class PyramidPoolAttribute(string name, string from) : Attribute
{
    public string Name { get; } = name;
    public string From { get; } = from;
    public int Proj { get; set; }
    public int Out { get; set; }
    public bool LastBatchNorm { get; set; } = true;
    public double Eps { get; set; }
}

/// <summary>EfficientPWConv (EdgeNets): 3x3 CBR with groups gcd(in, Out), gated per channel by sigmoid(1x1(global pool(x))).</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class GatedConvAttribute(string name, string from) : Attribute
{
    public string Name { get; } = name;
    public string From { get; } = from;
    public int Out { get; set; }
    public double Eps { get; set; }
}

/// <summary>The older ESPNetv2 head's PSP module: the input and Levels cumulatively pooled depthwise branches, resized back, 1x1 CBR.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class PspPoolAttribute(string name, string from) : Attribute
{
    public string Name { get; } = name;
    public string From { get; } = from;
    public int Out { get; set; }
    public int Levels { get; set; } = 4;
    public double Eps { get; set; }
}
