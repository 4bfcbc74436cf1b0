namespace Espnet.Compiled.Weights;

/// <summary>
/// How much a weight file may hold for one model: no tensor more values than the model's largest parameter, and
/// no more stored values in all than a small multiple of the model's. A reader given a budget refuses a tensor
/// or storage beyond it before taking the memory (a zip .pth can claim a gigabyte of zeros in a megabyte), with a
/// message naming the sizes, so a failing load stays within a small multiple of the model's own size.
/// </summary>
public sealed record WeightBudget(string Model, long MaxTensorElements, long MaxStoredElements)
{
    /// <summary>The budget of a compiled network: its largest parameter; twice its parameters, plus 64 Ki values of slack.</summary>
    public static WeightBudget For(ICompiledNetwork network)
    {
        long largest = 0, total = 0;
        foreach (var p in network.Parameters)
        {
            largest = Math.Max(largest, p.Elements);
            total += p.Elements;
        }
        return new WeightBudget(network.Name, largest, 2 * total + (1 << 16));
    }

    internal void CheckTensor(string key, long elements)
    {
        if (elements > MaxTensorElements)
            throw new WeightFormatException(
                $"tensor {Py.Quote(key)} holds {elements} values, more than any parameter of {Model} ({MaxTensorElements}) — these weights are for another model, or the file is damaged.");
    }

    internal void CheckStored(string storageKey, long storedSoFar, long elements)
    {
        if (storedSoFar + elements > MaxStoredElements)
            throw new WeightFormatException(
                $"storage {Py.Quote(storageKey)} ({elements} values) would bring what the file stores to {storedSoFar + elements} values, more than {Model} takes ({MaxStoredElements}) — these weights are for another model, or the file is damaged.");
    }
}
