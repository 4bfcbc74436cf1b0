using System.Runtime.CompilerServices;
using System.Text;
using DiffPlex.DiffBuilder;
using DiffPlex.DiffBuilder.Model;

namespace Espnet.Compiled.Tests.Support;

/// <summary>
/// Verify's file convention without Verify (its core package is not served here): the expected text is
/// committed as Name.verified.ext next to the test; a mismatch writes Name.received.ext (git-ignored) and
/// fails with a diff. Set ACCEPT_SNAPSHOTS=1 to accept the received text. Moving to Verify.Xunit is a
/// one-line change per call site: Snapshot.Verify(text, "cs") -> Verifier.Verify(text, "cs").
/// </summary>
public static class Snapshot
{
    public static void Verify(string actual, string extension, string name, [CallerFilePath] string callerFile = "")
    {
        string directory = Path.Combine(Path.GetDirectoryName(callerFile)!, "Snapshots");
        Directory.CreateDirectory(directory);
        string verified = Path.Combine(directory, $"{name}.verified.{extension}");
        string received = Path.Combine(directory, $"{name}.received.{extension}");
        actual = actual.Replace("\r\n", "\n");

        if (Environment.GetEnvironmentVariable("ACCEPT_SNAPSHOTS") == "1")
        {
            File.WriteAllText(verified, actual);
            if (File.Exists(received)) File.Delete(received);
            return;
        }
        string? expected = File.Exists(verified) ? File.ReadAllText(verified).Replace("\r\n", "\n") : null;
        if (expected == actual)
        {
            if (File.Exists(received)) File.Delete(received);
            return;
        }
        File.WriteAllText(received, actual);
        Assert.Fail(expected is null
            ? $"No snapshot {verified}; wrote {received}. Review it and rerun with ACCEPT_SNAPSHOTS=1 to accept."
            : $"Snapshot {name} changed; wrote {received}. Diff (- verified, + received):\n{Diff(expected, actual)}\nRerun with ACCEPT_SNAPSHOTS=1 to accept.");
    }

    private static string Diff(string expected, string actual)
    {
        var model = InlineDiffBuilder.Diff(expected, actual);
        var sb = new StringBuilder();
        int shown = 0;
        foreach (var line in model.Lines)
        {
            if (line.Type == ChangeType.Unchanged) continue;
            sb.Append(line.Type == ChangeType.Inserted ? "+ " : "- ").AppendLine(line.Text);
            if (++shown == 60) { sb.AppendLine("..."); break; }
        }
        return sb.ToString();
    }
}
