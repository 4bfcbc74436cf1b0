"""PyTorch peers of the networks Espnet.Compiled builds, written from docs/espnet-reference.md.

Only speed is compared, so the weights are seeded random ones; the layers, shapes and
multiply-accumulate counts are those of the published networks:

  espnet-p2-q8            ESPNet with decoder (Cityscapes/test variant: skip = level1 output), 20 classes
  espnet-c-p2-q8          ESPNet-C (encoder + 1x1 classifier, logits at 1/8), 20 classes
  espnetv2-seg-s2.0-city  EESPNet levels 1-4 + the EdgeNets head (EfficientPyrPool / EfficientPWConv), 20 classes
  espnetv2-s1.0           EESPNet image classifier, 1000 classes

`build(name, exportable=False)` makes one by the CLI's model name; `conv_macs(model, h, w)` counts
convolution multiply-accumulates with forward hooks, the way the authors count them (transposed
convolutions and fully-connected layers are reported separately and not included).

exportable=True swaps the EdgeNets head's adaptive average poolings (their output sizes need not divide
the input) for the same averages written with fixed ops per axis: a fixed average pooling where the
size divides, else gathers of constant indices times constant weights, which ONNX takes at a fixed
input size. The eager model keeps F.adaptive_avg_pool2d.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

ESPNET_EPS = 1e-3   # ESPNet v1 batch norms
V2_EPS = 1e-5       # ESPNetv2 / EdgeNets batch norms


# --------------------------------------------------------------------------------------------------
# small composite layers (state-dict names follow the reference: conv / bn / act)
# --------------------------------------------------------------------------------------------------

def _conv(cin, cout, k, stride=1, dilation=1, groups=1, bias=False):
    return nn.Conv2d(cin, cout, k, stride=stride, padding=((k - 1) // 2) * dilation,
                     dilation=dilation, groups=groups, bias=bias)


class ConvBnAct(nn.Module):
    """k x k convolution (no bias), batch norm, optional per-channel PReLU."""

    def __init__(self, cin, cout, k, stride=1, groups=1, eps=V2_EPS, act=True):
        super().__init__()
        self.conv = _conv(cin, cout, k, stride, groups=groups)
        self.bn = nn.BatchNorm2d(cout, eps=eps)
        self.act = nn.PReLU(cout) if act else None

    def forward(self, x):
        y = self.bn(self.conv(x))
        return self.act(y) if self.act is not None else y


class BnAct(nn.Module):
    def __init__(self, c, eps):
        super().__init__()
        self.bn = nn.BatchNorm2d(c, eps=eps)
        self.act = nn.PReLU(c)

    def forward(self, x):
        return self.act(self.bn(x))


def _avg3s2(x):
    # 3x3 / stride 2 / pad 1, the zero padding counted in the divisor (always 9).
    return F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=True)


# --------------------------------------------------------------------------------------------------
# ESPNet (v1)
# --------------------------------------------------------------------------------------------------

class EspBlock(nn.Module):
    """ESP module: reduce, five dilated 3x3 branches (d = 1, 2, 4, 8, 16), hierarchical fusion of the
    d >= 2 branches, concat, optional identity residual, then one BN + PReLU. stride=2 is the strided
    variant (3x3/2 reduce, no residual)."""

    def __init__(self, cin, cout, add=True, stride=1):
        super().__init__()
        n = cout // 5
        n1 = cout - 4 * n
        self.c1 = _conv(cin, n, 3 if stride == 2 else 1, stride)
        self.d1 = _conv(n, n1, 3, dilation=1)
        self.d2 = _conv(n, n, 3, dilation=2)
        self.d4 = _conv(n, n, 3, dilation=4)
        self.d8 = _conv(n, n, 3, dilation=8)
        self.d16 = _conv(n, n, 3, dilation=16)
        if stride == 2:   # the strided block keeps BN and PReLU as separate members (keys bn.*, act.weight)
            self.bn = nn.BatchNorm2d(cout, eps=ESPNET_EPS)
            self.act = nn.PReLU(cout)
        else:             # the plain block wraps them in one BR (keys bn.bn.*, bn.act.weight)
            self.bn = BnAct(cout, ESPNET_EPS)
            self.act = None
        self.add = add and stride == 1 and cin == cout

    def forward(self, x):
        o = self.c1(x)
        s2 = self.d2(o)
        s4 = s2 + self.d4(o)
        s8 = s4 + self.d8(o)
        s16 = s8 + self.d16(o)
        y = torch.cat([self.d1(o), s2, s4, s8, s16], 1)
        if self.add:
            y = y + x
        y = self.bn(y)
        return self.act(y) if self.act is not None else y


class EspNetC(nn.Module):
    """ESPNet-C: the encoder with its 1x1 classifier; logits at 1/8 resolution."""

    def __init__(self, classes=20, p=2, q=8):
        super().__init__()
        self.level1 = ConvBnAct(3, 16, 3, 2, eps=ESPNET_EPS)
        self.b1 = BnAct(16 + 3, ESPNET_EPS)
        self.level2_0 = EspBlock(19, 64, stride=2)
        self.level2 = nn.ModuleList([EspBlock(64, 64) for _ in range(p)])
        self.b2 = BnAct(64 + 64 + 3, ESPNET_EPS)
        self.level3_0 = EspBlock(131, 128, stride=2)
        self.level3 = nn.ModuleList([EspBlock(128, 128) for _ in range(q)])
        self.b3 = BnAct(256, ESPNET_EPS)
        self.classifier = nn.Conv2d(256, classes, 1, bias=False)

    def features(self, x):
        f0 = self.level1(x)
        i1 = _avg3s2(x)
        i2 = _avg3s2(i1)
        g1 = self.level2_0(self.b1(torch.cat([f0, i1], 1)))
        f1 = g1
        for block in self.level2:
            f1 = block(f1)
        f1c = self.b2(torch.cat([f1, g1, i2], 1))
        g2 = self.level3_0(f1c)
        f2 = g2
        for block in self.level3:
            f2 = block(f2)
        f2c = self.b3(torch.cat([g2, f2], 1))
        return f0, f1c, f2c

    def forward(self, x):
        return self.classifier(self.features(x)[2])


class EspNet(nn.Module):
    """ESPNet with the decoder, test/Cityscapes variant (the skip is the level1 output, 16 channels)."""

    def __init__(self, classes=20, p=2, q=8):
        super().__init__()
        c = classes
        self.encoder = EspNetC(classes, p, q)
        self.level3_C = nn.Conv2d(131, c, 1, bias=False)
        self.br = nn.BatchNorm2d(c, eps=ESPNET_EPS)
        self.conv = ConvBnAct(16 + c, c, 3, eps=ESPNET_EPS)
        self.up_l3 = nn.Sequential(nn.ConvTranspose2d(c, c, 2, stride=2, bias=False))
        self.combine_l2_l3 = nn.Sequential(BnAct(2 * c, ESPNET_EPS), EspBlock(2 * c, c, add=False))
        self.up_l2 = nn.Sequential(nn.ConvTranspose2d(c, c, 2, stride=2, bias=False), BnAct(c, ESPNET_EPS))
        self.classifier = nn.ConvTranspose2d(c, c, 2, stride=2, bias=False)

    def forward(self, x):
        f0, f1c, f2c = self.encoder.features(x)
        u3 = self.up_l3(self.br(self.encoder.classifier(f2c)))
        u2 = self.up_l2(self.combine_l2_l3(torch.cat([self.level3_C(f1c), u3], 1)))
        g = self.conv(torch.cat([u2, f0], 1))
        return self.classifier(g)


# --------------------------------------------------------------------------------------------------
# ESPNetv2 (EESPNet)
# --------------------------------------------------------------------------------------------------

def _eesp_dilations(k, r_lim):
    sizes = sorted(3 + 2 * i if 3 + 2 * i <= r_lim else 3 for i in range(k))
    return [(e - 1) // 2 for e in sizes]


class Eesp(nn.Module):
    """EESP unit: grouped 1x1 reduce (CBR), k depth-wise dilated 3x3 branches carrying the stride,
    cumulative fusion over all branches, concat, BN+PReLU, grouped 1x1 expand + BN, then (unless it is
    the strided unit of a DownSampler) the identity residual when shapes agree and a PReLU."""

    def __init__(self, cin, cout, stride=1, k=4, r_lim=7, in_downsampler=False):
        super().__init__()
        n = cout // k
        assert n * k == cout, "EESP width must be divisible by k"
        self.proj_1x1 = ConvBnAct(cin, n, 1, groups=k)
        self.spp_dw = nn.ModuleList(
            [nn.Conv2d(n, n, 3, stride=stride, padding=d, dilation=d, groups=n, bias=False)
             for d in _eesp_dilations(k, r_lim)])
        self.br_after_cat = BnAct(cout, V2_EPS)
        self.conv_1x1_exp = ConvBnAct(cout, cout, 1, groups=k, act=False)
        self.module_act = nn.PReLU(cout)  # present (and dead) in the strided unit too
        self.bare = stride == 2 and in_downsampler
        self.residual = cin == cout and stride == 1

    def forward(self, x):
        o = self.proj_1x1(x)
        acc = self.spp_dw[0](o)
        parts = [acc]
        for branch in self.spp_dw[1:]:
            acc = acc + branch(o)
            parts.append(acc)
        y = self.conv_1x1_exp(self.br_after_cat(torch.cat(parts, 1)))
        if self.bare:
            return y
        if self.residual:
            y = y + x
        return self.module_act(y)


class DownSampler(nn.Module):
    """Strided EESP: concat(avgpool(x), EESP/2(x)), plus the input reinforcement
    CB(CBR(image pooled to this resolution)) when the image is given, then PReLU."""

    def __init__(self, cin, cout, k=4, r_lim=9, reinf=True):
        super().__init__()
        self.eesp = Eesp(cin, cout - cin, stride=2, k=k, r_lim=r_lim, in_downsampler=True)
        self.inp_reinf = nn.Sequential(ConvBnAct(3, 3, 3), ConvBnAct(3, cout, 1, act=False)) if reinf else None
        self.act = nn.PReLU(cout)

    def forward(self, x, image=None):
        a = _avg3s2(x)
        y = torch.cat([a, self.eesp(x)], 1)
        if image is not None and self.inp_reinf is not None:
            pooled = _avg3s2(image)
            while pooled.shape[2] != a.shape[2]:   # heights only, as the authors' loop
                pooled = _avg3s2(pooled)
            y = y + self.inp_reinf(pooled)
        return self.act(y)


EESPNET_WIDTHS = {  # s: (c0, c1, c2, c3, c4, c5)
    0.5: (16, 32, 64, 128, 256, 1024),
    1.0: (32, 64, 128, 256, 512, 1024),
    1.25: (32, 80, 160, 320, 640, 1024),
    1.5: (32, 96, 192, 384, 768, 1024),
    2.0: (32, 128, 256, 512, 1024, 1280),
}


class EespNetBase(nn.Module):
    """EESPNet levels 1-4 (the part the segmentation heads share)."""

    def __init__(self, s=1.0):
        super().__init__()
        c0, c1, c2, c3, _, _ = EESPNET_WIDTHS[s]
        self.level1 = ConvBnAct(3, c0, 3, 2)
        self.level2_0 = DownSampler(c0, c1, r_lim=13)
        self.level3_0 = DownSampler(c1, c2, r_lim=11)
        self.level3 = nn.ModuleList([Eesp(c2, c2, r_lim=9) for _ in range(3)])
        self.level4_0 = DownSampler(c2, c3, r_lim=9)
        self.level4 = nn.ModuleList([Eesp(c3, c3, r_lim=7) for _ in range(7)])

    def levels(self, x):
        e1 = self.level1(x)
        e2 = self.level2_0(e1, x)
        e3 = self.level3_0(e2, x)
        for unit in self.level3:
            e3 = unit(e3)
        e4 = self.level4_0(e3, x)
        for unit in self.level4:
            e4 = unit(e4)
        return e1, e2, e3, e4


class EespNet(EespNetBase):
    """EESPNet image classifier."""

    def __init__(self, s=1.0, classes=1000):
        super().__init__(s)
        _, _, _, c3, c4, c5 = EESPNET_WIDTHS[s]
        self.level5_0 = DownSampler(c3, c4, r_lim=7)  # called without the image: inp_reinf is dead
        self.level5 = nn.ModuleList([Eesp(c4, c4, r_lim=5) for _ in range(3)]
                                    + [ConvBnAct(c4, c4, 3, groups=c4), ConvBnAct(c4, c5, 1, groups=4)])
        self.classifier = nn.Linear(c5, classes)

    def forward(self, x):
        e4 = self.levels(x)[3]
        y = self.level5_0(e4)
        for layer in self.level5:
            y = layer(y)
        y = F.adaptive_avg_pool2d(y, 1).flatten(1)  # dropout: identity at inference
        return self.classifier(y)


# --------------------------------------------------------------------------------------------------
# EdgeNets segmentation head
# --------------------------------------------------------------------------------------------------

def _windows(n_in, n_out):
    """Output cell i averages inputs floor(i*In/Out) .. ceil((i+1)*In/Out)-1 (PyTorch's adaptive pooling)."""
    return [((i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)) for i in range(n_out)]


def _axis_average(x, dim, n_out):
    """Adaptive average along one axis (2 or 3) with fixed ops: a fixed-kernel average pooling when the
    size divides, otherwise L gathers (L = the longest window) of constant indices, each scaled by a
    constant per-output weight (1/window length, or 0 past the window's end), summed. Exact averages,
    O(L * output) work; ONNX exports it as Gather/Mul/Add."""
    n_in = int(x.shape[dim])
    if n_in == n_out:
        return x
    if n_in % n_out == 0:
        k = n_in // n_out
        kernel = (k, 1) if dim == 2 else (1, k)
        return F.avg_pool2d(x, kernel, stride=kernel)
    windows = _windows(n_in, n_out)
    longest = max(hi - lo for lo, hi in windows)
    shape = (1, 1, n_out, 1) if dim == 2 else (1, 1, 1, n_out)
    acc = None
    for step in range(longest):
        index = torch.tensor([min(lo + step, hi - 1) for lo, hi in windows], dtype=torch.long)
        weight = torch.tensor([1.0 / (hi - lo) if step < hi - lo else 0.0 for lo, hi in windows],
                              dtype=x.dtype).view(shape)
        term = torch.index_select(x, dim, index) * weight
        acc = term if acc is None else acc + term
    return acc


def adaptive_avg(x, size, exportable):
    oh, ow = size
    if not exportable:
        return F.adaptive_avg_pool2d(x, (oh, ow))
    return _axis_average(_axis_average(x, 2, oh), 3, ow)


def _resize(x, size):
    return F.interpolate(x, size=size, mode="bilinear", align_corners=True)


def _up2(x):
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=True)


