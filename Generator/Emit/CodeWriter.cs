using System;
using System.Globalization;
using System.Text;

namespace Espnet.Compiled.Generator.Emit;

/// <summary>An indented text writer for generated source; every number goes through the invariant culture.</summary>
internal sealed class CodeWriter
{
    /// <summary>
    /// The attribute on generated methods that run every pass: compiled optimised at the first call. Left to
    /// tiering, a method called once per forward pass or training step stays unoptimised for its first 30 calls.
    /// </summary>
    public const string Optimized = "[global::System.Runtime.CompilerServices.MethodImpl(global::System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]";

    private readonly StringBuilder _sb = new();
    private int _indent;

    public CodeWriter Line(string text = "")
    {
        if (text.Length > 0) _sb.Append(' ', _indent * 4).Append(text);
        _sb.Append('\n');
        return this;
    }

    public CodeWriter Open(string header)
    {
        Line(header);
        Line("{");
        _indent++;
        return this;
    }

    public CodeWriter Close(string suffix = "")
    {
        _indent--;
        return Line("}" + suffix);
    }

    public override string ToString() => _sb.ToString();

    /// <summary>A float literal that round-trips, with the f suffix.</summary>
    public static string Float(double value) =>
        ((float)value).ToString("R", CultureInfo.InvariantCulture) + "f";

    public static string Str(string value) => "\"" + value.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";

    /// <summary>A C# identifier from a layer name: "encoder.level2.0" becomes "encoder_level2_0".</summary>
    public static string Identifier(string name)
    {
        var sb = new StringBuilder(name.Length);
        foreach (char c in name) sb.Append(char.IsLetterOrDigit(c) ? c : '_');
        return sb.ToString();
    }

    public static string Inv(long value) => value.ToString(CultureInfo.InvariantCulture);
}
