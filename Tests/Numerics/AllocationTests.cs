using Espnet.Compiled.Tests.RealWeights;

namespace Espnet.Compiled.Tests.Numerics;

/// <summary>A steady-state forward pass allocates nothing on the managed heap.</summary>
// Runs networks on the shared worker threads: kept apart from the tests that count allocations.
[Collection(nameof(Espnet.Compiled.Tests.Kernels.KernelSettings))]
public sealed class AllocationTests
{
    public static TheoryData<string> Networks => new() { "ESPNet p2q3", "EESP and DownSampler", "EdgeNets segmentation heads" };

    [Theory]
    [MemberData(nameof(Networks))]
    public void Forward_allocates_zero_bytes_after_the_first_call(string network)
    {
        ICompiledNetwork model = network switch
        {
            "ESPNet p2q3" => new EspNetP2Q3At64x128(),
            "EESP and DownSampler" => new EespNet(),
            _ => new EdgeNetsS20CityAt64x128(),
        };
        model.LoadWeights(RandomWeights.For(model, 3));
        var input = RandomWeights.Input(model.Batch * model.InputShape.Elements, 4);
        var output = new float[model.Batch * model.OutputShape.Elements];
        model.Forward(input, output);

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 3; i++) model.Forward(input, output);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Contains(output, v => v != output[0]);
    }

    [Fact]
    public void An_input_inside_the_output_buffer_is_refused()
    {
        var model = new EspNetP2Q3At64x128();
        var shared = new float[EspNetP2Q3At64x128.OutputLength];
        var e = Assert.Throws<ArgumentException>(() => model.Forward(shared.AsSpan(0, EspNetP2Q3At64x128.InputLength), shared));
        Assert.Contains("overlap", e.Message);
    }

    [Fact]
    public void The_arena_is_smaller_than_keeping_every_intermediate()
    {
        var model = new EspNetP2Q3At64x128();
        long everything = model.Layers.Sum(l => (long)l.Output.Elements);
        Assert.True(model.ArenaFloats < everything / 2, $"arena {model.ArenaFloats} floats vs {everything} for all intermediates");
    }
}
