using Espnet.Compiled.Weights;

namespace Espnet.Compiled;

/// <summary>
/// What every generated network shares: its description, the parameter store and the activation arena,
/// weight loading and the batch loop of <see cref="Forward"/>. The generator emits the constants, the
/// tables and <see cref="ForwardSample"/>, one fixed-shape method per layer.
/// </summary>
public abstract class CompiledNetwork : ICompiledNetwork
{
    private readonly AlignedFloats _store;
    private readonly AlignedFloats _arena;
    private readonly AlignedFloats _derived;
    private readonly ParameterInfo[] _parameters;
    private readonly LayerInfo[] _layers;

    protected CompiledNetwork(string name, int batch, TensorShape input, TensorShape output, long parameterCount, long macCount,
        int storeFloats, int arenaFloats, ParameterInfo[] parameters, LayerInfo[] layers, int derivedFloats = 0)
    {
        Name = name;
        Batch = batch;
        InputShape = input;
        OutputShape = output;
        ParameterCount = parameterCount;
        MacCount = macCount;
        _store = new AlignedFloats(storeFloats);
        _arena = new AlignedFloats(arenaFloats);
        _derived = new AlignedFloats(derivedFloats);
        _parameters = parameters;
        _layers = layers;
    }

    public string Name { get; }
    public int Batch { get; }
    public TensorShape InputShape { get; }
    public TensorShape OutputShape { get; }
    public long ParameterCount { get; }
    public long MacCount { get; }
    public int ArenaFloats => _arena.Span.Length;
    public IReadOnlyList<ParameterInfo> Parameters => _parameters;
    public IReadOnlyList<LayerInfo> Layers => _layers;

    /// <summary>The parameter store (weights, BN statistics) in the layout of <see cref="Parameters"/>.</summary>
    public ReadOnlySpan<float> Store => _store.Span;

    public void LoadWeights(StateDict stateDict)
    {
        ParameterBinder.Bind(stateDict, _parameters, _store.Span, Name);
        PrepareInference();
    }

    /// <summary>
    /// Writes the network with its current weights as a static-shape ONNX model (opset
    /// <see cref="Onnx.OnnxGraph.Opset"/>, batch <see cref="Batch"/>, input "input", output "output").
    /// </summary>
    public void ExportOnnx(Stream destination)
    {
        var graph = new Onnx.OnnxGraph(Batch, Store);
        DescribeOnnx(graph);
        graph.Write(destination, Name);
    }

    /// <summary>Adds the network's nodes to <paramref name="graph"/>; generated from the schedule as lowered.</summary>
    protected virtual void DescribeOnnx(Onnx.OnnxGraph graph) =>
        throw new NotSupportedException($"{Name} was compiled without an ONNX description; rebuild it with this version of the generator");

    // ---- CUDA (generated: see docs/cuda.md) ----

    /// <summary>The network's CUDA C (UTF-8): its fused forward kernels and its training step's.</summary>
    protected internal virtual ReadOnlySpan<byte> CudaKernelSource =>
        throw new NotSupportedException($"{Name} was compiled without CUDA kernels; rebuild it with this version of the generator");
    /// <summary>The kernels in launch order, with the threads each needs.</summary>
    protected internal virtual (string Kernel, long Threads)[] CudaKernelLaunches => [];
    protected internal virtual long CudaArenaFloats => 0;
    protected internal virtual long CudaInputOffset => 0;
    protected internal virtual long CudaOutputOffset => 0;
    /// <summary>The training step's CUDA kernels and buffers (null: this network cannot be trained).</summary>
    protected internal virtual Cuda.CudaTrainingKernels? CudaTrainingKernels => null;

    // ---- training (generated: see docs/training.md) ----

    /// <summary>Floats of the training arena for the compiled batch.</summary>
    protected internal virtual int TrainingArenaFloats => 0;
    /// <summary>Where the training forward leaves the logits (batch-wide) in the training arena.</summary>
    protected internal virtual int TrainingOutputOffset => -1;
    /// <summary>Where the backward pass expects d loss / d logits in the training arena.</summary>
    protected internal virtual int TrainingOutputGradientOffset => -1;
    /// <summary>Offsets of the parameters the network reads (the optimizer updates these).</summary>
    protected internal virtual ReadOnlySpan<int> TrainedParameters => default;

