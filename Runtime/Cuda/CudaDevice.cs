using System.Security.Cryptography;
using System.Text;

namespace Espnet.Compiled.Cuda;

/// <summary>
/// The GPU a compiled network runs on: the driver initialised, device 0's primary context current, and CUDA
/// source compiled by NVRTC for this device's architecture — cached on disk by content hash (source and
/// architecture), so a second run loads the PTX without compiling.
/// </summary>
public sealed class CudaDevice
{
    private static readonly Lazy<CudaDevice> s_default = new(() => new CudaDevice(0));

    private CudaDevice(int ordinal)
    {
        try
        {
            CudaApi.Check(CudaApi.cuInit(0), "cuInit");
        }
        catch (DllNotFoundException)
        {
            throw new CudaUnavailableException("no CUDA driver found: use --device cpu");
        }
        CudaApi.Check(CudaApi.cuDeviceGetCount(out int count), "cuDeviceGetCount");
        if (count <= ordinal) throw new CudaUnavailableException($"no CUDA device {ordinal} (the driver sees {count}): use --device cpu");
        CudaApi.Check(CudaApi.cuDeviceGet(out int device, ordinal), "cuDeviceGet");
        Handle = device;
        CudaApi.Check(CudaApi.cuDeviceGetAttribute(out int major, CudaApi.AttributeComputeCapabilityMajor, device), "cuDeviceGetAttribute");
        CudaApi.Check(CudaApi.cuDeviceGetAttribute(out int minor, CudaApi.AttributeComputeCapabilityMinor, device), "cuDeviceGetAttribute");
        Architecture = major * 10 + minor;
        unsafe
        {
            var name = stackalloc byte[256];
            CudaApi.Check(CudaApi.cuDeviceGetName(name, 256, device), "cuDeviceGetName");
            Name = new string((sbyte*)name);
        }
        CudaApi.Check(CudaApi.cuDevicePrimaryCtxRetain(out var context, device), "cuDevicePrimaryCtxRetain");
        Context = context;
        MakeCurrent();
    }

    /// <summary>Device 0; throws <see cref="CudaUnavailableException"/> with a one-line reason where there is none.</summary>
    public static CudaDevice Default => s_default.Value;

    public int Handle { get; }
    public string Name { get; } = "";
    /// <summary>Compute capability as NVRTC spells it (90 for sm_90).</summary>
    public int Architecture { get; }
    internal IntPtr Context { get; }

    /// <summary>Makes this device's context current on the calling thread.</summary>
    public void MakeCurrent() => CudaApi.Check(CudaApi.cuCtxSetCurrent(Context), "cuCtxSetCurrent");

    /// <summary>
    /// The network's kernels loaded on this device (compiled by NVRTC, or from the cache); a driver that cannot take
    /// the PTX is said in words, naming the network and what to do.
    /// </summary>
    public unsafe IntPtr LoadModule(ReadOnlySpan<byte> source, string name, string? cacheDirectory)
    {
        MakeCurrent();
        byte[] ptx = Compile(source, name, cacheDirectory ?? Path.Combine(Path.GetTempPath(), "espnet-compiled-ptx"));
        byte[] image = [.. ptx, 0];
        IntPtr module;
        int result;
        fixed (byte* p = image) result = CudaApi.cuModuleLoadData(out module, p);
        if (result is 222 or 218) // CUDA_ERROR_UNSUPPORTED_PTX_VERSION, CUDA_ERROR_INVALID_PTX
            throw new CudaException($"{name}: the CUDA driver cannot load the PTX NVRTC made for sm_{Architecture} (error {result}): the driver is older than " +
                                    "the NVRTC library; update the driver, or put an NVRTC no newer than it first on the library path");
        CudaApi.Check(result, $"cuModuleLoadData ({name})");
        return module;
    }

    /// <summary>PTX for <paramref name="source"/> on this device: from the cache, else compiled by NVRTC and cached.</summary>
    public byte[] Compile(ReadOnlySpan<byte> source, string name, string cacheDirectory)
    {
        string key = Convert.ToHexStringLower(SHA256.HashData([.. source, .. Encoding.UTF8.GetBytes($"|sm_{Architecture}|")]))[..20];
        string path = Path.Combine(cacheDirectory, $"{name}-sm{Architecture}-{key}.ptx");
        if (File.Exists(path)) return File.ReadAllBytes(path);
        byte[] ptx = Nvrtc(source, name);
        Directory.CreateDirectory(cacheDirectory);
        string temporary = path + $".{Environment.ProcessId}.tmp";
        File.WriteAllBytes(temporary, ptx);
        File.Move(temporary, path, overwrite: true);
        return ptx;
    }

    private unsafe byte[] Nvrtc(ReadOnlySpan<byte> source, string name)
    {
        byte[] text = [.. source, 0];
        IntPtr program;
        try
        {
            fixed (byte* s = text) CudaApi.CheckNvrtc(CudaApi.nvrtcCreateProgram(out program, s, name + ".cu", 0, IntPtr.Zero, IntPtr.Zero), "nvrtcCreateProgram");
        }
        catch (DllNotFoundException)
        {
            throw new CudaUnavailableException("NVRTC (libnvrtc) not found: install the CUDA toolkit's runtime compiler, or use --device cpu");
        }
        try
        {
            var options = new[] { $"--gpu-architecture=compute_{Architecture}", "--use_fast_math" }
                .Select(o => System.Runtime.InteropServices.Marshal.StringToHGlobalAnsi(o)).ToArray();
            int result;
            try
            {
                fixed (IntPtr* values = options) result = CudaApi.nvrtcCompileProgram(program, options.Length, values);
            }
            finally
            {
                foreach (var o in options) System.Runtime.InteropServices.Marshal.FreeHGlobal(o);
            }
            if (result != 0)
            {
                CudaApi.CheckNvrtc(CudaApi.nvrtcGetProgramLogSize(program, out nuint logSize), "nvrtcGetProgramLogSize");
                var log = new byte[logSize];
                fixed (byte* l = log) CudaApi.nvrtcGetProgramLog(program, l);
                string first = Encoding.UTF8.GetString(log).Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? "";
                throw new CudaException($"NVRTC rejected the kernels of {name} for sm_{Architecture}: {first}");
            }
            CudaApi.CheckNvrtc(CudaApi.nvrtcGetPTXSize(program, out nuint size), "nvrtcGetPTXSize");
            var ptx = new byte[size];
            fixed (byte* p = ptx) CudaApi.CheckNvrtc(CudaApi.nvrtcGetPTX(program, p), "nvrtcGetPTX");
            return ptx;
        }
        finally
        {
            CudaApi.nvrtcDestroyProgram(ref program);
        }
    }
}
