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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Step(Span<float> parameter, ReadOnlySpan<float> gradient, double lr)
    {
        if (parameter.Length != _buffer.Length || gradient.Length != _buffer.Length)
            throw new ArgumentException($"Sgd: {parameter.Length} parameters and {gradient.Length} gradients for a buffer of {_buffer.Length}.");
        for (int i = 0; i < parameter.Length; i++)
        {
            double d = gradient[i] + weightDecay * parameter[i];
            if (momentum != 0)
            {
                double b = _started ? momentum * _buffer[i] + d : d;
                _buffer[i] = (float)b;
                d = nesterov ? d + momentum * b : b;
            }
            parameter[i] = (float)(parameter[i] - lr * d);
        }
        _started = true;
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Step(Span<float> parameter, ReadOnlySpan<float> gradient, double lr)
    {
        if (parameter.Length != _m.Length || gradient.Length != _m.Length)
            throw new ArgumentException($"Adam: {parameter.Length} parameters and {gradient.Length} gradients for moments of {_m.Length}.");
        _t++;
        double c1 = 1 - Math.Pow(beta1, _t), c2 = 1 - Math.Pow(beta2, _t);
        for (int i = 0; i < parameter.Length; i++)
        {
            double g = gradient[i] + weightDecay * parameter[i];
            double m = beta1 * _m[i] + (1 - beta1) * g, v = beta2 * _v[i] + (1 - beta2) * g * g;
            _m[i] = (float)m;
            _v[i] = (float)v;
            parameter[i] = (float)(parameter[i] - lr * (m / c1) / (Math.Sqrt(v / c2) + eps));
        }
    }
}
