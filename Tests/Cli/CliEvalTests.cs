using System.Text.Json;
using Espnet.Compiled.Cli;
using static Espnet.Compiled.Tests.Cli.CliHarness;
using static Espnet.Compiled.Tests.Cli.CliSegmentTests;

namespace Espnet.Compiled.Tests.Cli;

/// <summary>`espnet eval` on folders made here: its mIoU against the definition counted independently, both layouts, bad masks.</summary>
// Runs networks on the shared worker threads: kept apart from the tests that count those threads' allocations.
[Collection(nameof(Espnet.Compiled.Tests.Kernels.KernelSettings))]
public sealed class CliEvalTests
{
    private static readonly string[] Model = ["--model", "espnet-p2-q3", "--height", "64", "--width", "128", "--weights", "builtin"];

    /// <summary>images/ + masks/ where each mask is first the model's own prediction (segment's output).</summary>
    private static (string Root, List<string> Masks) PredictedFolder(int pictures)
    {
        string root = TempDirectory(), images = Path.Combine(root, "images"), masks = Path.Combine(root, "masks");
        Directory.CreateDirectory(images);
        for (int i = 0; i < pictures; i++) WritePicture(Path.Combine(images, $"p{i}.png"), Picture(96 + 8 * i, 48, seed: 100 + i));
        var result = Run(["segment", .. Model, "--image", images, "--out", masks]);
        Assert.True(result.Code == 0, result.Err);
        return (root, [.. Enumerable.Range(0, pictures).Select(i => Path.Combine(masks, $"p{i}.png"))]);
    }

    private static JsonElement Json(CliHarness.Result result)
    {
        Assert.True(result.Code == 0, result.Err);
        return JsonDocument.Parse(result.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]).RootElement;
    }

    [Fact]
    public void The_models_own_predictions_score_100_and_edited_masks_score_what_the_definition_counts()
    {
        EnsureP2Q3At64x128Compiled();
        var (root, masks) = PredictedFolder(3);
        var perfect = Json(Run(["eval", .. Model, "--data", root, "--json"]));
        Assert.Equal(1.0, perfect.GetProperty("miou").GetDouble(), 12);
        Assert.Equal(3, perfect.GetProperty("images").GetInt32());

        // Edit the truth: a band ignored, and a block relabelled to another class.
        var predictions = masks.Select(m => LabelPng.Read(m).Values).ToList();
        var truths = new List<byte[]>();
        for (int i = 0; i < masks.Count; i++)
        {
            var (w, h, t) = LabelPng.Read(masks[i]);
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    if (y < 5) t[y * w + x] = 255;
                    else if (x < 20 + 5 * i && y < 30) t[y * w + x] = (byte)((t[y * w + x] + 1 + i) % 20);
                }
            truths.Add(t);
            using var file = File.Create(masks[i]);
            ImageFiles.WriteGray(file, t, w, h);
        }
        var edited = Json(Run(["eval", .. Model, "--data", root, "--json"]));

        // The definition, counted here: TP / (TP + FP + FN) over labelled pixels; class 19 (void) out of the mean.
        var ious = new List<double>();
        long labelled = 0, correct = 0;
        for (int c = 0; c < 20; c++)
        {
            long tp = 0, fp = 0, fn = 0;
            for (int i = 0; i < truths.Count; i++)
                for (int p = 0; p < truths[i].Length; p++)
                {
                    int t = truths[i][p], q = predictions[i][p];
                    if (t == 255) continue;
                    if (t == c && q == c) tp++;
                    else if (q == c) fp++;
                    else if (t == c) fn++;
                    if (c == 0) { labelled++; if (t == q) correct++; }
                }
            double iou = tp + fp + fn == 0 ? double.NaN : (double)tp / (tp + fp + fn);
            var reported = edited.GetProperty("classes")[c].GetProperty("iou");
            if (double.IsNaN(iou)) Assert.Equal(JsonValueKind.Null, reported.ValueKind);
            else Assert.Equal(iou, reported.GetDouble(), 12);
            if (c != 19 && !double.IsNaN(iou)) ious.Add(iou);
        }
        Assert.InRange(ious.Average(), 0.05, 0.95);                                   // the edit made a real difference
        Assert.Equal(ious.Average(), edited.GetProperty("miou").GetDouble(), 12);
        Assert.Equal(labelled, edited.GetProperty("labelled_pixels").GetInt64());
        Assert.Equal((double)correct / labelled, edited.GetProperty("pixel_accuracy").GetDouble(), 12);
    }

    [Fact]
    public void A_cityscapes_folder_is_read_with_its_label_train_ids()
    {
        EnsureP2Q3At64x128Compiled();
        var (generic, masks) = PredictedFolder(2);
        string root = TempDirectory();
        foreach (var (i, city) in new[] { (0, "frankfurt"), (1, "lindau") })
        {
            Directory.CreateDirectory(Path.Combine(root, "leftImg8bit", "val", city));
            Directory.CreateDirectory(Path.Combine(root, "gtFine", "val", city));
            File.Copy(Path.Combine(generic, "images", $"p{i}.png"), Path.Combine(root, "leftImg8bit", "val", city, $"{city}_000000_00000{i}_leftImg8bit.png"));
            File.Copy(masks[i], Path.Combine(root, "gtFine", "val", city, $"{city}_000000_00000{i}_gtFine_labelTrainIds.png"));
        }
        WritePicture(Path.Combine(root, "leftImg8bit", "val", "lindau", "lindau_000000_000009_leftImg8bit.png"), Picture(64, 32, seed: 1));
        var result = Run(["eval", .. Model, "--data", root, "--json"]);
        var json = Json(result);
        Assert.Equal("Cityscapes", json.GetProperty("layout").GetString());
        Assert.Equal(2, json.GetProperty("images").GetInt32());
        Assert.Equal(1.0, json.GetProperty("miou").GetDouble(), 12);
        Assert.Contains("1 picture without a mask skipped", result.Err);
        Assert.Contains("road", result.Out);
    }

    [Fact]
    public void Masks_of_label_ids_colour_masks_and_unknown_layouts_are_clear_errors()
    {
        EnsureP2Q3At64x128Compiled();
        var (root, masks) = PredictedFolder(1);
        var (w, h, t) = LabelPng.Read(masks[0]);
        t[7] = 26;                                                                       // a label ID (car), not a train ID
        using (var file = File.Create(masks[0])) ImageFiles.WriteGray(file, t, w, h);
        string line = AssertFails(Run(["eval", .. Model, "--data", root]), 1);
        Assert.Contains("p0.png holds class 26, outside 0..19", line);
        Assert.Contains("labelTrainIds", line);

        WritePicture(masks[0], Picture(w, h, seed: 3));                                  // a colour picture where a mask belongs
        Assert.Contains("p0.png is a colour PNG", AssertFails(Run(["eval", .. Model, "--data", root]), 1));

        Assert.Contains("holds neither layout", AssertFails(Run(["eval", .. Model, "--data", TempDirectory()]), 2));
    }
}
