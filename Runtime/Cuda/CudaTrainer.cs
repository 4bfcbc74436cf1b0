using Espnet.Compiled.Training;

namespace Espnet.Compiled.Cuda;

/// <summary>
/// Trains a compiled network on the GPU as <see cref="Trainer"/> does on the CPU: one step is the generated
/// kernels' forward pass over the batch (BatchNorm on the batch's statistics, running statistics updated), the
/// cross-entropy, the backward pass; <see cref="Step"/> is one optimizer update of every trained parameter. The
/// parameters, the training arena, the gradients and the optimizer's state stay on the device; per step only the
/// input, the labels and a few settings go up and the loss comes down. Nothing is allocated per step on the host
/// or the device. <see cref="DownloadWeights"/> brings the parameters back into the network (checkpoints, the CPU
/// path).
/// </summary>
public sealed unsafe class CudaTrainer : ITrainer, IDisposable
{
    private readonly CompiledNetwork _network;
    private readonly CudaTrainingKernels _kernels;
    private readonly CudaDevice _device;
    private readonly IntPtr _module;
    private CudaLaunches? _step, _update;
    private CudaStream? _stream;
    private readonly CudaOptimizer _optimizer;
    private readonly ParameterInfo[] _trainedInfo;
    private readonly int[] _labels;
    private readonly float[] _classWeights;
    private readonly double[] _hyper, _rates;
    private readonly double[] _loss = new double[2];
    private ulong _p, _t, _d, _w;
    private int _steps;

    public CudaTrainer(CompiledNetwork network, CudaOptimizer optimizer, CudaDevice? device = null, string? cacheDirectory = null)
    {
        _network = network;
        _optimizer = optimizer;
        _kernels = network.CudaTrainingKernels
            ?? throw new NotSupportedException($"{network.Name} has no CUDA training kernels (a batch too large for one training arena, or built by an older generator)");
        _device = device ?? CudaDevice.Default;
        _module = _device.LoadModule(network.CudaKernelSource, network.Name, cacheDirectory);
        _trainedInfo = Trainer.TrainedParameters(network);
        _labels = new int[network.Batch * network.OutputShape.Height * network.OutputShape.Width];
        _classWeights = new float[network.OutputShape.Channels];
        _hyper = new double[CudaTrainingKernels.HyperRates + _trainedInfo.Length];
        _rates = new double[_trainedInfo.Length];

        int store = network.Store.Length;
        _p = Allocate(store, "the parameters");
        _t = Allocate(_kernels.ArenaFloats, "the training arena");
        _d = Allocate(store, "the parameter gradients");
        _w = Allocate(_kernels.WorkFloats, "the work area and optimizer state");
        _stream = new CudaStream();
        _step = new CudaLaunches(_module, _stream.Handle, _kernels.Step, [_p, _t, _d, _w], network.Name + " training step");
        _update = new CudaLaunches(_module, _stream.Handle, _kernels.Optimizers.Where(k => k.Kernel == optimizer.Kernel), [_p, _t, _d, _w], network.Name + " " + optimizer.Kernel);
        _stream.Zero(_w, _kernels.WorkFloats, "the work area");
        var groups = new int[store];
        CudaTrainingKernels.WriteGroups(_trainedInfo, groups);
        Upload(_w, _kernels.Groups, groups.AsSpan(), "the parameter groups");
        UploadWeights();
    }

    private ulong Allocate(long floats, string what)
    {
        int result = CudaApi.cuMemAlloc_v2(out ulong pointer, (nuint)(Math.Max(floats, 1) * 4));
        if (result == 2) // CUDA_ERROR_OUT_OF_MEMORY
            throw new CudaException($"{_network.Name}: the GPU has no room for {what} ({floats * 4 / (1 << 20)} MB): use a smaller --batch or --height/--width");
        CudaApi.Check(result, "cuMemAlloc");
        return pointer;
    }

    private void Upload<T>(ulong buffer, long floatOffset, ReadOnlySpan<T> values, string what) where T : unmanaged =>
        _stream!.Up(buffer, floatOffset, values, what);

    private void Download<T>(ulong buffer, long floatOffset, Span<T> values, string what) where T : unmanaged =>
        _stream!.Down(buffer, floatOffset, values, what);

    /// <summary>Floats of the training arena on the device (saved activations, gradients, BatchNorm statistics).</summary>
    public long ArenaFloats => _kernels.ArenaFloats;

    /// <summary>The GPU's name.</summary>
    public string DeviceName => _device.Name;

    /// <summary>A learning-rate multiplier per parameter (parameter groups), as <see cref="Trainer.LearningRateScale"/>.</summary>
    public Func<ParameterInfo, double>? LearningRateScale { get; set; }

    /// <summary>Updates made so far (Adam's bias correction; SGD's momentum buffer starts at the first).</summary>
    public int Steps => _steps;

    /// <summary>Copies the network's parameters (after a load) to the device.</summary>
    public void UploadWeights()
    {
        _device.MakeCurrent();
        Upload(_p, 0, _network.Store, "the parameters");
    }

    /// <summary>Brings the trained parameters and running statistics back into the network (its CPU inference path uses them after).</summary>
    public void DownloadWeights()
    {
        _device.MakeCurrent();
        Download(_p, 0, _network.Mutable(0, _network.Store.Length), "the parameters");
        _network.ParametersChanged();
    }

