using System.Reflection;
using System.Runtime.InteropServices;

namespace Espnet.Compiled.Cuda;

/// <summary>A CUDA call failed: names the call and CUDA's own error name and text.</summary>
public sealed class CudaException(string message) : Exception(message);

/// <summary>No usable CUDA driver (or NVRTC) on this machine.</summary>
public sealed class CudaUnavailableException(string message) : Exception(message);

/// <summary>
/// The CUDA driver API and NVRTC, bound with LibraryImport and kept to the calls this project uses (ManagedCuda
/// is not available here): initialisation, devices, contexts, modules, memory, launches, streams, graph capture, events; NVRTC's
/// program, compile, PTX and log. Library names are resolved at first use (libcuda.so.1 / nvcuda.dll; the
/// NVRTC of CUDA 13, 12 or 11); a missing library becomes <see cref="CudaUnavailableException"/>.
/// </summary>
internal static unsafe partial class CudaApi
{
    private const string Driver = "espnet-cuda", Nvrtc = "espnet-nvrtc";

    static CudaApi() => NativeLibrary.SetDllImportResolver(typeof(CudaApi).Assembly, Resolve);

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? path)
    {
        string[] candidates = name switch
        {
            Driver => OperatingSystem.IsWindows() ? ["nvcuda.dll"] : ["libcuda.so.1", "libcuda.so"],
            Nvrtc => OperatingSystem.IsWindows()
                ? ["nvrtc64_130_0.dll", "nvrtc64_120_0.dll", "nvrtc64_112_0.dll"]
                : ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"],
            _ => [],
        };
        foreach (string candidate in candidates)
            if (NativeLibrary.TryLoad(candidate, assembly, path, out var handle)) return handle;
        return IntPtr.Zero;
    }

    /// <summary>Throws on a CUresult other than success, naming the call.</summary>
    public static void Check(int result, string call)
    {
        if (result == 0) return;
        string name = "CUDA_ERROR_" + result, text = "";
        try
        {
            if (cuGetErrorName(result, out var n) == 0 && n != IntPtr.Zero) name = Marshal.PtrToStringAnsi(n) ?? name;
            if (cuGetErrorString(result, out var s) == 0 && s != IntPtr.Zero) text = Marshal.PtrToStringAnsi(s) ?? "";
        }
        catch (EntryPointNotFoundException)
        {
        }
        throw new CudaException($"{call} failed: {name}{(text.Length > 0 ? ": " + text : "")}");
    }

    public static void CheckNvrtc(int result, string call)
    {
        if (result == 0) return;
        throw new CudaException($"{call} failed: {Marshal.PtrToStringAnsi(nvrtcGetErrorString(result)) ?? "NVRTC error " + result}");
    }

    // ---- driver ----
    [LibraryImport(Driver)] public static partial int cuInit(uint flags);
    [LibraryImport(Driver)] public static partial int cuDriverGetVersion(out int version);
    [LibraryImport(Driver)] public static partial int cuDeviceGetCount(out int count);
    [LibraryImport(Driver)] public static partial int cuDeviceGet(out int device, int ordinal);
    [LibraryImport(Driver)] public static partial int cuDeviceGetName(byte* name, int length, int device);
    [LibraryImport(Driver)] public static partial int cuDeviceGetAttribute(out int value, int attribute, int device);
    [LibraryImport(Driver)] public static partial int cuDevicePrimaryCtxRetain(out IntPtr context, int device);
    [LibraryImport(Driver)] public static partial int cuDevicePrimaryCtxRelease_v2(int device);
    [LibraryImport(Driver)] public static partial int cuCtxSetCurrent(IntPtr context);
    [LibraryImport(Driver)] public static partial int cuCtxSynchronize();
    [LibraryImport(Driver)] public static partial int cuModuleLoadData(out IntPtr module, byte* image);
    [LibraryImport(Driver)] public static partial int cuModuleUnload(IntPtr module);
    [LibraryImport(Driver, StringMarshalling = StringMarshalling.Utf8)] public static partial int cuModuleGetFunction(out IntPtr function, IntPtr module, string name);
    [LibraryImport(Driver)] public static partial int cuMemAlloc_v2(out ulong pointer, nuint bytes);
    [LibraryImport(Driver)] public static partial int cuMemFree_v2(ulong pointer);
    [LibraryImport(Driver)] public static partial int cuMemcpyHtoD_v2(ulong destination, void* source, nuint bytes);
    [LibraryImport(Driver)] public static partial int cuMemcpyDtoH_v2(void* destination, ulong source, nuint bytes);
    [LibraryImport(Driver)] public static partial int cuMemcpyHtoDAsync_v2(ulong destination, void* source, nuint bytes, IntPtr stream);
    [LibraryImport(Driver)] public static partial int cuMemcpyDtoHAsync_v2(void* destination, ulong source, nuint bytes, IntPtr stream);
    [LibraryImport(Driver)] public static partial int cuMemsetD8Async(ulong destination, byte value, nuint bytes, IntPtr stream);
    [LibraryImport(Driver)]
    public static partial int cuLaunchKernel(IntPtr function, uint gridX, uint gridY, uint gridZ, uint blockX, uint blockY, uint blockZ,
        uint sharedBytes, IntPtr stream, void** parameters, void** extra);
    [LibraryImport(Driver)] public static partial int cuStreamCreate(out IntPtr stream, uint flags);
    [LibraryImport(Driver)] public static partial int cuStreamDestroy_v2(IntPtr stream);
    [LibraryImport(Driver)] public static partial int cuStreamSynchronize(IntPtr stream);
    [LibraryImport(Driver)] public static partial int cuStreamBeginCapture_v2(IntPtr stream, int mode);
    [LibraryImport(Driver)] public static partial int cuStreamEndCapture(IntPtr stream, out IntPtr graph);
    [LibraryImport(Driver)] public static partial int cuGraphInstantiateWithFlags(out IntPtr exec, IntPtr graph, ulong flags);
    [LibraryImport(Driver)] public static partial int cuGraphLaunch(IntPtr exec, IntPtr stream);
    [LibraryImport(Driver)] public static partial int cuGraphExecDestroy(IntPtr exec);
    [LibraryImport(Driver)] public static partial int cuGraphDestroy(IntPtr graph);
    [LibraryImport(Driver)] public static partial int cuEventCreate(out IntPtr @event, uint flags);
    [LibraryImport(Driver)] public static partial int cuEventRecord(IntPtr @event, IntPtr stream);
    [LibraryImport(Driver)] public static partial int cuEventSynchronize(IntPtr @event);
    [LibraryImport(Driver)] public static partial int cuEventElapsedTime(out float milliseconds, IntPtr start, IntPtr end);
    [LibraryImport(Driver)] public static partial int cuEventDestroy_v2(IntPtr @event);
    [LibraryImport(Driver)] public static partial int cuGetErrorName(int error, out IntPtr name);
    [LibraryImport(Driver)] public static partial int cuGetErrorString(int error, out IntPtr text);

    public const int AttributeComputeCapabilityMajor = 75, AttributeComputeCapabilityMinor = 76;

    // ---- NVRTC ----
    [LibraryImport(Nvrtc, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int nvrtcCreateProgram(out IntPtr program, byte* source, string name, int headers, IntPtr headerSources, IntPtr headerNames);
    [LibraryImport(Nvrtc)] public static partial int nvrtcCompileProgram(IntPtr program, int options, IntPtr* optionValues);
    [LibraryImport(Nvrtc)] public static partial int nvrtcGetPTXSize(IntPtr program, out nuint size);
    [LibraryImport(Nvrtc)] public static partial int nvrtcGetPTX(IntPtr program, byte* ptx);
    [LibraryImport(Nvrtc)] public static partial int nvrtcGetProgramLogSize(IntPtr program, out nuint size);
    [LibraryImport(Nvrtc)] public static partial int nvrtcGetProgramLog(IntPtr program, byte* log);
    [LibraryImport(Nvrtc)] public static partial int nvrtcDestroyProgram(ref IntPtr program);
    [LibraryImport(Nvrtc)] public static partial IntPtr nvrtcGetErrorString(int result);
}
