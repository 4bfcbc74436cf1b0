namespace Espnet.Compiled.Cuda;

/// <summary>
/// A compiled network on the GPU: its generated CUDA source compiled for the device (NVRTC, cached), the parameter
/// store and the activation arena allocated once, and <see cref="Forward"/> as on the CPU (the same batch and
/// shapes), launching the kernels in order (a CUDA graph after the first call). No allocation per call on the host or the device.
/// </summary>
public sealed unsafe class CudaNetwork : IDisposable
{
    private readonly CompiledNetwork _network;
    private readonly CudaDevice _device;
    private readonly IntPtr _module;
    private CudaLaunches? _forward;
    private CudaStream? _stream;
    private readonly long _inputOffset, _outputOffset;
    private ulong _parameters, _arena;

    public CudaNetwork(CompiledNetwork network, CudaDevice? device = null, string? cacheDirectory = null)
    {
        _network = network;
        _device = device ?? CudaDevice.Default;
        _module = _device.LoadModule(network.CudaKernelSource, network.Name, cacheDirectory);
        _inputOffset = network.CudaInputOffset;
        _outputOffset = network.CudaOutputOffset;
        Allocate(out _parameters, network.Store.Length, "the parameters");
        Allocate(out _arena, network.CudaArenaFloats, "the activation arena");
        _stream = new CudaStream();
        _forward = new CudaLaunches(_module, _stream.Handle, network.CudaKernelLaunches, [_parameters, _arena], network.Name);
        UploadWeights();
    }

    public string DeviceName => _device.Name;

    private void Allocate(out ulong pointer, long floats, string what)
    {
        int result = CudaApi.cuMemAlloc_v2(out pointer, (nuint)(Math.Max(floats, 1) * 4));
        if (result == 2) // CUDA_ERROR_OUT_OF_MEMORY
            throw new CudaException($"{_network.Name}: the GPU has no room for {what} ({floats * 4 / (1 << 20)} MB): use a smaller --height/--width or batch");
        CudaApi.Check(result, "cuMemAlloc");
    }

    /// <summary>Copies the network's current parameters (after LoadWeights or training) to the device.</summary>
    public void UploadWeights()
    {
        _device.MakeCurrent();
        _stream!.Up(_parameters, 0, _network.Store, "the weights");
        _stream.Wait("the weights");
    }

    /// <summary>Runs the network on <c>Batch</c> samples, NCHW float32, as <see cref="ICompiledNetwork.Forward"/> does on the CPU.</summary>
    public void Forward(ReadOnlySpan<float> input, Span<float> output)
    {
        long inLength = (long)_network.Batch * _network.InputShape.Elements, outLength = (long)_network.Batch * _network.OutputShape.Elements;
        if (input.Length != inLength || output.Length != outLength)
            throw new ArgumentException($"{_network.Name} on the GPU takes {inLength} input floats and writes {outLength}; got {input.Length} and {output.Length}");
        _device.MakeCurrent();
        _stream!.Up(_arena, _inputOffset, input, "the input");
        _forward!.Run();
        _stream.Down(_arena, _outputOffset, output, "the output");
    }

    /// <summary>The kernels alone, timed with CUDA events (milliseconds), on what the arena holds.</summary>
    public float TimeKernels()
    {
        _device.MakeCurrent();
        CudaApi.Check(CudaApi.cuEventCreate(out var start, 0), "cuEventCreate");
        CudaApi.Check(CudaApi.cuEventCreate(out var end, 0), "cuEventCreate");
        IntPtr stream = _stream!.Handle;
        CudaApi.Check(CudaApi.cuEventRecord(start, stream), "cuEventRecord");
        _forward!.Enqueue();
        CudaApi.Check(CudaApi.cuEventRecord(end, stream), "cuEventRecord");
        CudaApi.Check(CudaApi.cuEventSynchronize(end), "cuEventSynchronize");
        CudaApi.Check(CudaApi.cuEventElapsedTime(out float ms, start, end), "cuEventElapsedTime");
        CudaApi.cuEventDestroy_v2(start);
        CudaApi.cuEventDestroy_v2(end);
        return ms;
    }

    public void Dispose()
    {
        _forward?.Dispose();
        _stream?.Dispose();
        _forward = null;
        _stream = null;
        if (_arena != 0) CudaApi.cuMemFree_v2(_arena);
        if (_parameters != 0) CudaApi.cuMemFree_v2(_parameters);
        _arena = _parameters = 0;
        if (_module != IntPtr.Zero) CudaApi.cuModuleUnload(_module);
    }
}
