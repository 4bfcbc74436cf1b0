"""Writes Tests/Fixtures/training/tiny_seg_step.pth and tiny_cls_step.pth: one training step of a small segmentation network in
PyTorch autograd, in float64 (so the fixture is exact to ~1e-15 and what the C# test measures is its own error).

The network uses every block kind of the segmentation zoo: CBR, input reinforcement (average-pooled image),
BR, strided and plain ESP, a DownSampler with its image reinforcement, EESP, EfficientPWConv (sigmoid gate),
EfficientPyrPool (adaptive pooling up and down, aligned-corners resizing, channel shuffle), a 1x1 classifier,
a transposed convolution and a final resize. It is built from Benchmarks/peers/models.py (written from the
published architectures; checked there against the authors' weights). Tests/Training/TrainingFixtureTests.cs
declares the same network with attributes. The second network (a classifier: CBR, DownSampler, the older
ESPNetv2 head's PSP pooling, EESP, global pooling, a linear layer; batch 3, 10 classes) covers the rest.

Saved, in one zip .pth (a dict of float64 tensors):
  model.<key>     the parameters and BN statistics before the step (seeded; PyTorch's key names)
  input, labels   a batch of 2 (labels: class IDs with some 255 = ignore), class weights `weights`
  loss            weighted per-pixel cross-entropy, ignore index 255, mean over labelled pixels
  grad.<key>      d loss / d parameter
  running.<key>   BN running mean / var after the training-mode forward (momentum 0.1)
  sgd.<key>       parameters after one SGD step (lr 0.1, momentum 0.9, Nesterov off, weight decay 1e-4)
  adam.<key>      parameters after one Adam step from the same start (lr 1e-3, weight decay 1e-4)

Run with Debian's PyTorch:  /usr/bin/python3 Tests/Fixtures/scripts/make_training_fixture.py
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "Benchmarks", "peers"))
import models  # noqa: E402
from models import BnAct, ConvBnAct, DownSampler, Eesp, EfficientPWConv, EfficientPyrPool, EspBlock  # noqa: E402

SEED = 7
H, W, BATCH, CLASSES = 32, 64, 2, 5


class PspPool(nn.Module):
    """The older ESPNetv2 head's PSP module: x and `levels` cumulatively 3x3/2-pooled depth-wise 3x3 branches,
    resized back (aligned corners), concatenated, projected by a 1x1 CBR."""

    def __init__(self, c, cout, levels):
        super().__init__()
        self.stages = nn.ModuleList([nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False) for _ in range(levels)])
        self.project = ConvBnAct((levels + 1) * c, cout, 1)

    def forward(self, x):
        h, w = x.shape[2], x.shape[3]
        parts, pooled = [x], x
        for stage in self.stages:
            pooled = F.avg_pool2d(pooled, 3, 2, 1, count_include_pad=True)
            parts.append(F.interpolate(stage(pooled), size=(h, w), mode="bilinear", align_corners=True))
        return self.project(torch.cat(parts, 1))


class TinyCls(nn.Module):
    def __init__(self):
        super().__init__()
        self.level1 = ConvBnAct(3, 16, 3, 2)
        self.down = DownSampler(16, 48, k=4, r_lim=9, reinf=True)
        self.psp = PspPool(48, 32, 2)
        self.eesp = Eesp(32, 32, k=4, r_lim=7)
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        e = self.eesp(self.psp(self.down(self.level1(x), x)))
        return self.fc(F.adaptive_avg_pool2d(e, 1).flatten(1))


class TinySeg(nn.Module):
    def __init__(self):
        super().__init__()
        self.level1 = ConvBnAct(3, 16, 3, 2, eps=1e-3)
        self.b1 = BnAct(19, 1e-3)
        self.level2_0 = EspBlock(19, 32, stride=2)
        self.level2 = EspBlock(32, 32)
        self.down = DownSampler(32, 64, k=4, r_lim=9, reinf=True)
        self.eesp = Eesp(64, 64, k=4, r_lim=7)
        self.gate = EfficientPWConv(64, 32)
        self.pyr = EfficientPyrPool(32, 4, 8)
        self.classifier = nn.Conv2d(8, CLASSES, 1, bias=False)
        self.up = nn.ConvTranspose2d(CLASSES, CLASSES, 2, stride=2, bias=False)

    def forward(self, x):
        f0 = self.level1(x)
        b1 = self.b1(torch.cat([f0, F.avg_pool2d(x, 3, 2, 1, count_include_pad=True)], 1))
        l2 = self.level2(self.level2_0(b1))
        e = self.eesp(self.down(l2, x))
        p = self.pyr(self.gate(e))
        u = self.up(self.classifier(p))
        return F.interpolate(u, size=(H, W), mode="bilinear", align_corners=True)


def step(model, x, loss_of, name):
    """One training step of `model` on `x`; saves the fixture `name`."""
    start = {k: v.clone() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    loss, extra = loss_of(model(x))
    loss.backward()
    saved = {"model." + k: v for k, v in start.items()}
    saved.update({"input": x, "loss": loss.detach().reshape(1)})
    saved.update(extra)
    params = dict(model.named_parameters())
    saved.update({"grad." + k: (p.grad if p.grad is not None else torch.zeros_like(p)).detach().clone() for k, p in params.items()})
    saved.update({"running." + k: v.clone() for k, v in model.state_dict().items() if k.endswith(("running_mean", "running_var"))})

    for opt, make in (("sgd", lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-4)),
                      ("adam", lambda ps: torch.optim.Adam(ps, lr=1e-3, weight_decay=1e-4))):
        with torch.no_grad():
            for k, p in params.items():
                p.copy_(start[k])
        make(list(params.values())).step()
        saved.update({f"{opt}.{k}": p.detach().clone() for k, p in params.items()})

    path = os.path.join(HERE, "..", "training", name)
    torch.save(saved, path)
    print(f"wrote {os.path.normpath(path)}: loss {loss.item():.6f}, {len(params)} parameter tensors, "
          f"{sum(p.numel() for p in params.values())} parameters (torch {torch.__version__}, seed {SEED})", file=sys.stderr)


def main():
    torch.manual_seed(SEED)
    g = torch.Generator().manual_seed(SEED + 1)
    x = (torch.rand(BATCH, 3, H, W, generator=g, dtype=torch.float64) * 2 - 1) * 2
    labels = torch.randint(0, CLASSES, (BATCH, H, W), generator=g)
    labels[torch.rand(BATCH, H, W, generator=g) < 0.1] = 255
    weights = (0.5 + torch.rand(CLASSES, generator=g)).double()
    seg = models.randomize(TinySeg(), seed=SEED).double().train()
    step(seg, x, lambda out: (F.cross_entropy(out, labels, weight=weights, ignore_index=255),
                              {"labels": labels.double(), "weights": weights}), "tiny_seg_step.pth")

    xc = (torch.rand(3, 3, 32, 32, generator=g, dtype=torch.float64) * 2 - 1) * 2
    targets = torch.randint(0, 10, (3,), generator=g)
    cls = models.randomize(TinyCls(), seed=SEED + 2).double().train()
    step(cls, xc, lambda out: (F.cross_entropy(out, targets), {"labels": targets.double()}), "tiny_cls_step.pth")


if __name__ == "__main__":
    main()
