using System.Globalization;
using System.Numerics;

namespace Espnet.Compiled.Training;

/// <summary>
/// The authors' learning-rate schedules, per epoch, reproducing their values exactly — including Python's
/// round(x, n), which rounds the exact binary value of x: a value meant to be 0.003125 comes out 0.00312 or
/// 0.00313 depending on the rounding error of the expression that made it, as in the authors' runs.
/// </summary>
public static class LearningRates
{
    /// <summary>
    /// ESPNetv2's cyclic schedule with warm restarts (EdgeNets' 'clr'): epoch 0 is the warm-up at the base rate;
    /// from epoch 1, lr = round(eta * T - ((t - 1) mod T) * eta, 5), where eta starts at the base rate and is
    /// multiplied by <paramref name="gamma"/> at each step epoch reached (t mod step == 0, t > 1).
    /// </summary>
    public static double Cyclic(int epoch, double baseLr, int cycleLength, IReadOnlyList<int> steps, double gamma = 0.5)
    {
        if (epoch < 0) throw new ArgumentOutOfRangeException(nameof(epoch), epoch, "an epoch is 0 or more");
        if (cycleLength < 1) throw new ArgumentOutOfRangeException(nameof(cycleLength), cycleLength, "a cycle is at least one epoch");
        // Replayed from epoch 0 as the authors' stateful scheduler is: the same multiplications in the same order.
        double eta = baseLr;
        int next = 0;
        for (int t = 2; t <= epoch && next < steps.Count; t++)
            if (t % steps[next] == 0)
            {
                eta *= gamma;
                next++;
            }
        if (epoch == 0) return eta;
        int c = (epoch - 1) % cycleLength;
        return PythonRound(eta * cycleLength - c * eta, 5);
    }

    /// <summary>The ESPNetv2 ImageNet recipe's steps (epochs where the minimum rate halves).</summary>
    public static readonly IReadOnlyList<int> EspNetV2ImageNetSteps = [51, 101, 131, 161, 191, 221, 251, 281];

    /// <summary>
    /// EdgeNets' hybrid schedule: the cyclic schedule without decay before <paramref name="clrMax"/>, then a linear
    /// decay lr = base - base * e / L with e = epoch - clrMax + 1 and L = maxEpochs - clrMax + 1; rounded to 6 decimals.
    /// </summary>
    public static double Hybrid(int epoch, double baseLr, int clrMax, int maxEpochs, int cycleLength = 5)
    {
        double lr = epoch < clrMax
            ? Cyclic(epoch, baseLr, cycleLength, [clrMax], gamma: 1)
            : baseLr - baseLr * (epoch - clrMax + 1) / (maxEpochs - clrMax + 1);
        return PythonRound(lr, 6);
    }

    /// <summary>Step decay: base * gamma^(floor(epoch / every)) (ESPNet: x0.5 every 100 epochs).</summary>
    public static double Step(int epoch, double baseLr, int every, double gamma) => baseLr * Math.Pow(gamma, epoch / every);

    /// <summary>Polynomial decay of the older ESPNetv2 segmentation scripts: round(base * (1 - epoch / max)^power, 8).</summary>
    public static double Poly(int epoch, double baseLr, int maxEpochs, double power = 0.9) =>
        PythonRound(baseLr * Math.Pow(1 - (double)epoch / maxEpochs, power), 8);

    /// <summary>
    /// Python's round(x, digits) for a double: the exact binary value of x, scaled by 10^digits, rounded to the
    /// nearest integer (an exact tie to even), then the double nearest to that decimal.
    /// </summary>
    public static double PythonRound(double x, int digits)
    {
        if (double.IsNaN(x) || double.IsInfinity(x) || x == 0) return x;
        long bits = BitConverter.DoubleToInt64Bits(x);
        bool negative = bits < 0;
        int exponent = (int)((bits >> 52) & 0x7FF);
        long mantissa = bits & 0xFFFFFFFFFFFFFL;
        if (exponent == 0) exponent++; else mantissa |= 1L << 52;
        exponent -= 1075; // x = mantissa * 2^exponent
        BigInteger scaled = mantissa * BigInteger.Pow(10, digits), rounded;
        if (exponent >= 0) rounded = scaled << exponent;
        else
        {
            BigInteger denominator = BigInteger.One << -exponent;
            rounded = BigInteger.DivRem(scaled, denominator, out BigInteger remainder);
            int half = (remainder * 2).CompareTo(denominator);
            if (half > 0 || half == 0 && !rounded.IsEven) rounded += 1;
        }
        double value = double.Parse(rounded.ToString(CultureInfo.InvariantCulture) + "e-" + digits.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        return negative ? -value : value;
    }
}
