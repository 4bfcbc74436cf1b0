namespace Espnet.Compiled.Tests.Support;

/// <summary>The project's tolerance, |a - b| <= tol * max(1, |b|), with a trust check against degenerate data.</summary>
public static class Compare
{
    public const double ForwardTolerance = 1e-4;

    /// <summary>Returns the largest |a-b| / max(1,|b|); fails naming the worst element when it exceeds the tolerance.</summary>
    public static double AssertClose(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected, string what, double tolerance = ForwardTolerance, string? seedNote = null)
        => AssertClose(actual, expected, what, tolerance, noiseFloor: 0, seedNote);

    /// <summary>
    /// As above, plus an absolute allowance of <paramref name="noiseFloor"/> x max|b|: the float32 rounding noise
    /// of a reference whose values reach max|b| (see the reference test for where that matters and why).
    /// </summary>
    public static double AssertClose(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected, string what, double tolerance, double noiseFloor, string? seedNote = null)
    {
        Assert.True(actual.Length == expected.Length, $"{what}: {actual.Length} values, expected {expected.Length}");
        AssertNotDegenerate(expected, what + " (reference)");
        double scale = 0;
        foreach (double v in expected) scale = Math.Max(scale, Math.Abs(v));
        double floor = noiseFloor * scale;
        double worst = 0;
        int worstAt = -1;
        for (int i = 0; i < actual.Length; i++)
        {
            double b = expected[i];
            double err = Math.Max(0, Math.Abs(actual[i] - b) - floor) / Math.Max(1, Math.Abs(b));
            if (double.IsNaN(actual[i])) err = double.PositiveInfinity;
            if (err > worst) { worst = err; worstAt = i; }
        }
        if (worst > tolerance)
            Assert.Fail($"{what}: element {worstAt} is {actual[worstAt]} but the reference is {expected[worstAt]} (relative error {worst:E2} > {tolerance:E0}){(seedNote is null ? "" : "; " + seedNote)}");
        return worst;
    }

    public static double AssertClose(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, string what, double tolerance = ForwardTolerance, double noiseFloor = 0)
    {
        var e = new double[expected.Length];
        for (int i = 0; i < e.Length; i++) e[i] = expected[i];
        return AssertClose(actual, e, what, tolerance, noiseFloor);
    }

    /// <summary>A comparison against all zeros, a constant or NaN proves nothing: refuse it.</summary>
    public static void AssertNotDegenerate(ReadOnlySpan<double> values, string what)
    {
        Assert.True(values.Length > 0, $"{what} is empty");
        double first = values[0];
        bool varies = false;
        foreach (double v in values)
        {
            Assert.False(double.IsNaN(v) || double.IsInfinity(v), $"{what} holds NaN or infinity");
            if (v != first) varies = true;
        }
        Assert.True(varies, $"{what} is constant ({first}): the comparison would prove nothing");
    }
}
