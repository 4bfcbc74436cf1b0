using Espnet.Compiled.Tests.Numerics;
using Espnet.Compiled.Tests.Support;
using Espnet.Compiled.Weights;

namespace Espnet.Compiled.Tests.RealWeights;

/// <summary>
/// Whole ESPNetv2 segmentation networks with the authors' weights at a non-square size, against the independent
/// double-precision reference (no PyTorch tensors exist at 96x160), every named tensor compared.
/// </summary>
public sealed class SegmentationDifferentialTests
{
    private const double Eps = 1e-5;
    private static readonly int[] S10 = { 32, 64, 128, 256 }, S05 = { 16, 32, 64, 128 };

    [Fact]
    public void EdgeNets_s10_city_at_96x160_matches_the_reference()
    {
        var sd = PthReader.Read(SharedData.Require("weights/EdgeNets/model/segmentation/model_zoo/espnetv2/espnetv2_s_1.0_city_512x256.pth"));
        var (taps, x) = Run(new EdgeNetsS10CityAt96x160(), sd, seed: 11);
        var p = RandomWeights.Lookup(sd);
        var e = Base(x, p, "base_net.", S10);

        var expected = new Dictionary<string, T> { ["base_net.level1"] = e[0], ["base_net.level2_0"] = e[1], ["base_net.level4.6"] = e[3] };
        var d = expected["bu_dec_l1"] = RefHeads.PyramidPool(e[3], p, "bu_dec_l1", 10, 64, lastBr: true, Eps);
        (T Skip, string Level, int Width)[] steps = { (e[2], "l2", 48), (e[1], "l3", 32), (e[0], "l4", 20) };
        foreach (var (skip, level, width) in steps)
        {
            var m = expected["merge_enc_dec_" + level] = RefHeads.GatedConv(skip, p, "merge_enc_dec_" + level, d.C, Eps);
            var up = RefHeads.Bilinear(d, 2 * d.H, 2 * d.W);
            var b = Ref.PRelu(Ref.Bn(Ref.Add(m, up), p, $"bu_br_{level}.0.", Eps), p($"bu_br_{level}.1.weight"));
            d = expected["bu_dec_" + level] = RefHeads.PyramidPool(b, p, "bu_dec_" + level, 10, width, lastBr: level != "l4", Eps);
        }
        expected["out"] = RefHeads.Bilinear(d, 96, 160);
        foreach (var (name, t) in expected) Compare.AssertClose(taps[name], t.D, name);
    }

    [Fact]
    public void Older_PSP_head_s05_at_96x160_matches_the_reference()
    {
        var sd = PthReader.Read(SharedData.Require("weights/ESPNetv2/segmentation/pretrained_models/espnetv2_segmentation_s_0.5.pth"));
        // This head was trained on ESPNet's input scale ((BGR - mean) / std / 255, about +-0.02): its BNs have
        // variances down to 6e-5 (gains up to 100x), so inputs 50x too large amplify float32 rounding past 1e-4.
        var (taps, x) = Run(new PspHeadS05At96x160(), sd, seed: 12, inputScale: 0.02f);
        var p = RandomWeights.Lookup(Unprefixed(sd));
        var l = Base(x, p, "net.", S05);

        var q4 = RefHeads.Cbr(l[3], p, "proj_L4_C.conv.weight", "proj_L4_C.bn.", "proj_L4_C.act.weight", 64, 1, 1, Eps);
        var cat = Ref.Concat(l[2], RefHeads.Bilinear(q4, 2 * q4.H, 2 * q4.W));
        var m = Ref.Eesp(cat, p, "pspMod.0", 64, 4, Ref.RLimDilations(4, 7), 1, Eps);
        m = RefHeads.PspPool(m, p, "pspMod.1", 64, 4, Eps);
        var pl3 = Ref.PRelu(Ref.Bn(Ref.Conv(m, p("project_l3.1.conv.weight"), 20, 1), p, "act_l3.bn.", Eps), p("act_l3.act.weight"));
        var m2 = RefHeads.Cbr(Ref.Concat(l[1], RefHeads.Bilinear(pl3, 2 * pl3.H, 2 * pl3.W)), p, "project_l2.conv.weight", "project_l2.bn.", "project_l2.act.weight", 20, 1, 1, Eps);
        var m1 = Ref.Conv(Ref.Concat(l[0], RefHeads.Bilinear(m2, 2 * m2.H, 2 * m2.W)), p("project_l1.1.conv.weight"), 20, 1);
        var expected = new Dictionary<string, T>
        {
            ["net.level4.6"] = l[3], ["pspMod.0"] = Ref.Eesp(cat, p, "pspMod.0", 64, 4, Ref.RLimDilations(4, 7), 1, Eps),
            ["pspMod.1"] = m, ["act_l3"] = pl3, ["project_l2"] = m2, ["project_l1.1"] = m1, ["out"] = RefHeads.Bilinear(m1, 96, 160),
        };
        foreach (var (name, t) in expected) Compare.AssertClose(taps[name], t.D, name);
    }

    private static (Dictionary<string, float[]> Taps, T X) Run(ICompiledNetwork model, StateDict sd, int seed, float inputScale = 1f)
    {
        model.LoadWeights(sd);
        var input = RandomWeights.Input(model.Batch * model.InputShape.Elements, seed).Select(v => v * inputScale).ToArray();
        var taps = new TapRecorder();
        model.Forward(input, new float[model.Batch * model.OutputShape.Elements], taps);
        return (taps.Values, new T(3, 96, 160, input.Select(v => (double)v).ToArray()));
    }

    /// <summary>EESPNet levels 1-4: l1, l2 (level2_0), l3 (after level3.2), l4 (after level4.6).</summary>
    private static T[] Base(T x, Func<string, double[]> p, string n, int[] c)
    {
        var l1 = Ref.PRelu(Ref.Bn(Ref.Conv(x, p(n + "level1.conv.weight"), c[0], 3, stride: 2), p, n + "level1.bn.", Eps), p(n + "level1.act.weight"));
        var l2 = Ref.DownSampler(l1, x, p, n + "level2_0", c[1], 4, Ref.RLimDilations(4, 13), Eps);
        var l3 = Ref.DownSampler(l2, x, p, n + "level3_0", c[2], 4, Ref.RLimDilations(4, 11), Eps);
        for (int i = 0; i < 3; i++) l3 = Ref.Eesp(l3, p, n + "level3." + i, c[2], 4, Ref.RLimDilations(4, 9), 1, Eps);
        var l4 = Ref.DownSampler(l3, x, p, n + "level4_0", c[3], 4, Ref.RLimDilations(4, 9), Eps);
        for (int i = 0; i < 7; i++) l4 = Ref.Eesp(l4, p, n + "level4." + i, c[3], 4, Ref.RLimDilations(4, 7), 1, Eps);
        return new[] { l1, l2, l3, l4 };
    }

    private static StateDict Unprefixed(StateDict sd)
    {
        var plain = new StateDict();
        foreach (string key in sd.Keys) plain.Add(key.StartsWith("module.") ? key["module.".Length..] : key, sd[key]);
        return plain;
    }
}
