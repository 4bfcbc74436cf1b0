using System.Collections.Concurrent;
using System.Globalization;
using System.Reflection;
using System.Runtime.Loader;
using System.Security.Cryptography;
using System.Text;
using Espnet.Compiled.Generator;
using Espnet.Compiled.Zoo;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Espnet.Compiled.Cli;

/// <summary>
/// Compiles a model the zoo does not precompile, on first use, through the same source generator a build
/// runs (so it rejects exactly what a build would, with the same messages), and caches the assembly on disk.
/// </summary>
internal static class RuntimeCompiler
{
    public const string CacheDirectoryVariable = "ESPNET_CACHE_DIR";
    private const string Namespace = "Espnet.Compiled.Dynamic";

    public sealed record Compiled(ICompiledNetwork Network, string Origin);

    // One compile per key per process, even when callers race.
    private static readonly ConcurrentDictionary<string, Lazy<(Type Type, string Origin)>> s_loaded = new();

    public static Compiled Create(ModelRequest request, TextWriter log)
    {
        string className = ModelCatalog.ClassName(request);
        string source = $"namespace {Namespace};\n\n{ModelCatalog.Declaration(request)}\npublic sealed partial class {className};\n";
        string key = CacheKey(source);
        var lazy = s_loaded.GetOrAdd(key, _ => new Lazy<(Type, string)>(() => LoadOrCompile(request, className, source, key, log)));
        var (type, origin) = lazy.Value;
        return new Compiled((ICompiledNetwork)Activator.CreateInstance(type)!, origin);
    }

    public static string CacheDirectory()
    {
        string? explicitDir = Environment.GetEnvironmentVariable(CacheDirectoryVariable);
        if (!string.IsNullOrEmpty(explicitDir)) return explicitDir;
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        string root = !string.IsNullOrEmpty(xdg) ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(root, "espnet-compiled");
    }

