using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Espnet.Compiled.Generator.Model;

/// <summary>A source location as plain data: a Location holds the syntax tree, which must not enter the cached spec.</summary>
public sealed record LocationInfo(string FilePath, TextSpan Span, LinePositionSpan LineSpan)
{
    public Location ToLocation() => Location.Create(FilePath, Span, LineSpan);

    public static LocationInfo? From(SyntaxNode? node) => node is null ? null : From(node.GetLocation());

    public static LocationInfo? From(Location location)
    {
        if (location.SourceTree is null) return null;
        return new LocationInfo(location.SourceTree.FilePath, location.SourceSpan, location.GetLineSpan().Span);
    }
}

/// <summary>Where one attribute argument (e.g. "Classes") was written, so a diagnostic can point at it.</summary>
public sealed record ArgumentLocation(string Argument, LocationInfo Location);

/// <summary>A diagnostic found while parsing, carried as data until it is reported.</summary>
public sealed record DiagnosticInfo(string Id, LocationInfo? Location, EquatableArray<string> MessageArgs);
