using System.Collections.Generic;
using System.Linq;
using Espnet.Compiled.Generator.Model;

namespace Espnet.Compiled.Generator.Shape;

/// <summary>Resolves layer references and infers every tensor shape, reporting what cannot be shaped.</summary>
internal static class ShapeInference
{
    public const string InputName = "input";

    public static (ShapedNetwork Network, List<DiagnosticInfo> Diagnostics) Run(NetworkSpec spec)
    {
        var diagnostics = new List<DiagnosticInfo>(spec.Diagnostics);
        var input = new Dims(spec.InputChannels, spec.Height, spec.Width);
        bool valid = diagnostics.Count == 0;
        void NetworkError(string id, string argument, params object[] args)
        {
            valid = false;
            diagnostics.Add(new DiagnosticInfo(id, spec.LocationOf(argument),
                args.Select(a => System.Convert.ToString(a, System.Globalization.CultureInfo.InvariantCulture) ?? "").ToEquatableArray()));
        }
        if (spec.Height < 1) NetworkError("ESPN0010", "Height", spec.ClassName, "Height", spec.Height, "set the input height (pixels, at least 1)");
        if (spec.Width < 1) NetworkError("ESPN0010", "Width", spec.ClassName, "Width", spec.Width, "set the input width (pixels, at least 1)");
        if (spec.Batch < 1) NetworkError("ESPN0010", "Batch", spec.ClassName, "Batch", spec.Batch, "the batch is at least 1");
        if (spec.InputChannels < 1) NetworkError("ESPN0010", "InputChannels", spec.ClassName, "InputChannels", spec.InputChannels, "an image has at least 1 channel");
        if (valid && input.Elements * spec.Batch > LayerChecks.MaxTensorFloats)
            NetworkError("ESPN0010", "Height", spec.ClassName, "Height x Width", $"{spec.Height}x{spec.Width}",
                $"a batch of {(input.Elements * spec.Batch).ToString("N0", System.Globalization.CultureInfo.InvariantCulture)} input floats exceeds the {(LayerChecks.MaxTensorFloats).ToString("N0", System.Globalization.CultureInfo.InvariantCulture)} a network may hold");

        var index = new Dictionary<string, int>(System.StringComparer.Ordinal);
        var dims = new Dictionary<int, Dims?>();
        var shaped = new List<ShapedLayer>();
        if (valid)
        {
            foreach (var layer in spec.Layers)
            {
                var ctx = new ShapeContext(layer, diagnostics);
                int self = shaped.Count;
                if (index.ContainsKey(layer.Name) || layer.Name == InputName)
                {
                    ctx.Error("ESPN0009", "#0", layer.Name);
                    continue;
                }

                LayerChecks.Arguments(ctx);
                bool argumentsValid = !ctx.Failed;

                var inputIds = new List<int>();
                var inputDims = new List<Dims>();
                bool ready = true;
                for (int i = 0; i < layer.Inputs.Count; i++)
                {
                    string from = layer.Inputs[i];
                    if (from == InputName) { inputIds.Add(-1); inputDims.Add(input); continue; }
                    if (!index.TryGetValue(from, out int id))
                    {
                        ctx.Error("ESPN0008", "#" + (i + 1), layer.Name, from, Known(index.Keys));
                        ready = false;
                        continue;
                    }
                    inputIds.Add(id);
                    if (dims[id] is { } d) inputDims.Add(d); else ready = false;
                }

                Dims? output = null;
                int[] dilations = { layer.Dilation };
                int imagePools = 0;
                if (ready && argumentsValid)
                {
                    var x = inputDims[0];
                    switch (layer.Kind)
                    {
                        case LayerKind.Conv: output = ConvShape.Infer(ctx, x); break;
                        case LayerKind.BatchNorm: output = BatchNormShape.Infer(ctx, x); break;
                        case LayerKind.AvgPool: output = AvgPoolShape.Infer(ctx, x); break;
                        case LayerKind.Concat: output = ConcatShape.Infer(ctx, inputDims.ToArray()); break;
                        case LayerKind.Add: output = AddShape.Infer(ctx, inputDims.ToArray()); break;
                        case LayerKind.ConvTranspose: output = ConvTransposeShape.Infer(ctx, x); break;
                        case LayerKind.Esp:
                            if (EspShape.Infer(ctx, x) is { } esp) { output = esp.Out; dilations = esp.Dilations; }
                            break;
                        case LayerKind.Eesp:
                            if (EespShape.Infer(ctx, x) is { } eesp) { output = eesp.Out; dilations = eesp.Dilations; }
                            break;
                        case LayerKind.DownSampler:
                            if (DownSamplerShape.Infer(ctx, x, inputDims.Count > 1 ? inputDims[1] : null) is { } down)
                            { output = down.Out; dilations = down.Dilations; imagePools = down.ImagePools; }
                            break;
                        case LayerKind.GlobalAvgPool: output = GlobalAvgPoolShape.Infer(ctx, x); break;
                        case LayerKind.Linear: output = LinearShape.Infer(ctx, x); break;
                        case LayerKind.Resize: output = ResizeShape.Infer(ctx, inputDims.ToArray()); break;
                        case LayerKind.PyramidPool: output = PyramidPoolShape.Infer(ctx, x); break;
                        case LayerKind.GatedConv: output = GatedConvShape.Infer(ctx, x); break;
                        case LayerKind.PspPool: output = PspPoolShape.Infer(ctx, x); break;
                    }
                }
                if (output is { } o && !ctx.Failed && !LayerChecks.FitsInMemory(ctx, o, spec.Batch)) output = null;
                if (output is not null && layer.Kind == LayerKind.Linear && (long)layer.Out * inputDims[0].Elements > LayerChecks.MaxTensorFloats)
                {
                    ctx.Invalid("Out", layer.Out, $"its weights would hold {((long)layer.Out * inputDims[0].Elements).ToString("N0", System.Globalization.CultureInfo.InvariantCulture)} floats; pool the map first");
                    output = null;
                }
                if (ctx.Failed || output is null) valid = false;
                index[layer.Name] = self;
                dims[self] = output;
                shaped.Add(new ShapedLayer(layer, inputIds.ToEquatableArray(), inputDims.ToEquatableArray(),
                    output ?? default, dilations.ToEquatableArray(), imagePools));
            }
        }

        int outputLayer = shaped.Count - 1;
        if (valid && spec.Output is { } name)
        {
            if (!index.TryGetValue(name, out outputLayer))
                NetworkError("ESPN0008", "Output", spec.ClassName, name, Known(index.Keys));
        }
        if (valid && shaped.Count == 0) valid = false;
        // A layer nothing reads (and not the output) is computed and thrown away: say so where it is declared.
        // Layers declared after an Output named in the middle are extras kept on purpose (seen by observers).
        if (valid)
        {
            var read = new HashSet<int>(shaped.SelectMany(l => l.Inputs)) { outputLayer };
            for (int i = 0; i < outputLayer; i++)
                if (!read.Contains(i))
                    diagnostics.Add(new DiagnosticInfo("ESPN0022", shaped[i].Spec.LocationOf("#0"),
                        new[] { shaped[i].Spec.Name, spec.Layers[outputLayer].Name }.ToEquatableArray()));
        }
        return (new ShapedNetwork(spec, input, shaped.ToEquatableArray(), outputLayer, valid), diagnostics);
    }

    private static string Known(IEnumerable<string> names)
    {
        var list = new[] { InputName }.Concat(names).ToList();
        return list.Count <= 8 ? string.Join(", ", list) : string.Join(", ", list.Take(4)) + ", ..., " + string.Join(", ", list.Skip(list.Count - 3));
    }
}
