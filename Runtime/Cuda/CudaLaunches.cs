namespace Espnet.Compiled.Cuda;

/// <summary>
/// A fixed list of kernel launches over fixed buffers (every kernel of a network takes the same pointer arguments;
/// what changes between calls lives in device memory), run on its owner's stream (where the owner's copies go too,
/// so they are ordered with the kernels). The first run captures the list into a
/// CUDA graph and later runs launch the graph: one launch call for the whole pass instead of one per kernel.
/// <c>ESPNET_CUDA_GRAPHS=0</c> launches the kernels one by one instead (to compare, or where capture fails).
/// </summary>
internal sealed unsafe class CudaLaunches : IDisposable
{
    public const int BlockSize = 256;
    private readonly (IntPtr Function, uint Grid)[] _kernels;
    private readonly string[] _names;
    private readonly ulong[] _arguments;
    private readonly string _what;
    private readonly bool _graphs = Environment.GetEnvironmentVariable("ESPNET_CUDA_GRAPHS") != "0";
    private readonly IntPtr _stream;
    private IntPtr _graph, _exec;

    public CudaLaunches(IntPtr module, IntPtr stream, IEnumerable<(string Kernel, long Threads)> launches, ulong[] arguments, string what)
    {
        _stream = stream;
        _kernels = [.. launches.Select(launch =>
        {
            CudaApi.Check(CudaApi.cuModuleGetFunction(out var function, module, launch.Kernel), $"cuModuleGetFunction({launch.Kernel})");
            return (function, (uint)Math.Clamp((launch.Threads + BlockSize - 1) / BlockSize, 1, 1 << 20));
        })];
        _names = [.. launches.Select(l => l.Kernel)];
        _arguments = arguments;
        _what = what;
    }

    public int Count => _kernels.Length;

    /// <summary>Every kernel in order on the stream (the graph after the first run), then waits for them.</summary>
    public void Run()
    {
        if (_graphs && _exec == IntPtr.Zero) Capture();
        if (_exec != IntPtr.Zero) CudaApi.Check(CudaApi.cuGraphLaunch(_exec, _stream), $"cuGraphLaunch ({_what})");
        else Launch();
        CudaApi.Check(CudaApi.cuStreamSynchronize(_stream), $"{_what}: running the kernels (cuStreamSynchronize)");
    }

    /// <summary>Enqueues the kernels without waiting (for timing with events on the stream).</summary>
    public void Enqueue()
    {
        if (_graphs && _exec == IntPtr.Zero) Capture();
        if (_exec != IntPtr.Zero) CudaApi.Check(CudaApi.cuGraphLaunch(_exec, _stream), $"cuGraphLaunch ({_what})");
        else Launch();
    }

    private void Launch()
    {
        int n = _arguments.Length;
        ulong* values = stackalloc ulong[n];
        void** args = stackalloc void*[n];
        for (int i = 0; i < n; i++)
        {
            values[i] = _arguments[i];
            args[i] = values + i;
        }
        for (int k = 0; k < _kernels.Length; k++)
        {
            int result = CudaApi.cuLaunchKernel(_kernels[k].Function, _kernels[k].Grid, 1, 1, BlockSize, 1, 1, 0, _stream, args, null);
            if (result != 0) CudaApi.Check(result, $"cuLaunchKernel ({_what}, kernel {_names[k]})");
        }
    }

    /// <summary>Records the launches into a graph (thread-local capture mode: other threads' CUDA calls are not disturbed).</summary>
    private void Capture()
    {
        CudaApi.Check(CudaApi.cuStreamBeginCapture_v2(_stream, 1), $"cuStreamBeginCapture ({_what})");
        try
        {
            Launch();
        }
        finally
        {
            CudaApi.Check(CudaApi.cuStreamEndCapture(_stream, out _graph), $"cuStreamEndCapture ({_what})");
        }
        CudaApi.Check(CudaApi.cuGraphInstantiateWithFlags(out _exec, _graph, 0), $"cuGraphInstantiate ({_what})");
    }

    public void Dispose()
    {
        if (_exec != IntPtr.Zero) CudaApi.cuGraphExecDestroy(_exec);
        if (_graph != IntPtr.Zero) CudaApi.cuGraphDestroy(_graph);
        _exec = _graph = IntPtr.Zero;
    }
}

/// <summary>
/// A non-blocking stream and the copies a network's host code makes on it: copies in return once the host memory is
/// staged (it may be reused), copies out wait for the stream, so every copy is ordered with the kernels around it.
/// </summary>
internal sealed unsafe class CudaStream : IDisposable
{
    private IntPtr _stream;

    public CudaStream() => CudaApi.Check(CudaApi.cuStreamCreate(out _stream, 1), "cuStreamCreate");   // CU_STREAM_NON_BLOCKING

    public IntPtr Handle => _stream;

    public void Up<T>(ulong buffer, long floatOffset, ReadOnlySpan<T> values, string what) where T : unmanaged
    {
        fixed (T* v = values)
            CudaApi.Check(CudaApi.cuMemcpyHtoDAsync_v2(buffer + (ulong)(floatOffset * 4), v, (nuint)(values.Length * sizeof(T)), _stream), $"cuMemcpyHtoDAsync ({what})");
    }

    public void Down<T>(ulong buffer, long floatOffset, Span<T> values, string what) where T : unmanaged
    {
        fixed (T* v = values)
            CudaApi.Check(CudaApi.cuMemcpyDtoHAsync_v2(v, buffer + (ulong)(floatOffset * 4), (nuint)(values.Length * sizeof(T)), _stream), $"cuMemcpyDtoHAsync ({what})");
        Wait(what);
    }

    public void Zero(ulong buffer, long floats, string what) =>
        CudaApi.Check(CudaApi.cuMemsetD8Async(buffer, 0, (nuint)(floats * 4), _stream), $"cuMemsetD8Async ({what})");

    public void Wait(string what) => CudaApi.Check(CudaApi.cuStreamSynchronize(_stream), $"cuStreamSynchronize ({what})");

    public void Dispose()
    {
        if (_stream != IntPtr.Zero) CudaApi.cuStreamDestroy_v2(_stream);
        _stream = IntPtr.Zero;
    }
}