    /// <summary>Forward, per-pixel cross-entropy against <paramref name="labels"/> (class weights; <paramref name="ignore"/> left out), backward, on the device. Returns the loss.</summary>
    public double ComputeGradients(ReadOnlySpan<float> input, ReadOnlySpan<byte> labels, ReadOnlySpan<float> classWeights = default, int ignore = 255)
    {
        var o = _network.OutputShape;
        if (labels.Length != _labels.Length)
            throw new ArgumentException($"{_network.Name} needs {_network.Batch}x{o.Height}x{o.Width} labels (the output's size), not {labels.Length}");
        if (!classWeights.IsEmpty && classWeights.Length < o.Channels)
            throw new ArgumentException($"{_network.Name} has {o.Channels} classes: give {o.Channels} class weights, not {classWeights.Length}");
        CudaTrainingKernels.WriteLabels(labels, o.Channels, o.Height * o.Width, ignore, _labels);
        for (int c = 0; c < o.Channels; c++) _classWeights[c] = classWeights.IsEmpty ? 1f : classWeights[c];
        return Run(input);
    }

    /// <summary>Forward, cross-entropy against one class per sample (image classification), backward. Returns the loss.</summary>
    public double ComputeGradients(ReadOnlySpan<float> input, ReadOnlySpan<int> classes)
    {
        var o = _network.OutputShape;
        if (o.Height * o.Width != 1 || classes.Length != _network.Batch)
            throw new ArgumentException($"{_network.Name} gives {o} per sample: one class per sample needs a 1x1 output and {_network.Batch} targets");
        CudaTrainingKernels.WriteLabels(classes, o.Channels, _labels);
        Array.Fill(_classWeights, 1f);
        return Run(input);
    }

    private double Run(ReadOnlySpan<float> input)
    {
        int length = _network.Batch * _network.InputShape.Elements;
        if (input.Length != length)
            throw new ArgumentException($"{_network.Name} trains on batches of {_network.Batch}x{_network.InputShape} = {length} floats, not {input.Length}");
        _device.MakeCurrent();
        Upload(_t, _kernels.Input, input, "the input");
        Upload(_w, _kernels.Labels, (ReadOnlySpan<int>)_labels, "the labels");
        Upload(_w, _kernels.ClassWeights, (ReadOnlySpan<float>)_classWeights, "the class weights");
        _step!.Run();
        Download(_w, _kernels.Loss, _loss.AsSpan(0, 1), "the loss");
        return _loss[0];
    }

    /// <summary>Updates every trained parameter from the last gradients at learning rate <paramref name="lr"/> (times its <see cref="LearningRateScale"/>).</summary>
    public void Step(double lr)
    {
        for (int i = 0; i < _trainedInfo.Length; i++) _rates[i] = lr * (LearningRateScale?.Invoke(_trainedInfo[i]) ?? 1);
        CudaTrainingKernels.WriteHyper(_optimizer, _steps, _rates, _hyper);
        _device.MakeCurrent();
        Upload(_w, _kernels.Hyper, (ReadOnlySpan<double>)_hyper, "the optimizer settings");
        _update!.Run();
        _steps++;
    }

    /// <summary>Brings the trained parameters back into the network (<see cref="DownloadWeights"/>).</summary>
    public void SyncWeights() => DownloadWeights();

    /// <summary>The optimizer's state as <see cref="Trainer.OptimizerState"/> gives it (the same keys and step count), copied from the device.</summary>
    public (List<(string Key, int[] Shape, float[] Values)> Tensors, int Steps) OptimizerState()
    {
        var tensors = new List<(string, int[], float[])>();
        _device.MakeCurrent();
        foreach (var info in _trainedInfo)
            for (int b = 0; b < Buffers; b++)
            {
                var values = new float[info.Elements];
                Download(_w, _kernels.State + (long)b * _network.Store.Length + info.Offset, values.AsSpan(), "the optimizer state");
                tensors.Add(($"{info.Key}#{b}", [info.Elements], values));
            }
        return (tensors, _optimizer.IsAdam ? _steps : Math.Min(_steps, 1));
    }

    /// <summary>Restores what <see cref="OptimizerState"/> (or the CPU trainer's) saved; throws naming the first buffer that does not fit.</summary>
    public void RestoreOptimizer(Weights.StateDict saved, int steps)
    {
        _device.MakeCurrent();
        foreach (var info in _trainedInfo)
            for (int b = 0; b < Buffers; b++)
            {
                string key = $"{info.Key}#{b}";
                if (!saved.TryGet(key, out var tensor) || tensor.Values.Length != info.Elements)
                    throw new Weights.WeightLoadException($"the optimizer state has no buffer {key} of {info.Elements} values: it was saved by another model or optimizer");
                Upload(_w, _kernels.State + (long)b * _network.Store.Length + info.Offset, (ReadOnlySpan<float>)tensor.Values, "the optimizer state");
            }
        _steps = steps;
    }

    /// <summary>State buffers per parameter: SGD's momentum; Adam's two moments.</summary>
    private int Buffers => _optimizer.IsAdam ? 2 : 1;

    /// <summary>The logits of the last forward pass (N x classes x H x W), copied from the device.</summary>
    public void CopyLogits(Span<float> into)
    {
        _device.MakeCurrent();
        Download(_t, _kernels.Output, into[..(_network.Batch * _network.OutputShape.Elements)], "the logits");
    }

    /// <summary>d loss / d parameter of the last pass at the store's offsets, copied from the device.</summary>
    public void CopyGradients(Span<float> into)
    {
        _device.MakeCurrent();
        Download(_d, 0, into[.._network.Store.Length], "the gradients");
    }

    public void Dispose()
    {
        _step?.Dispose();
        _update?.Dispose();
        _stream?.Dispose();
        _step = _update = null;
        _stream = null;
        foreach (ulong buffer in new[] { _p, _t, _d, _w })
            if (buffer != 0) CudaApi.cuMemFree_v2(buffer);
        _p = _t = _d = _w = 0;
        if (_module != IntPtr.Zero) CudaApi.cuModuleUnload(_module);
    }
}
