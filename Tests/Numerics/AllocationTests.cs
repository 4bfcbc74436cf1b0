using Espnet.Compiled.Tests.RealWeights;

namespace Espnet.Compiled.Tests.Numerics;

/// <summary>A steady-state forward pass allocates nothing on the managed heap.</summary>
public sealed class AllocationTests
{
    [Fact]
    public void Forward_allocates_zero_bytes_after_the_first_call()
    {
        var model = new EspNetP2Q3At64x128();
        model.LoadWeights(RandomWeights.For(model, 3));
        var input = RandomWeights.Input(EspNetP2Q3At64x128.InputLength, 4);
        var output = new float[EspNetP2Q3At64x128.OutputLength];
        model.Forward(input, output);

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 3; i++) model.Forward(input, output);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Contains(output, v => v != output[0]);
    }

    [Fact]
    public void The_arena_is_smaller_than_keeping_every_intermediate()
    {
        var model = new EspNetP2Q3At64x128();
        long everything = model.Layers.Sum(l => (long)l.Output.Elements);
        Assert.True(model.ArenaFloats < everything / 2, $"arena {model.ArenaFloats} floats vs {everything} for all intermediates");
    }

    [Fact]
    public void EESP_and_DownSampler_forward_allocates_zero_bytes_after_the_first_call()
    {
        var model = new EespNet();
        model.LoadWeights(RandomWeights.For(model, 3));
        var input = RandomWeights.Input(EespNet.InputLength, 4);
        var output = new float[EespNet.OutputLength];
        model.Forward(input, output);

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 3; i++) model.Forward(input, output);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Contains(output, v => v != output[0]);
    }

    [Fact]
    public void Segmentation_heads_allocate_zero_bytes_after_the_first_call()
    {
        var model = new EdgeNetsS20CityAt64x128();
        model.LoadWeights(RandomWeights.For(model, 8));
        var input = RandomWeights.Input(EdgeNetsS20CityAt64x128.InputLength, 9);
        var output = new float[EdgeNetsS20CityAt64x128.OutputLength];
        model.Forward(input, output);

        long before = GC.GetAllocatedBytesForCurrentThread();
        model.Forward(input, output);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Contains(output, v => v != output[0]);
    }
}