    /// <summary>The training forward pass over a whole batch (BatchNorm on the batch's statistics).</summary>
    protected internal virtual void TrainForward(Training.TrainingContext t, ReadOnlySpan<float> input) =>
        throw new NotSupportedException($"{Name} was compiled without a training pass; rebuild it with this version of the generator");

    /// <summary>The backward pass: parameter gradients into <see cref="Training.TrainingContext.ParameterGradients"/>.</summary>
    protected internal virtual void TrainBackward(Training.TrainingContext t) =>
        throw new NotSupportedException($"{Name} was compiled without a training pass; rebuild it with this version of the generator");

    /// <summary>A writable window of the parameter store (BatchNorm running statistics; the optimizer's updates).</summary>
    protected internal Span<float> Mutable(int offset, int length) => _store.Span.Slice(offset, length);

    /// <summary>After the parameters changed in place: recompute what inference derives from them.</summary>
    internal void ParametersChanged() => PrepareInference();

    /// <summary>
    /// Recomputes the tensors the fast kernels derive from the loaded ones (BatchNorm folded into weights,
    /// scale-shifts); generated where the network has any. Runs after every load.
    /// </summary>
    protected virtual void PrepareInference()
    {
    }

    /// <summary>The derived store <see cref="PrepareInference"/> fills.</summary>
    protected Span<float> DerivedStore => _derived.Span;

    /// <summary>A read-only slice of the derived store.</summary>
    protected ReadOnlySpan<float> D(int offset, int length) => _derived.Span.Slice(offset, length);

    public void Forward(ReadOnlySpan<float> input, Span<float> output, IActivationObserver? observer = null)
    {
        int inputSample = InputShape.Elements, outputSample = OutputShape.Elements;
        if (input.Length != Batch * inputSample)
            throw new ArgumentException($"{Name} expects {Batch * inputSample} input floats ({Batch}x{InputShape}) but got {input.Length}.", nameof(input));
        if (output.Length != Batch * outputSample)
            throw new ArgumentException($"{Name} writes {Batch * outputSample} output floats ({Batch}x{OutputShape}) but the buffer holds {output.Length}.", nameof(output));
        // The output buffer also holds intermediate tensors before the last layer: an input inside it would be overwritten.
        if (input.Overlaps(output))
            throw new ArgumentException($"{Name}: the input and output buffers overlap; give the output its own buffer.", nameof(output));
        Cpu.Fast.Workers.Prepare();
        for (int n = 0; n < Batch; n++)
            ForwardSample(n, input.Slice(n * inputSample, inputSample), output.Slice(n * outputSample, outputSample), observer);
    }

    /// <summary>One sample through every layer; intermediates live in <see cref="Arena"/>.</summary>
    /// <summary>
    /// Floats from the start of <paramref name="output"/> to its first 64-byte boundary (0 to 15): where the buffers the
    /// plan keeps in the caller's output span begin, so the vector kernels see aligned rows there as in the arena.
    /// </summary>
    protected static unsafe int OutputRegionStart(Span<float> output)
    {
        nint address = (nint)System.Runtime.CompilerServices.Unsafe.AsPointer(ref System.Runtime.InteropServices.MemoryMarshal.GetReference(output));
        return (int)((64 - (address & 63)) & 63) / sizeof(float);
    }

    /// <summary>
    /// A layer output the plan keeps in <see cref="Cpu.Fast.OutputLayout.RowBlocked"/> layout (the last layer's input,
    /// inside the caller's output span) gathered into plain C x H x W order for an activation observer. The buffer is
    /// allocated at the first observation: forward passes without an observer allocate nothing.
    /// </summary>
    protected ReadOnlySpan<float> Unblocked(ReadOnlySpan<float> blocked, int c, int h, int w)
    {
        if (_unblocked is null || _unblocked.Length < c * h * w) _unblocked = new float[c * h * w];
        var layout = Cpu.Fast.OutputLayout.RowBlocked(h, w);
        for (int k = 0; k < c; k++)
            for (int i = 0; i < h; i++)
                blocked.Slice((int)layout.Offset(k, i), w).CopyTo(_unblocked.AsSpan((k * h + i) * w, w));
        return _unblocked.AsSpan(0, c * h * w);
    }

    private float[]? _unblocked;

    protected abstract void ForwardSample(int sample, ReadOnlySpan<float> input, Span<float> output, IActivationObserver? observer);

    protected Span<float> Arena => _arena.Span;

    /// <summary>A read-only slice of the parameter store.</summary>
    protected ReadOnlySpan<float> P(int offset, int length) => _store.Span.Slice(offset, length);
}
