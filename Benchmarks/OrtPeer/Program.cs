// ONNX Runtime peer: loads a static-shape .onnx model, runs it on the CPU execution provider with
// IntraOpNumThreads = N (sequential execution, all graph optimizations), times R runs after W warm-up
// runs and prints one JSON line. With --check it instead runs one given input and compares the output
// with an expected tensor (|a - b| <= 1e-4 * max(1, |b|) element-wise, or max |a - b| <= 1e-5 * max |b|),
// exiting 1 on a mismatch.
//
// usage: ortpeer --onnx FILE [--name LABEL] [--threads N] [--runs R] [--warmup W]
//        ortpeer --onnx FILE --check INPUT.f32 EXPECTED.f32 [--threads N]
using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.OnnxRuntime;

var inv = CultureInfo.InvariantCulture;
string? onnx = null, name = null, checkInput = null, checkExpected = null;
int threads = 1, runs = 10, warmup = 3;
for (int i = 0; i < args.Length; i++)
{
    string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
    switch (args[i])
    {
        case "--onnx": onnx = Next(); break;
        case "--name": name = Next(); break;
        case "--threads": threads = int.Parse(Next(), inv); break;
        case "--runs": runs = int.Parse(Next(), inv); break;
        case "--warmup": warmup = int.Parse(Next(), inv); break;
        case "--check": checkInput = Next(); checkExpected = Next(); break;
        default: Console.Error.WriteLine($"unknown argument {args[i]}"); return 2;
    }
}
if (onnx is null || runs < 1 || warmup < 0 || threads < 1)
{
    Console.Error.WriteLine("usage: ortpeer --onnx FILE [--name LABEL] [--threads N] [--runs R] [--warmup W] | --check INPUT.f32 EXPECTED.f32");
    return 2;
}
name ??= Path.GetFileNameWithoutExtension(onnx);

using var options = new SessionOptions
{
    IntraOpNumThreads = threads,
    InterOpNumThreads = 1,
    ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
    GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
};
using var session = new InferenceSession(onnx, options);
var (inputName, inputMeta) = session.InputMetadata.Single();
var (outputName, outputMeta) = session.OutputMetadata.Single();
long[] inputShape = inputMeta.Dimensions.Select(d => (long)d).ToArray();
long[] outputShape = outputMeta.Dimensions.Select(d => (long)d).ToArray();
if (inputShape.Any(d => d <= 0) || outputShape.Any(d => d <= 0))
    throw new InvalidOperationException($"{onnx}: needs static shapes (input [{string.Join(",", inputShape)}], output [{string.Join(",", outputShape)}])");

var x = new float[inputShape.Aggregate(1L, (a, b) => a * b)];
var y = new float[outputShape.Aggregate(1L, (a, b) => a * b)];
using var xValue = OrtValue.CreateTensorValueFromMemory(x, inputShape);
using var yValue = OrtValue.CreateTensorValueFromMemory(y, outputShape);
using var runOptions = new RunOptions();
string[] inputNames = [inputName], outputNames = [outputName];
OrtValue[] inputValues = [xValue], outputValues = [yValue];
void Run() => session.Run(runOptions, inputNames, inputValues, outputNames, outputValues);

if (checkInput is not null)
{
    ReadF32(checkInput, x);
    var expected = new float[y.Length];
    ReadF32(checkExpected!, expected);
    Run();
    double maxDiff = 0, worst = 0, maxRef = 0;
    for (int i = 0; i < y.Length; i++)
    {
        double d = Math.Abs(y[i] - expected[i]);
        if (double.IsNaN(d)) d = double.PositiveInfinity;
        maxDiff = Math.Max(maxDiff, d);
        maxRef = Math.Max(maxRef, Math.Abs(expected[i]));
        worst = Math.Max(worst, d / Math.Max(1.0, Math.Abs(expected[i])));
    }
    // Element-wise |a - b| <= 1e-4 * max(1, |b|); or, where float32 rounding noise scales with the output's
    // largest value (ESPNet: deep residual sums, outputs in the hundreds, PyTorch's own setups differ as
    // much), max |a - b| <= 1e-5 * max(1, max |b|).
    double ofMax = maxDiff / Math.Max(1.0, maxRef);
    bool ok = worst <= 1e-4 || ofMax <= 1e-5;
    Console.WriteLine(string.Create(inv,
        $"{{\"peer\":\"onnxruntime\",\"check\":\"{(ok ? "ok" : "FAILED")}\",\"model\":\"{name}\",\"max_abs_diff\":{maxDiff:G4},\"max_scaled_diff\":{worst:G4}," +
        $"\"max_diff_of_max_abs\":{ofMax:G4},\"max_abs_expected\":{maxRef:G6},\"elements\":{y.Length}}}"));
    return ok ? 0 : 1;
}

var rng = new Random(2);
for (int i = 0; i < x.Length; i++) x[i] = (float)(2 * rng.NextDouble() - 1);
for (int i = 0; i < warmup; i++) Run();
var times = new double[runs];
for (int i = 0; i < runs; i++)
{
    long start = Stopwatch.GetTimestamp();
    Run();
    times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    Console.Error.Write($"\rort run {i + 1}/{runs}: {times[i]:F1} ms   ");
}
Console.Error.WriteLine();
Array.Sort(times);
double median = runs % 2 == 1 ? times[runs / 2] : (times[runs / 2 - 1] + times[runs / 2]) / 2;
Console.WriteLine(string.Create(inv,
    $"{{\"peer\":\"onnxruntime\",\"model\":\"{name}\",\"height\":{inputShape[2]},\"width\":{inputShape[3]},\"threads\":{threads}," +
    $"\"median_ms\":{median:F3},\"min_ms\":{times[0]:F3},\"runs\":{runs},\"warmup\":{warmup},\"ort\":\"{OrtEnv.Instance().GetVersionString()}\"}}"));
return 0;

static void ReadF32(string path, float[] into)
{
    byte[] bytes = File.ReadAllBytes(path);
    if (bytes.Length != into.Length * 4)
        throw new InvalidDataException($"{path}: {bytes.Length} bytes, expected {into.Length * 4} ({into.Length} floats)");
    Buffer.BlockCopy(bytes, 0, into, 0, bytes.Length);
}