    // A cached assembly is valid only for the generator that wrote it and the runtime whose kernels it calls.
    private static string CacheKey(string source)
    {
        string identity = typeof(EspnetGenerator).Assembly.ManifestModule.ModuleVersionId + "|" +
                          typeof(ICompiledNetwork).Assembly.ManifestModule.ModuleVersionId + "|" + source;
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(identity)))[..16];
    }

    private static (Type, string) LoadOrCompile(ModelRequest request, string className, string source, string key, TextWriter log)
    {
        string directory = CacheDirectory();
        string path = Path.Combine(directory, $"{className}-{key}.dll");
        if (File.Exists(path))
        {
            try
            {
                return (Load(File.ReadAllBytes(path), className, key), $"compiled on first use, cached at {path}");
            }
            catch (BadImageFormatException)
            {
                // A damaged cache entry is rebuilt below, never reported.
            }
        }

        byte[] image = Compile(source, className, $"{request.Name} at {request.SizeText}", onAccepted: () =>
            log.WriteLine($"compiling {request.Name} for {request.SizeText}{ClassesNote(request)} (first use, cached afterwards)..."));
        string origin = $"compiled on first use, cached at {path}";
        try
        {
            Directory.CreateDirectory(directory);
            string temp = Path.Combine(directory, $".{className}-{key}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
            File.WriteAllBytes(temp, image);
            File.Move(temp, path, overwrite: true); // atomic: a concurrent reader sees the old file or the whole new one
            PruneStale(directory, className, path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log.WriteLine($"note: cannot write the compile cache {directory} ({Program.OneLine(e.Message)}); this run compiles without caching");
            origin = "compiled on first use (not cached)";
        }
        return (Load(image, className, key), origin);
    }

    // Entries for the same model from an older generator or runtime can never be used again.
    private static void PruneStale(string directory, string className, string current)
    {
        foreach (string stale in Directory.EnumerateFiles(directory, className + "-*.dll"))
        {
            if (stale == current) continue;
            try { File.Delete(stale); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
    }

    private static string ClassesNote(ModelRequest r) => r.Classes != r.DefaultClasses ? $" with {r.Classes} classes" : "";

    /// <param name="onAccepted">Called once the generator accepted the declaration, before the slow part: a rejected
    /// request then prints only its error line.</param>
    private static byte[] Compile(string source, string className, string modelName, Action onAccepted)
    {
        var parseOptions = new CSharpParseOptions(LanguageVersion.Latest);
        var compilation = CSharpCompilation.Create($"{Namespace}.{className}",
            [CSharpSyntaxTree.ParseText(source, parseOptions, path: className + ".cs")],
            References(),
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, optimizationLevel: OptimizationLevel.Release,
                nullableContextOptions: NullableContextOptions.Enable, deterministic: true));

        var driver = CSharpGeneratorDriver.Create([new EspnetGenerator().AsSourceGenerator()], parseOptions: parseOptions)
            .RunGeneratorsAndUpdateCompilation(compilation, out var generated, out var generatorDiagnostics);
        if (driver.GetRunResult().Results.FirstOrDefault().Exception is { } crash)
            throw new CommandException($"the generator failed on {className}: {crash.GetType().Name}: {crash.Message}");

        // The generator's own errors (size not a multiple of 8, too few classes, ...) are the user's to fix.
        var rejected = generatorDiagnostics.FirstOrDefault(d => d.Severity == DiagnosticSeverity.Error);
        if (rejected is not null)
            // The class is the CLI's own invention: the user knows the model by name and size.
            throw new UsageException($"{rejected.Id}: {rejected.GetMessage(CultureInfo.InvariantCulture).Replace($"'{className}'", $"'{modelName}'")}");

        // A generator without support for the attribute adds nothing and reports nothing: say so, not "missing class".
        var declared = generated.GetTypeByMetadataName($"{Namespace}.{className}");
        var contract = generated.GetTypeByMetadataName(typeof(ICompiledNetwork).FullName!);
        if (declared is null || contract is null || !declared.AllInterfaces.Contains(contract, SymbolEqualityComparer.Default))
            throw new CommandException($"{modelName}: this build's generator does not compile {AttributeName(source)} yet");

        onAccepted();
        using var image = new MemoryStream();
        var emitted = generated.Emit(image);
        if (!emitted.Success)
        {
            var error = emitted.Diagnostics.First(d => d.Severity == DiagnosticSeverity.Error);
            throw new CommandException($"generated code for {className} does not compile (a generator bug): {error.Id}: {error.GetMessage(CultureInfo.InvariantCulture)}");
        }
        return image.ToArray();
    }

    // "[global::Espnet.Compiled.EspNetV2Segmentation(...)]" -> "[EspNetV2Segmentation]".
    private static string AttributeName(string source)
    {
        int open = source.IndexOf('[', StringComparison.Ordinal), paren = source.IndexOf('(', open + 1);
        string name = open < 0 || paren < 0 ? "its attribute" : source[(open + 1)..paren];
        return "[" + name.Replace("global::Espnet.Compiled.", "", StringComparison.Ordinal) + "]";
    }

    // The framework's own assemblies plus the runtime library and what it references (System.Numerics.Tensors).
    private static IEnumerable<MetadataReference> References()
    {
        var runtime = typeof(ICompiledNetwork).Assembly;
        string frameworkDirectory = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        var runtimeDependencies = runtime.GetReferencedAssemblies().Select(a => a.Name + ".dll").ToHashSet(StringComparer.OrdinalIgnoreCase);
        string trusted = AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") as string
                         ?? throw new CommandException("cannot compile models at run time in a single-file build; use a regular 'dotnet publish'");
        var paths = trusted.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Where(p => Path.GetDirectoryName(p) == frameworkDirectory || runtimeDependencies.Contains(Path.GetFileName(p)))
            .Append(runtime.Location)
            .Distinct(StringComparer.Ordinal);
        return paths.Select(p => MetadataReference.CreateFromFile(p));
    }

    private static Type Load(byte[] image, string className, string key)
    {
        // A context of its own per model; types it shares with us (ICompiledNetwork) resolve to the default context.
        var context = new AssemblyLoadContext($"espnet:{className}-{key}");
        var assembly = context.LoadFromStream(new MemoryStream(image));
        var type = assembly.GetType($"{Namespace}.{className}");
        if (type is null || !typeof(ICompiledNetwork).IsAssignableFrom(type))
            throw new BadImageFormatException($"{className} is missing from its compiled assembly");
        return type;
    }
}
