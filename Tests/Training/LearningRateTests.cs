using Espnet.Compiled.Training;

namespace Espnet.Compiled.Tests.Training;

/// <summary>The authors' schedules against the per-epoch values their scripts produce (tables in docs/training.md).</summary>
public sealed class LearningRateTests
{
    /// <summary>ESPNetv2 ImageNet, base 0.1: each row's five in-cycle values (epochs t with (t-1) mod 5 = 0..4).</summary>
    public static TheoryData<int, int, double[]> CyclicRows() => new()
    {
        { 1, 50, [0.5, 0.4, 0.3, 0.2, 0.1] },
        { 51, 100, [0.25, 0.2, 0.15, 0.1, 0.05] },
        { 101, 130, [0.125, 0.1, 0.075, 0.05, 0.025] },
        { 131, 160, [0.0625, 0.05, 0.0375, 0.025, 0.0125] },
        { 161, 190, [0.03125, 0.025, 0.01875, 0.0125, 0.00625] },
        { 191, 220, [0.01562, 0.0125, 0.00937, 0.00625, 0.00312] },
        { 221, 250, [0.00781, 0.00625, 0.00469, 0.00312, 0.00156] },
        { 251, 280, [0.00391, 0.00313, 0.00234, 0.00156, 0.00078] },
        { 281, 299, [0.00195, 0.00156, 0.00117, 0.00078, 0.00039] },
    };

    [Theory]
    [MemberData(nameof(CyclicRows))]
    public void Cyclic_schedule_matches_the_published_values(int first, int last, double[] cycle)
    {
        for (int t = first; t <= last; t++)
        {
            double lr = LearningRates.Cyclic(t, 0.1, 5, LearningRates.EspNetV2ImageNetSteps);
            Assert.True(lr == cycle[(t - 1) % 5], $"epoch {t}: {lr}, published {cycle[(t - 1) % 5]}");
        }
    }

    [Fact]
    public void Cyclic_warm_up_and_Pythons_rounding_at_near_ties()
    {
        Assert.Equal(0.1, LearningRates.Cyclic(0, 0.1, 5, LearningRates.EspNetV2ImageNetSteps));
        // 0.003125 is 0.00312 in epochs 191-250 but 0.00313 in 251-280; 0.015625 is 0.01562.
        Assert.Equal(0.00312, LearningRates.Cyclic(195, 0.1, 5, LearningRates.EspNetV2ImageNetSteps));
        Assert.Equal(0.00313, LearningRates.Cyclic(252, 0.1, 5, LearningRates.EspNetV2ImageNetSteps));
        Assert.Equal(0.01562, LearningRates.Cyclic(191, 0.1, 5, LearningRates.EspNetV2ImageNetSteps));
        // The exact binary values decide (checked with CPython): the double nearest 0.003125 lies just above it,
        // the double nearest 2.675 just below (Python's documented surprise).
        Assert.Equal(0.00313, LearningRates.PythonRound(0.003125, 5));
        Assert.Equal(2.67, LearningRates.PythonRound(2.675, 2));
        Assert.Equal(-0.5, LearningRates.PythonRound(-0.5, 1));
    }

    [Fact]
    public void Hybrid_schedule_of_EdgeNets_segmentation()
    {
        double[] cycle = [0.045, 0.036, 0.027, 0.018, 0.009];
        Assert.Equal(0.009, LearningRates.Hybrid(0, 0.009, 61, 100));
        for (int t = 1; t <= 60; t++) Assert.Equal(cycle[(t - 1) % 5], LearningRates.Hybrid(t, 0.009, 61, 100));
        for (int t = 61; t <= 99; t++)
        {
            double expected = Math.Round(0.008775 - 0.000225 * (t - 61), 6);
            Assert.True(LearningRates.Hybrid(t, 0.009, 61, 100) == expected, $"epoch {t}: {LearningRates.Hybrid(t, 0.009, 61, 100)}, expected {expected}");
        }
    }

    [Fact]
    public void Step_and_poly()
    {
        Assert.Equal(5e-4, LearningRates.Step(99, 5e-4, 100, 0.5));
        Assert.Equal(2.5e-4, LearningRates.Step(100, 5e-4, 100, 0.5));
        Assert.Equal(1.25e-4, LearningRates.Step(299, 5e-4, 100, 0.5));
        Assert.Equal(5e-4, LearningRates.Poly(0, 5e-4, 300));
        Assert.Equal(LearningRates.PythonRound(5e-4 * Math.Pow(1 - 150 / 300.0, 0.9), 8), LearningRates.Poly(150, 5e-4, 300));
        Assert.Equal(0.00026794, LearningRates.Poly(150, 5e-4, 300)); // CPython: round(5e-4 * 0.5 ** 0.9, 8)
    }
}
