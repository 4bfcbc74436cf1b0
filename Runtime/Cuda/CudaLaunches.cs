namespace Espnet.Compiled.Cuda;

/// <summary>
/// A fixed list of kernel launches over fixed buffers (every kernel of a network takes the same pointer arguments;
/// what changes between calls lives in device memory), run on one stream. The first run captures the list into a
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
    private IntPtr _stream, _graph, _exec;

    public CudaLaunches(IntPtr module, IEnumerable<(string Kernel, long Threads)> launches, ulong[] arguments, string what)
    {
        _kernels = [.. launches.Select(launch =>
        {
            CudaApi.Check(CudaApi.cuModuleGetFunction(out var function, module, launch.Kernel), $"cuModuleGetFunction({launch.Kernel})");
            return (function, (uint)Math.Clamp((launch.Threads + BlockSize - 1) / BlockSize, 1, 1 << 20));
        })];
        _names = [.. launches.Select(l => l.Kernel)];
        _arguments = arguments;
        _what = what;
        // A blocking stream: it waits for the copies made on the legacy default stream before it, and they for it.
        CudaApi.Check(CudaApi.cuStreamCreate(out _stream, 0), "cuStreamCreate");
    }

    public int Count => _kernels.Length;

    public IntPtr Stream => _stream;

    /// <summary>Every kernel in order on the stream (the graph after the first run), then waits for them.</summary>
    public void Run()
    {
        if (_graphs && _exec == IntPtr.Zero) Capture();
        if (_exec != IntPtr.Zero) CudaApi.Check(CudaApi.cuGraphLaunch(_exec, _stream), $"cuGraphLaunch ({_what})");
        else Launch();
        CudaApi.Check(CudaApi.cuStreamSynchronize(_stream), $"{_what}: running the kernels (cuStreamSynchronize)");
    }

    /// <summary>Enqueues the kernels without waiting (for timing with events on <see cref="Stream"/>).</summary>
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
        if (_stream != IntPtr.Zero) CudaApi.cuStreamDestroy_v2(_stream);
        _exec = _graph = _stream = IntPtr.Zero;
    }
}
