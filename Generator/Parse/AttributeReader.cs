using System.Collections.Generic;
using System.Linq;
using Espnet.Compiled.Generator.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Espnet.Compiled.Generator.Parse;

/// <summary>Reads one attribute application: its arguments as plain values and where each was written.</summary>
internal sealed class AttributeReader
{
    private readonly AttributeData _data;
    private readonly AttributeSyntax? _syntax;

    public AttributeReader(AttributeData data)
    {
        _data = data;
        _syntax = data.ApplicationSyntaxReference?.GetSyntax() as AttributeSyntax;
    }

    public string AttributeName => _data.AttributeClass?.Name ?? "";
    public LocationInfo? Location => LocationInfo.From(_syntax);

    public int Int(string name, int fallback) =>
        Named(name) is { Value: int v } ? v : fallback;

    public double Double(string name, double fallback) =>
        Named(name)?.Value switch { double d => d, int i => i, _ => fallback };

    public bool Bool(string name, bool fallback) =>
        Named(name) is { Value: bool b } ? b : fallback;

    public string? String(string name) => Named(name)?.Value as string;

    public int Enum(string name, int fallback) =>
        Named(name) is { Kind: TypedConstantKind.Enum, Value: int v } ? v : fallback;

    public int[]? IntArray(string name)
    {
        var c = Named(name);
        if (c is not { Kind: TypedConstantKind.Array } array || array.IsNull) return null;
        return array.Values.Select(v => v.Value is int i ? i : 0).ToArray();
    }

    /// <summary>Positional constructor arguments flattened (a params array contributes its elements).</summary>
    public IReadOnlyList<string> PositionalStrings()
    {
        var result = new List<string>();
        foreach (var arg in _data.ConstructorArguments)
        {
            if (arg.Kind == TypedConstantKind.Array)
            {
                if (!arg.IsNull) result.AddRange(arg.Values.Select(v => v.Value as string ?? ""));
            }
            else
                result.Add(arg.Value as string ?? "");
        }
        return result;
    }

    /// <summary>Locations of every argument written: named ones by name, positional ones as "#0", "#1", ...</summary>
    public EquatableArray<ArgumentLocation> ArgumentLocations()
    {
        var list = new List<ArgumentLocation>();
        if (_syntax?.ArgumentList is { } args)
        {
            int position = 0;
            foreach (var arg in args.Arguments)
            {
                var location = LocationInfo.From(arg);
                if (location is null) continue;
                string key = arg.NameEquals?.Name.Identifier.ValueText
                             ?? arg.NameColon?.Name.Identifier.ValueText
                             ?? "#" + position++;
                list.Add(new ArgumentLocation(key, location));
            }
        }
        return list.ToEquatableArray();
    }

    public bool Wrote(string name) => _data.NamedArguments.Any(pair => pair.Key == name);

    private TypedConstant? Named(string name)
    {
        foreach (var pair in _data.NamedArguments)
            if (pair.Key == name) return pair.Value;
        return null;
    }
}
