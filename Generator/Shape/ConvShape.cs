using Espnet.Compiled.Generator.Model;

namespace Espnet.Compiled.Generator.Shape;

internal static class ConvShape
{
    public static Dims? Infer(ShapeContext ctx, Dims x)
    {
        var l = ctx.Layer;
        if (l.Out < 1) ctx.Invalid("Out", l.Out, "a convolution needs at least one output channel");
        if (l.Kernel < 1) ctx.Invalid("Kernel", l.Kernel, "use 1, 3, 5, ...");
        else if (l.Kernel % 2 == 0) ctx.Invalid("Kernel", l.Kernel, "the authors' 'same' padding ((k-1)/2)*d needs an odd kernel");
        if (l.Stride < 1) ctx.Invalid("Stride", l.Stride, "use 1 or 2");
        if (l.Dilation < 1) ctx.Invalid("Dilation", l.Dilation, "use 1 or more");
        if (l.Groups < 1) ctx.Invalid("Groups", l.Groups, "use 1 or more");
        if (l.Keys == KeyStyle.Bare && (l.BatchNorm || l.PRelu))
            ctx.Invalid("Keys", "Bare", "a bare convolution has no BatchNorm or PReLU; set BatchNorm = false, PRelu = false or use Keys = Module");
        if (ctx.Failed) return null;
        if (x.C % l.Groups != 0 || l.Out % l.Groups != 0)
        {
            ctx.Error("ESPN0011", "Groups", l.Name, l.Groups, x.C, l.Out, Gcd(x.C, l.Out));
            return null;
        }
        // With odd kernels and 'same' padding every output size is at least 1: nothing can collapse.
        int h = ShapeContext.ConvOut(x.H, l.Kernel, l.Stride, l.Dilation);
        int w = ShapeContext.ConvOut(x.W, l.Kernel, l.Stride, l.Dilation);
        ctx.CheckReach(l.Kernel, new[] { l.Dilation }, x, "Dilation");
        return new Dims(l.Out, h, w);
    }

    public static int Gcd(int a, int b) => b == 0 ? a : Gcd(b, a % b);
}
