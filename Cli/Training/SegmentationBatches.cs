using System.Collections.Concurrent;
using Espnet.Compiled.Imaging;

namespace Espnet.Compiled.Cli.Training;

/// <summary>Which way pictures are mirrored at random (half the time).</summary>
internal enum FlipKind { Horizontal, Vertical, None }

/// <summary>One batch: N inputs (the recipe's preprocessing) and N label maps at the network's output size.</summary>
internal sealed record Batch(float[] Inputs, byte[] Labels);

/// <summary>
/// Training batches from a labelled folder: each epoch a seeded shuffle; each picture decoded with its mask
/// (sizes must agree; labels must be classes or 255), scaled at random (relative to the scale that fits it to
/// the network), cropped to the network's size at a random place (padded with black and 255 where smaller),
/// flipped half the time, preprocessed by the family's recipe, its labels reduced to the output's size by
/// nearest neighbour (ESPNet-C's 1/8). Decoded on a background thread two batches ahead.
/// </summary>
internal sealed class SegmentationBatches(IReadOnlyList<LabelledPicture> pairs, InputRecipe recipe, int batch, int height, int width,
    int outHeight, int outWidth, int classes, double scaleLow, double scaleHigh, FlipKind flip, bool ignoreUnknown, int seed)
{
    public int BatchesPerEpoch => Math.Max(1, pairs.Count / batch);

    public IEnumerable<Batch> Epoch(int epoch)
    {
        var rng = new Random(HashCode.Combine(seed, epoch) & int.MaxValue);
        var order = Enumerable.Range(0, pairs.Count).ToArray();
        rng.Shuffle(order);
        // Fewer pictures than a batch: repeat them to fill it.
        var picks = Enumerable.Range(0, BatchesPerEpoch * batch).Select(i => order[i % order.Length]).ToArray();
        var seeds = picks.Select(_ => rng.Next()).ToArray();
        using var queue = new BlockingCollection<Batch>(2);
        using var stop = new CancellationTokenSource();
        Exception? failure = null;
        var producer = Task.Run(() =>
        {
            try
            {
                for (int b = 0; b < BatchesPerEpoch && !stop.IsCancellationRequested; b++)
                {
                    var inputs = new float[batch * 3 * height * width];
                    var labels = new byte[batch * outHeight * outWidth];
                    for (int s = 0; s < batch; s++)
                        Sample(pairs[picks[b * batch + s]], new Random(seeds[b * batch + s]), inputs.AsSpan(s * 3 * height * width, 3 * height * width),
                            labels.AsSpan(s * outHeight * outWidth, outHeight * outWidth));
                    queue.Add(new Batch(inputs, labels), stop.Token);
                }
            }
            catch (OperationCanceledException)
            {
            }
            catch (Exception e)
            {
                failure = e;
            }
            finally
            {
                queue.CompleteAdding();
            }
        });
        try
        {
            foreach (var item in queue.GetConsumingEnumerable()) yield return item;
            producer.Wait();
            if (failure is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw();
        }
        finally
        {
            stop.Cancel();
            try { producer.Wait(); } catch (AggregateException) { }
        }
    }

    private void Sample(LabelledPicture pair, Random rng, Span<float> input, Span<byte> labels)
    {
        var image = ImageFiles.Read(pair.Image);
        var (mw, mh, mask) = LabelPng.Read(pair.Mask);
        if ((mw, mh) != (image.Width, image.Height))
            throw new InvalidDataException($"{Path.GetFileName(pair.Mask)} is {mw}x{mh} but its picture {Path.GetFileName(pair.Image)} is {image.Width}x{image.Height}");
        for (int i = 0; i < mask.Length; i++)
        {
            if (mask[i] < classes || mask[i] == 255) continue;
            if (!ignoreUnknown)
                throw new InvalidDataException($"{Path.GetFileName(pair.Mask)} holds label {mask[i]} (at x {i % mw}, y {i / mw}), outside 0..{classes - 1} and not 255 = ignore " +
                                               "(Cityscapes: use *_labelTrainIds.png; or pass --ignore-unknown-labels to train with such pixels ignored)");
            mask[i] = 255;
        }

        // Scale relative to the fit, crop at a random place (padding where the picture is smaller), flip.
        double fit = Math.Max((double)height / image.Height, (double)width / image.Width);
        double s = fit * (scaleLow + (scaleHigh - scaleLow) * rng.NextDouble());
        int sw = Math.Max(1, (int)Math.Round(image.Width * s)), sh = Math.Max(1, (int)Math.Round(image.Height * s));
        var scaled = (sw, sh) == (image.Width, image.Height) ? image : PilResize.Bilinear(image, sw, sh);
        var scaledMask = new byte[sw * sh];
        PilResize.Nearest(mask, mw, mh, scaledMask, sw, sh);
        int x0 = sw > width ? rng.Next(sw - width + 1) : 0, y0 = sh > height ? rng.Next(sh - height + 1) : 0;
        bool mirror = flip != FlipKind.None && rng.NextDouble() < 0.5;
        var crop = new byte[3 * width * height];
        var cropLabels = new byte[width * height];
        cropLabels.AsSpan().Fill(255);
        for (int y = 0; y < Math.Min(height, sh - y0); y++)
            for (int x = 0; x < Math.Min(width, sw - x0); x++)
            {
                int ty = mirror && flip == FlipKind.Vertical ? height - 1 - y : y, tx = mirror && flip == FlipKind.Horizontal ? width - 1 - x : x;
                int from = (y0 + y) * sw + x0 + x, to = ty * width + tx;
                crop[3 * to] = scaled.Pixels[3 * from];
                crop[3 * to + 1] = scaled.Pixels[3 * from + 1];
                crop[3 * to + 2] = scaled.Pixels[3 * from + 2];
                cropLabels[to] = scaledMask[from];
            }
        Preprocessing.Write(recipe, new RgbImage(width, height, crop), height, width, input);
        if ((outWidth, outHeight) == (width, height)) cropLabels.CopyTo(labels);
        else PilResize.Nearest(cropLabels, width, height, labels, outWidth, outHeight);
    }
}
