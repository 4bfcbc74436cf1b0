namespace Espnet.Compiled.Weights;

/// <summary>
/// Reads a PyTorch state_dict saved with torch.save, legacy or zip layout, without Python. Only plain data
/// is accepted: tensors in a (Ordered)Dict, optionally wrapped as {'state_dict': ...} or {'model': ...}.
/// Any problem with the file is a <see cref="WeightFormatException"/> whose one-line message names the file.
/// </summary>
public static class PthReader
{
    /// <exception cref="WeightFormatException">The file is not a readable state_dict; the message says why and what to do.</exception>
    /// <exception cref="IOException">The file cannot be opened (missing, no permission): .NET's own exceptions, unchanged.</exception>
    /// <param name="budget">When given (<see cref="WeightBudget.For"/>), a tensor or storage larger than that model can take
    /// is refused before its memory is taken.</param>
    public static StateDict Read(string path, WeightBudget? budget = null)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        return Read(stream, Path.GetFileName(path), budget);
    }

    /// <param name="displayName">Names the file in error messages.</param>
    /// <param name="budget">As for <see cref="Read(string, WeightBudget?)"/>.</param>
    public static StateDict Read(Stream stream, string displayName, WeightBudget? budget = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanSeek)
        {
            // Lengths in the file are checked against what is left, so that must be known.
            var copy = new MemoryStream();
            stream.CopyTo(copy);
            copy.Position = 0;
            stream = copy;
        }
        try
        {
            // The native checkpoint format (SafeTensors.cs), recognised by its header.
            long at = stream.Position;
            Span<byte> head = stackalloc byte[9];
            int got = stream.ReadAtLeast(head, 9, throwOnEndOfStream: false);
            stream.Position = at;
            if (SafeTensors.Recognise(head[..got], stream.Length - at)) return SafeTensors.Read(stream, budget).Tensors;
            return ReadSeekable(stream, budget);
        }
        catch (WeightFormatException e)
        {
            throw new WeightFormatException($"{displayName}: {e.Message}");
        }
    }

    private static StateDict ReadSeekable(Stream stream, WeightBudget? budget)
    {
        var input = new PthInput(stream);
        if (input.Remaining == 0)
            throw new WeightFormatException("empty file (0 bytes) — the download failed; fetch the file again.");
        long start = stream.Position;
        Span<byte> head = stackalloc byte[(int)Math.Min(4, input.Remaining)];
        stream.ReadExactly(head);
        stream.Position = start;

        if (head is [(byte)'P', (byte)'K', 3, 4, ..])
            return ZipPth.Read(stream, budget);
        if (head is [0x80] or [0x80, >= 2 and <= 5, ..]) // pickle PROTO opcode: torch.save's legacy layout
            return LegacyPth.Read(input, budget);
        string bytes = string.Join(" ", head.ToArray().Select(b => b.ToString("X2")));
        throw new WeightFormatException(
            $"not a PyTorch weight file (starts with bytes {bytes}) — expected a file written by torch.save.");
    }
}