class CbrSeq(nn.Module):
    """EdgeNets flavour of CBR (keys cbr.0/1/2)."""

    def __init__(self, cin, cout, k, groups=1, act=True):
        super().__init__()
        layers = [_conv(cin, cout, k, groups=groups), nn.BatchNorm2d(cout, eps=V2_EPS)]
        if act:
            layers.append(nn.PReLU(cout))
        self.cbr = nn.Sequential(*layers)

    def forward(self, x):
        return self.cbr(x)


class BrSeq(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.br = nn.Sequential(nn.BatchNorm2d(c, eps=V2_EPS), nn.PReLU(c))

    def forward(self, x):
        return self.br(x)


class Shuffle(nn.Module):
    def __init__(self, groups):
        super().__init__()
        self.groups = groups

    def forward(self, x):
        n, c, h, w = x.shape
        return x.view(n, self.groups, c // self.groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class EfficientPyrPool(nn.Module):
    SCALES = (2.0, 1.5, 1.0, 0.5, 0.1)

    def __init__(self, cin, proj, cout, last_layer_br=True, exportable=False):
        super().__init__()
        self.exportable = exportable
        self.stages = nn.ModuleList([nn.Conv2d(proj, proj, 3, padding=1, groups=proj, bias=False)
                                     for _ in self.SCALES])
        self.projection_layer = CbrSeq(cin, proj, 1)
        k = len(self.SCALES)
        self.merge_layer = nn.Sequential(BrSeq(k * proj), Shuffle(k), CbrSeq(k * proj, proj, 3, groups=proj),
                                         nn.Conv2d(proj, cout, 1, bias=not last_layer_br))
        self.br = BrSeq(cout) if last_layer_br else None

    def forward(self, x):
        p = self.projection_layer(x)
        h, w = int(p.shape[2]), int(p.shape[3])
        branches = []
        for s, stage in zip(self.SCALES, self.stages):
            hs = max(int(math.ceil(h * s)), 5)
            ws = max(int(math.ceil(w * s)), 5)
            if s < 1.0:
                t = _resize(stage(adaptive_avg(p, (hs, ws), self.exportable)), (h, w))
            elif s > 1.0:
                t = adaptive_avg(stage(_resize(p, (hs, ws))), (h, w), self.exportable)
            else:
                t = stage(p)
            branches.append(t)
        z = self.merge_layer(torch.cat(branches, 1))
        return self.br(z) if self.br is not None else z


class EfficientPWConv(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.wt_layer = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(cin, cout, 1, bias=False), nn.Sigmoid())
        self.expansion_layer = CbrSeq(cin, cout, 3, groups=math.gcd(cin, cout))

    def forward(self, x):
        return self.expansion_layer(x) * self.wt_layer(x)


class EspNetV2Seg(nn.Module):
    """EdgeNets ESPNetv2Segmentation: EESPNet levels 1-4 (base_net) and the pyramid-pool decoder."""

    def __init__(self, s=2.0, classes=20, dataset="city", exportable=False):
        super().__init__()
        c0, c1, c2, c3, _, _ = EESPNET_WIDTHS[s]
        b = 32 if dataset == "coco" else 16
        d1, d2, d3 = 4 * b, 3 * b, 2 * b
        proj = min(classes // 2, b)
        self.base_net = EespNetBase(s)
        self.bu_dec_l1 = EfficientPyrPool(c3, proj, d1, exportable=exportable)
        self.bu_dec_l2 = EfficientPyrPool(d1, proj, d2, exportable=exportable)
        self.bu_dec_l3 = EfficientPyrPool(d2, proj, d3, exportable=exportable)
        self.bu_dec_l4 = EfficientPyrPool(d3, proj, classes, last_layer_br=False, exportable=exportable)
        self.merge_enc_dec_l2 = EfficientPWConv(c2, d1)
        self.merge_enc_dec_l3 = EfficientPWConv(c1, d2)
        self.merge_enc_dec_l4 = EfficientPWConv(c0, d3)
        self.bu_br_l2 = nn.Sequential(nn.BatchNorm2d(d1, eps=V2_EPS), nn.PReLU(d1))
        self.bu_br_l3 = nn.Sequential(nn.BatchNorm2d(d2, eps=V2_EPS), nn.PReLU(d2))
        self.bu_br_l4 = nn.Sequential(nn.BatchNorm2d(d3, eps=V2_EPS), nn.PReLU(d3))

    def forward(self, x):
        e1, e2, e3, e4 = self.base_net.levels(x)
        d = self.bu_dec_l1(e4)
        d = self.bu_dec_l2(self.bu_br_l2(self.merge_enc_dec_l2(e3) + _up2(d)))
        d = self.bu_dec_l3(self.bu_br_l3(self.merge_enc_dec_l3(e2) + _up2(d)))
        d = self.bu_dec_l4(self.bu_br_l4(self.merge_enc_dec_l4(e1) + _up2(d)))
        return _resize(d, (int(x.shape[2]), int(x.shape[3])))


# --------------------------------------------------------------------------------------------------
# names, sizes, weights, MAC counting
# --------------------------------------------------------------------------------------------------

MODELS = {
    # name: (constructor, default (H, W), published conv MACs at that size, as the authors count)
    "espnet-p2-q8": (lambda ex: EspNet(20, 2, 8), (512, 1024), 4.434e9),
    "espnet-c-p2-q8": (lambda ex: EspNetC(20, 2, 8), (512, 1024), 3.470e9),
    "espnetv2-seg-s2.0-city": (lambda ex: EspNetV2Seg(2.0, 20, "city", exportable=ex), (512, 1024), 2700.36e6),
    "espnetv2-s1.0": (lambda ex: EespNet(1.0, 1000), (224, 224), 85.72e6),
}


def default_size(name):
    return MODELS[name][1]


def published_macs(name):
    return MODELS[name][2]


def randomize(model, seed=0):
    """Seeded random weights; BN statistics and affine near identity so activations stay O(1)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                w = m.weight
                fan_in = w.shape[1] * w[0, 0].numel() if not isinstance(m, nn.ConvTranspose2d) else w.shape[0]
                w.copy_((torch.rand(w.shape, generator=g) * 2 - 1) * math.sqrt(3.0 / max(fan_in, 1)))
                if m.bias is not None:
                    m.bias.copy_((torch.rand(m.bias.shape, generator=g) * 2 - 1) * 0.1)
            elif isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(0.5 + torch.rand(c, generator=g))
                m.bias.copy_((torch.rand(c, generator=g) * 2 - 1) * 0.1)
                m.running_mean.copy_((torch.rand(c, generator=g) * 2 - 1) * 0.1)
                m.running_var.copy_(0.5 + torch.rand(c, generator=g))
            elif isinstance(m, nn.PReLU):
                m.weight.copy_(0.1 + 0.3 * torch.rand(m.weight.shape, generator=g))
    return model


def build(name, exportable=False, seed=0):
    if name not in MODELS:
        raise SystemExit(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    model = MODELS[name][0](exportable)
    return randomize(model, seed).eval()


def conv_macs(model, h, w):
    """Counts with forward hooks on one 1x3xHxW pass. Returns a dict:
    conv   multiply-accumulates of ordinary convolutions (the authors' FLOPs, the CLI's MACs)
    bias   output elements of convolutions with a bias (EdgeNets' counter adds 1/2 of this)
    transposed, linear   the MACs the authors leave out."""
    counts = {"conv": 0, "bias": 0, "transposed": 0, "linear": 0}

    def hook(m, inputs, out):
        if isinstance(m, nn.Conv2d):
            counts["conv"] += out.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
            if m.bias is not None:
                counts["bias"] += out.numel()
        elif isinstance(m, nn.ConvTranspose2d):
            counts["transposed"] += inputs[0].numel() * (m.out_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
        elif isinstance(m, nn.Linear):
            counts["linear"] += m.in_features * m.out_features

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, h, w))
    finally:
        for handle in handles:
            handle.remove()
    return counts


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())


if __name__ == "__main__":
    import sys

    names = sys.argv[1:] or list(MODELS)
    for name in names:
        h, w = default_size(name)
        model = build(name)
        c = conv_macs(model, h, w)
        pub = published_macs(name)
        print(f"{name:24s} {h}x{w}: conv MACs {c['conv'] / 1e6:10.2f} M (+bias outputs {c['bias'] / 1e6:.2f} M; "
              f"published {pub / 1e6:.2f} M) transposed {c['transposed'] / 1e6:.1f} M, linear {c['linear'] / 1e6:.2f} M, "
              f"parameters {parameter_count(model):,}")
