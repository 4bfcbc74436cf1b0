using System.Runtime.InteropServices;

namespace Espnet.Compiled.Cli;

/// <summary>
/// A file the CLI writes. <see cref="Begin"/> checks the destination before any work starts (a name, not a
/// folder; the folder exists and takes a new file; not one of the files the run reads, recognised by device and
/// inode so no hard or symbolic link, of the file or of a folder above it, gets past) and opens a temporary file
/// beside it. <see cref="Commit"/> writes, flushes to disk and renames the temporary file over the destination:
/// an existing file is replaced whole or not at all, so a run that fails mid-write (a full disk) leaves it as
/// it was. Disposed uncommitted, the temporary file is deleted.
/// </summary>
internal sealed class OutputFile : IDisposable
{
    private readonly string _path;
    private readonly string _temporary;
    private FileStream? _stream;
    private bool _committed;

    private OutputFile(string path, string temporary, FileStream stream)
    {
        _path = path;
        _temporary = temporary;
        _stream = stream;
    }

    /// <param name="path">Where the output goes.</param>
    /// <param name="option">The option that named it, for messages (<c>--output</c>).</param>
    /// <param name="reads">Files the run reads, with what they are ("input", "weights"); a missing one is skipped.</param>
    public static OutputFile Begin(string path, string option, params (string Path, string What)[] reads) => Begin(path, option, true, reads);

    /// <param name="replace">Whether an existing file may be replaced; if not, one is refused with the --force hint.</param>
    public static OutputFile Begin(string path, string option, bool replace, params (string Path, string What)[] reads)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new UsageException($"{option} is empty: give the name of the file to write");
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full)) throw new UsageException($"{option} {path} is a folder: give the name of the file to write");
        string folder = Path.GetDirectoryName(full) ?? ".";
        if (!Directory.Exists(folder)) throw new CommandException($"{option} {path}: the folder {folder} does not exist; create it first");
        foreach (var (read, what) in reads)
            if (FileIdentity.Same(full, read))
                throw new UsageException($"{option} {path} is the {what} file{(SameName(full, read) ? "" : " (through a link)")}; refusing to overwrite it");
        if (!replace && File.Exists(full)) throw new UsageException($"{option} {path} exists: pass --force to replace it");

        string temporary = Path.Combine(folder, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Random.Shared.Next():x8}.tmp");
        try
        {
            var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
            return new OutputFile(full, temporary, stream);
        }
        catch (UnauthorizedAccessException)
        {
            throw new CommandException($"{option} {path}: cannot create a file in {folder} (permission denied)");
        }
    }

    /// <summary>Writes the content, makes it durable, and puts it in place of the destination.</summary>
    public void Commit(Action<Stream> write)
    {
        var stream = _stream ?? throw new InvalidOperationException("The output was already written.");
        write(stream);
        stream.Flush(flushToDisk: true);
        stream.Dispose();
        _stream = null;
        File.Move(_temporary, _path, overwrite: true);
        _committed = true;
    }

    public void Dispose()
    {
        _stream?.Dispose();
        _stream = null;
        if (_committed) return;
        try
        {
            File.Delete(_temporary);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static bool SameName(string a, string b) => string.Equals(Path.GetFullPath(a), Path.GetFullPath(b), StringComparison.Ordinal);
}

/// <summary>
/// Whether two paths name the same file: by device and inode where the system says (Linux: <c>statx</c>, which
/// follows symbolic links), else by the absolute path with links resolved.
/// </summary>
internal static partial class FileIdentity
{
    public static bool Same(string a, string b)
    {
        if (Of(a) is { } x && Of(b) is { } y) return x == y;
        return string.Equals(Resolve(a), Resolve(b), StringComparison.Ordinal);
    }

    /// <summary>(device, inode) of an existing file; null when it does not exist or the system cannot say.</summary>
    public static (ulong Device, ulong Inode)? Of(string path)
    {
        if (!OperatingSystem.IsLinux() || string.IsNullOrEmpty(path)) return null;
        // struct statx is laid out the same on every Linux architecture: 256 bytes, stx_ino at 32,
        // stx_dev_major / stx_dev_minor at 136 / 140.
        Span<byte> buffer = stackalloc byte[256];
        try
        {
            unsafe
            {
                fixed (byte* p = buffer)
                    if (Statx(AtFdCwd, path, 0, StatxIno, p) != 0) return null;
            }
        }
        catch (EntryPointNotFoundException)
        {
            return null;
        }
        catch (DllNotFoundException)
        {
            return null;
        }
        ulong inode = BitConverter.ToUInt64(buffer[32..]);
        ulong device = ((ulong)BitConverter.ToUInt32(buffer[136..]) << 32) | BitConverter.ToUInt32(buffer[140..]);
        return (device, inode);
    }

    private const int AtFdCwd = -100;
    private const uint StatxIno = 0x100;

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Statx(int directory, string path, int flags, uint mask, byte* buffer);

    private static string Resolve(string path)
    {
        string full = Path.GetFullPath(path);
        try
        {
            return File.ResolveLinkTarget(full, returnFinalTarget: true)?.FullName ?? full;
        }
        catch (IOException)
        {
            return full;
        }
    }
}
