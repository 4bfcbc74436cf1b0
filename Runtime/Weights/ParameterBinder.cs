using System.Text;

namespace Espnet.Compiled.Weights;

/// <summary>
/// Copies a state_dict into a generated model's parameter store by key. Everything is checked before
/// anything is copied, so a file that does not fit leaves the model as it was.
/// </summary>
public static class ParameterBinder
{
    private const string DataParallelPrefix = "module.";
    private const int ListedPerGroup = 6;

    public static void Bind(StateDict stateDict, IReadOnlyList<ParameterInfo> parameters, Span<float> store, string modelName)
    {
        bool stripPrefix = stateDict.Count > 0 && stateDict.Keys.All(k => k.StartsWith(DataParallelPrefix, StringComparison.Ordinal))
                           && !parameters.Any(p => p.Key.StartsWith(DataParallelPrefix, StringComparison.Ordinal));
        string Normal(string key) => stripPrefix ? key[DataParallelPrefix.Length..] : key;

        var byKey = new Dictionary<string, StoredTensor>(StringComparer.Ordinal);
        foreach (string key in stateDict.Keys) byKey[Normal(key)] = stateDict[key];

        var expected = new HashSet<string>(parameters.Select(p => p.Key), StringComparer.Ordinal);
        var batchNorms = new HashSet<string>(parameters.Where(p => p.Role == ParameterRole.RunningMean)
            .Select(p => p.Key[..^"running_mean".Length]), StringComparer.Ordinal);

        var missing = parameters.Where(p => !byKey.ContainsKey(p.Key)).Select(p => p.Key).ToList();
        var unexpected = byKey.Keys.Where(k => !expected.Contains(k) && !IsBatchCounter(k, batchNorms)).ToList();
        var misshaped = new List<string>();
        foreach (var p in parameters)
        {
            if (!byKey.TryGetValue(p.Key, out var t)) continue;
            if (!SameShape(p.Shape, t.Shape))
                misshaped.Add($"{p.Key} (model {p.ShapeText}, file {t.ShapeText})");
        }

        if (missing.Count + unexpected.Count + misshaped.Count > 0)
            throw new WeightLoadException(Describe(modelName, missing, unexpected, misshaped));

        foreach (var p in parameters)
            byKey[p.Key].Values.AsSpan().CopyTo(store.Slice(p.Offset, p.Elements));
    }

    // num_batches_tracked is BN training state (int64, 0-dim) that the ESPNetv2 files carry: accept it where the BN exists.
    private static bool IsBatchCounter(string key, HashSet<string> batchNorms) =>
        key.EndsWith("num_batches_tracked", StringComparison.Ordinal) && batchNorms.Contains(key[..^"num_batches_tracked".Length]);

    // Shapes must match exactly as the authors saved them (no [C] vs [C,1,1] leniency).
    private static bool SameShape(int[] model, int[] file) => model.SequenceEqual(file);

    private static string Describe(string modelName, List<string> missing, List<string> unexpected, List<string> misshaped)
    {
        var sb = new StringBuilder($"the weights do not fit {modelName}:");
        Append(sb, "missing", missing);
        Append(sb, "unexpected", unexpected);
        Append(sb, "wrong shape", misshaped);
        sb.Length--; // the last group's ';'
        sb.Append(misshaped.Count > 0 || missing.Count > 0
            ? ". Check that the file belongs to this model, class count and variant (e.g. --model espnet-p2-q8-camvid for the CamVid file)."
            : ". The file holds more than this model; check the model name.");
        return sb.ToString();
    }

    private static void Append(StringBuilder sb, string label, List<string> keys)
    {
        if (keys.Count == 0) return;
        sb.Append($" {keys.Count} {label} (");
        sb.Append(string.Join(", ", keys.Take(ListedPerGroup)));
        if (keys.Count > ListedPerGroup) sb.Append($", ... {keys.Count - ListedPerGroup} more");
        sb.Append(");");
    }
}
