namespace Espnet.Compiled.Tests.Support;

/// <summary>
/// Locates ../shared/data (the authors' weights and reference tensors). Where it is absent (a user's fresh
/// clone) tests that need it are skipped with the reason; under CI (CI=true) they fail instead, so CI can
/// never skip them silently.
/// </summary>
public static class SharedData
{
    private static readonly Lazy<string?> Root = new(Find);

    public static string? RootOrNull => Root.Value;

    /// <summary>The absolute path of a file under shared/data, or a skip (fail under CI) when it is missing.</summary>
    public static string Require(string relativePath)
    {
        string? root = Root.Value;
        string? path = root is null ? null : Path.Combine(root, relativePath);
        if (path is not null && File.Exists(path)) return path;
        string reason = root is null
            ? "shared data not found (set ESPNET_SHARED_DATA or place the repository next to ../shared/data)"
            : $"shared data file missing: {path}";
        if (IsCi) Assert.Fail("CI=true but " + reason);
        Assert.Skip(reason);
        return null!;
    }

    public static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// ESPNET_SHARED_DATA when set (the only place then looked at: a missing folder means "no shared data"), else
    /// shared/data beside the repository (../shared/data from the folder holding Espnet.Compiled.sln). Never a
    /// fixed path: a fresh clone elsewhere has no shared data, and says so.
    /// </summary>
    private static string? Find()
    {
        string? env = Environment.GetEnvironmentVariable("ESPNET_SHARED_DATA");
        if (!string.IsNullOrEmpty(env)) return Directory.Exists(env) ? Path.GetFullPath(env) : null;
        foreach (string start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (!File.Exists(Path.Combine(dir.FullName, "Espnet.Compiled.sln"))) continue;
                string candidate = Path.Combine(dir.Parent?.FullName ?? dir.FullName, "shared", "data");
                return Directory.Exists(candidate) ? candidate : null;
            }
        }
        return null;
    }

    /// <summary>Reads a raw float32 little-endian file.</summary>
    public static float[] ReadF32(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        var values = new float[bytes.Length / 4];
        Buffer.BlockCopy(bytes, 0, values, 0, values.Length * 4);
        return values;
    }
}
