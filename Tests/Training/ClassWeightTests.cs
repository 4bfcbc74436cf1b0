using Espnet.Compiled.Training;

namespace Espnet.Compiled.Tests.Training;

public sealed class ClassWeightTests
{
    [Fact]
    public void EspNet_weights_follow_the_per_image_histogram_of_the_authors_loader()
    {
        // Image 1 holds labels 0..3 (4 bins over [0, 3] for 4 classes: one label per bin);
        // image 2 holds only 1s and 3s: its 4 bins span [1, 3] (width 0.5), so 1 -> bin 0 and 3 -> bin 3.
        byte[] a = [0, 0, 1, 2, 3, 3, 3, 3];
        byte[] b = [1, 1, 1, 3];
        var w = ClassWeights.EspNet([a, b], 4);
        double[] counts = [2 + 3, 1, 1, 4 + 1];
        double total = counts.Sum();
        for (int c = 0; c < 4; c++)
            Assert.True(Math.Abs(w[c] - 1 / Math.Log(1.10 + counts[c] / total)) < 1e-6, $"class {c}: {w[c]}");
    }

    [Fact]
    public void A_histogram_of_one_value_spans_half_a_unit_either_side_as_numpy_does()
    {
        // numpy.histogram([5, 5, 5], 3) -> [0, 3, 0] (bins over [4.5, 5.5]).
        var w = ClassWeights.EspNet([[5, 5, 5]], 3);
        Assert.Equal(1 / Math.Log(1.10), w[0], 5);
        Assert.Equal(1 / Math.Log(1.10 + 1), w[1], 5);
        Assert.Equal(1 / Math.Log(1.10), w[2], 5);
    }

    [Fact]
    public void EdgeNets_cityscapes_weights_ignore_the_last_class()
    {
        Assert.Equal(20, ClassWeights.EdgeNetsCityscapes.Count);
        Assert.Equal(0f, ClassWeights.EdgeNetsCityscapes[19]);
        Assert.Equal(2.8149f, ClassWeights.EdgeNetsCityscapes[0]);
    }
}
