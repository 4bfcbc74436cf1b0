using System.Runtime.CompilerServices;

namespace Espnet.Compiled.Training;

/// <summary>
/// SGD with momentum (optionally Nesterov) and weight decay, PyTorch's torch.optim.SGD update: d = g + wd * p;
/// the first step sets the buffer b = d, later ones b = momentum * b + d; the step is d + momentum * b with
/// Nesterov, else b; p -= lr * step. One instance per parameter tensor (it owns the momentum buffer).
/// </summary>
public sealed class Sgd(int length, double momentum = 0.9, bool nesterov = false, double weightDecay = 0) : IParameterUpdate
{
    private readonly float[] _buffer = new float[length];
    private bool _started;

    public IReadOnlyList<float[]> State => [_buffer];

    public int Steps
    {
        get => _started ? 1 : 0;
        set => _started = value > 0;
    }

    public unsafe void Step(Span<float> parameter, ReadOnlySpan<float> gradient, double lr)
    {
        if (parameter.Length != _buffer.Length || gradient.Length != _buffer.Length)
            throw new ArgumentException($"Sgd: {parameter.Length} parameters and {gradient.Length} gradients for a buffer of {_buffer.Length}.");
        fixed (float* p = parameter, g = gradient, b = _buffer)
        {
            var job = new Job { P = p, G = g, B = b, Length = parameter.Length, Lr = lr, Momentum = momentum, WeightDecay = weightDecay, Nesterov = nesterov, Started = _started };
            UpdateChunks.Run(&job, &Chunk, parameter.Length);
        }
        _started = true;
    }

    private unsafe struct Job
    {
        public float* P, G, B;
        public int Length;
        public double Lr, Momentum, WeightDecay;
        public bool Nesterov, Started;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Chunk(void* state, int chunk)
    {
        ref var j = ref *(Job*)state;
        UpdateChunks.Range(chunk, j.Length, out int from, out int to);
        for (int i = from; i < to; i++)
        {
            double d = j.G[i] + j.WeightDecay * j.P[i];
            if (j.Momentum != 0)
            {
                double b = j.Started ? j.Momentum * j.B[i] + d : d;
                j.B[i] = (float)b;
                d = j.Nesterov ? d + j.Momentum * b : b;
            }
            j.P[i] = (float)(j.P[i] - j.Lr * d);
        }
    }
}

/// <summary>
/// Adam with L2 weight decay added to the gradient, PyTorch's torch.optim.Adam update: g += wd * p;
/// m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
/// One instance per parameter tensor (it owns the moments and the step count).
/// </summary>
public sealed class Adam(int length, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0) : IParameterUpdate
{
    private readonly float[] _m = new float[length], _v = new float[length];
    private int _t;

    public IReadOnlyList<float[]> State => [_m, _v];

    public int Steps
    {
        get => _t;
        set => _t = value;
    }

    public unsafe void Step(Span<float> parameter, ReadOnlySpan<float> gradient, double lr)
    {
        if (parameter.Length != _m.Length || gradient.Length != _m.Length)
            throw new ArgumentException($"Adam: {parameter.Length} parameters and {gradient.Length} gradients for moments of {_m.Length}.");
        _t++;
        fixed (float* p = parameter, g = gradient, m = _m, v = _v)
        {
            var job = new Job
            {
                P = p, G = g, M = m, V = v, Length = parameter.Length, Lr = lr, Beta1 = beta1, Beta2 = beta2, Eps = eps, WeightDecay = weightDecay,
                C1 = 1 - Math.Pow(beta1, _t), C2 = 1 - Math.Pow(beta2, _t),
            };
            UpdateChunks.Run(&job, &Chunk, parameter.Length);
        }
    }

    private unsafe struct Job
    {
        public float* P, G, M, V;
        public int Length;
        public double Lr, Beta1, Beta2, Eps, WeightDecay, C1, C2;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Chunk(void* state, int chunk)
    {
        ref var j = ref *(Job*)state;
        UpdateChunks.Range(chunk, j.Length, out int from, out int to);
        for (int i = from; i < to; i++)
        {
            double g = j.G[i] + j.WeightDecay * j.P[i];
            double m = j.Beta1 * j.M[i] + (1 - j.Beta1) * g, v = j.Beta2 * j.V[i] + (1 - j.Beta2) * g * g;
            j.M[i] = (float)m;
            j.V[i] = (float)v;
            j.P[i] = (float)(j.P[i] - j.Lr * (m / j.C1) / (Math.Sqrt(v / j.C2) + j.Eps));
        }
    }
}

/// <summary>
/// The optimizers' element loops spread over the kernel threads in chunks: every element's update is computed
/// alone, so the result is the same for any thread count (the big tensors, a classifier's ~1 M weights, made the
/// update a few percent of a step on one thread).
/// </summary>
internal static unsafe class UpdateChunks
{
    private const int Size = 1 << 14;

    /// <summary>What <see cref="Cpu.Fast.Workers.For"/> counts per element: a few dozen double operations and four streams.</summary>
    private const int WorkPerElement = 16;

    public static void Run(void* job, delegate*<void*, int, void> chunk, int length) =>
        Cpu.Fast.Workers.For(job, chunk, (length + Size - 1) / Size, (long)WorkPerElement * length);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Range(int chunk, int length, out int from, out int to)
    {
        from = chunk * Size;
        to = Math.Min(length, from + Size);
    }
}
