using System.Collections.Concurrent;
using System.Diagnostics;
using Espnet.Compiled.Imaging;

namespace Espnet.Compiled.Cli;

/// <summary>One image as the pipeline hands it over: decoded and preprocessed, or the reason it could not be.</summary>
internal sealed record DecodedImage(string Path, RgbImage? Image, float[]? Input, string? Error);

/// <summary>
/// Decodes and preprocesses the next images on a background thread while the current one runs through the
/// network (at most <c>ahead</c> waiting, so memory stays bounded whatever the folder's size). Order is kept;
/// an image that cannot be read arrives with its error instead of stopping the others.
/// </summary>
internal static class ImagePipeline
{
    public static IEnumerable<DecodedImage> DecodeAhead(IReadOnlyList<string> paths, InputRecipe recipe, int height, int width, int ahead = 2)
    {
        using var queue = new BlockingCollection<DecodedImage>(ahead);
        using var stop = new CancellationTokenSource();
        var producer = Task.Run(() =>
        {
            try
            {
                foreach (string path in paths)
                {
                    if (stop.IsCancellationRequested) return;
                    queue.Add(Decode(path, recipe, height, width), stop.Token);
                }
            }
            catch (OperationCanceledException)
            {
            }
            finally
            {
                queue.CompleteAdding();
            }
        });
        try
        {
            foreach (var item in queue.GetConsumingEnumerable()) yield return item;
        }
        finally
        {
            stop.Cancel();
            producer.Wait();
        }
    }

    public static DecodedImage Decode(string path, InputRecipe recipe, int height, int width)
    {
        try
        {
            var image = path == BuiltinData.Input ? BuiltinData.SyntheticPicture() : ImageFiles.Read(path);
            var input = new float[3 * height * width];
            Preprocessing.Write(recipe, image, height, width, input);
            return new DecodedImage(path, image, input, null);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException or OutOfMemoryException)
        {
            return new DecodedImage(path, null, null, Program.OneLine(e.Message));
        }
    }
}

/// <summary>A one-line progress bar on a terminal's stderr (images, images/s, ETA); silent when stderr is redirected.</summary>
internal sealed class Progress(TextWriter stderr, int total, string unit)
{
    private readonly bool _enabled = ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected && total > 1;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _lastDraw = -1000;

    public TimeSpan Elapsed => _clock.Elapsed;

    /// <summary>Extra figures shown after the rate (training: the running loss and the learning rate).</summary>
    public string Suffix { get; set; } = "";

    public void Update(int done)
    {
        if (!_enabled || (_clock.ElapsedMilliseconds - _lastDraw < 200 && done < total)) return;
        _lastDraw = _clock.ElapsedMilliseconds;
        double rate = done / Math.Max(1e-9, _clock.Elapsed.TotalSeconds);
        const int width = 30;
        int filled = (int)((long)width * done / total);
        string eta = done == 0 ? "--" : $"{(total - done) / Math.Max(rate, 1e-9):F0} s";
        stderr.Write($"\r[{new string('#', filled)}{new string('.', width - filled)}] {done}/{total} {unit}  {rate:F1} {unit}/s  ETA {eta}{Suffix}   ");
    }

    public void Finish()
    {
        if (_enabled) stderr.WriteLine();
    }
}
