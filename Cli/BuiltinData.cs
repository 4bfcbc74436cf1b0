using Espnet.Compiled.Imaging;
using Espnet.Compiled.Weights;
using Espnet.Compiled.Zoo;

namespace Espnet.Compiled.Cli;

/// <summary>
/// What `run` can use without a download: `--weights builtin` (the authors' ESPNet p2q3 Cityscapes file,
/// embedded) and `--input synthetic` (the reference tests' input formula at the model's size).
/// </summary>
internal static class BuiltinData
{
    public const string Weights = "builtin", Input = "synthetic";
    private const string BuiltinModel = "espnet-p2-q3";

    public static StateDict ReadWeights(ModelRequest request)
    {
        if (request.Name != BuiltinModel || request.Classes != request.DefaultClasses)
            throw new UsageException($"--weights builtin holds {BuiltinModel} (Cityscapes, 20 classes) only; pass the .pth file for {request.Label}");
        using var stream = typeof(BuiltinData).Assembly.GetManifestResourceStream("builtin/espnet_p_2_q_3.pth")
                           ?? throw new CommandException("the built-in weights are missing from this build of espnet");
        return PthReader.Read(stream, "builtin espnet_p_2_q_3.pth");
    }

    /// <summary>x[n, c, h, w] = (((7h + 13w + 29c) mod 256) - 128) / 128, exact in float32 (shared/data/reference's inputs).</summary>
    public static float[] SyntheticInput(ICompiledNetwork network)
    {
        var s = network.InputShape;
        var x = new float[network.Batch * s.Elements];
        for (int n = 0; n < network.Batch; n++)
            for (int c = 0; c < s.Channels; c++)
                for (int h = 0; h < s.Height; h++)
                    for (int w = 0; w < s.Width; w++)
                        x[((n * s.Channels + c) * s.Height + h) * s.Width + w] = ((7 * h + 13 * w + 29 * c) % 256 - 128) / 128f;
        return x;
    }

    /// <summary>
    /// `--image synthetic`: a street drawn here (sky, facades with windows, trees, a road in perspective with
    /// lane marks, pavements, a car), 1024x512 like a half-size Cityscapes frame: something to segment and look
    /// at without a download. Deterministic.
    /// </summary>
    public static RgbImage SyntheticPicture(int width = 1024, int height = 512)
    {
        var p = new byte[3 * width * height];
        var rng = new Random(294);
        void Set(int x, int y, int r, int g, int b)
        {
            if ((uint)x >= (uint)width || (uint)y >= (uint)height) return;
            int n = rng.Next(-6, 7), i = 3 * (y * width + x);
            (p[i], p[i + 1], p[i + 2]) = ((byte)Math.Clamp(r + n, 0, 255), (byte)Math.Clamp(g + n, 0, 255), (byte)Math.Clamp(b + n, 0, 255));
        }
        int horizon = height * 45 / 100, centre = width / 2;
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                if (y < horizon)
                {
                    int t = 255 * y / horizon;                                   // sky: deeper blue at the top
                    Set(x, y, 90 + t / 4, 140 + t / 6, 200 + t / 10);
                    continue;
                }
                double depth = (double)(y - horizon) / (height - horizon);      // 0 at the horizon, 1 at the bottom
                int halfRoad = (int)(40 + depth * width * 0.45), halfWalk = halfRoad + (int)(20 + depth * 160);
                int dx = Math.Abs(x - centre);
                if (dx < halfRoad)
                {
                    bool lane = dx < 2 + depth * 6 && (int)(Math.Log(1 + 20 * depth) * 6) % 2 == 0;
                    if (lane) Set(x, y, 220, 220, 215);
                    else Set(x, y, 105, 100, 108);                              // asphalt
                }
                else if (dx < halfWalk) Set(x, y, 175, 160, 165);              // pavement
                else Set(x, y, 120, 135, 90);                                    // verge
            }
        // Facades either side, with rows of windows, standing on the pavement's outer edge.
        foreach (int side in new[] { -1, 1 })
            for (int k = 0; k < 4; k++)
            {
                int near = side < 0 ? k * width / 10 : width - (k + 1) * width / 10, far = near + width / 10;
                int top = horizon - 140 + 25 * k + rng.Next(0, 30), bottom = horizon + 60 - 15 * k;
                var (r, g, b) = (k % 2 == 0) ? (150, 135, 120) : (120, 115, 125);
                for (int y = Math.Max(0, top); y < bottom; y++)
                    for (int x = near; x < far; x++)
                    {
                        bool window = (x - near) % 24 is > 6 and < 18 && (y - top) % 30 is > 8 and < 22 && y < bottom - 20;
                        if (window) Set(x, y, 60, 70, 85);
                        else Set(x, y, r, g, b);
                    }
            }
        // Trees: dark green crowns on brown trunks along the road.
        foreach (int tx in new[] { width * 43 / 100, width * 58 / 100, width * 23 / 100, width * 79 / 100 })
        {
            int ground = horizon + 30 + Math.Abs(tx - centre) / 6, crown = 40 + Math.Abs(tx - centre) / 12;
            for (int y = ground - 3 * crown; y < ground; y++)
                for (int x = tx - 4; x < tx + 4; x++) Set(x, y, 90, 65, 45);
            for (int y = -crown; y <= crown; y++)
                for (int x = -crown; x <= crown; x++)
                    if (x * x + y * y <= crown * crown) Set(tx + x, ground - 3 * crown + y, 60 + rng.Next(0, 30), 110 + rng.Next(0, 40), 40);
        }
        // A car on the road: body, windows, wheels.
        int cx = centre - width / 8, cy = horizon + (height - horizon) / 2, cw = width / 7, ch = cw / 2;
        for (int y = cy - ch; y < cy; y++)
            for (int x = cx - cw / 2; x < cx + cw / 2; x++)
            {
                bool cabin = y < cy - ch / 2;
                if (cabin && (x < cx - cw / 3 || x > cx + cw / 3)) continue;
                if (cabin && y > cy - ch + 6 && y < cy - ch / 2 - 4) Set(x, y, 50, 60, 75);
                else Set(x, y, 30, 50, 140);
            }
        foreach (int wx in new[] { cx - cw / 3, cx + cw / 3 })
            for (int y = -ch / 5; y <= ch / 5; y++)
                for (int x = -ch / 5; x <= ch / 5; x++)
                    if (x * x + y * y <= ch * ch / 25) Set(wx + x, cy + y, 25, 25, 25);
        return new RgbImage(width, height, p);
    }
}
