"""Writes Tests/Fixtures/training/tiny_seg_step.pth: one training step of a small segmentation network in
PyTorch autograd, in float64 (so the fixture is exact to ~1e-15 and what the C# test measures is its own error).

The network uses every block kind of the segmentation zoo: CBR, input reinforcement (average-pooled image),
BR, strided and plain ESP, a DownSampler with its image reinforcement, EESP, EfficientPWConv (sigmoid gate),
EfficientPyrPool (adaptive pooling up and down, aligned-corners resizing, channel shuffle), a 1x1 classifier,
a transposed convolution and a final resize. It is built from Benchmarks/peers/models.py (written from the
published architectures; checked there against the authors' weights). Tests/Training/TrainingFixtureTests.cs
declares the same network with attributes.

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


def main():
    torch.manual_seed(SEED)
    model = models.randomize(TinySeg(), seed=SEED).double().train()
    g = torch.Generator().manual_seed(SEED + 1)
    x = (torch.rand(BATCH, 3, H, W, generator=g, dtype=torch.float64) * 2 - 1) * 2
    labels = torch.randint(0, CLASSES, (BATCH, H, W), generator=g)
    labels[torch.rand(BATCH, H, W, generator=g) < 0.1] = 255
    weights = (0.5 + torch.rand(CLASSES, generator=g)).double()

    start = {k: v.clone() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    out = model(x)
    loss = F.cross_entropy(out, labels, weight=weights, ignore_index=255)
    loss.backward()
    saved = {"model." + k: v for k, v in start.items()}
    saved.update({"input": x, "labels": labels.double(), "weights": weights, "loss": loss.detach().reshape(1)})
    params = dict(model.named_parameters())
    saved.update({"grad." + k: (p.grad if p.grad is not None else torch.zeros_like(p)).detach().clone() for k, p in params.items()})
    saved.update({"running." + k: v.clone() for k, v in model.state_dict().items() if k.endswith(("running_mean", "running_var"))})

    for name, make in (("sgd", lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-4)),
                       ("adam", lambda ps: torch.optim.Adam(ps, lr=1e-3, weight_decay=1e-4))):
        with torch.no_grad():
            for k, p in params.items():
                p.copy_(start[k])
        make(list(params.values())).step()
        saved.update({f"{name}.{k}": p.detach().clone() for k, p in params.items()})

    path = os.path.join(HERE, "..", "training", "tiny_seg_step.pth")
    torch.save(saved, path)
    print(f"wrote {os.path.normpath(path)}: loss {loss.item():.6f}, {len(params)} parameter tensors, "
          f"{sum(p.numel() for p in params.values())} parameters (torch {torch.__version__}, seed {SEED})", file=sys.stderr)


if __name__ == "__main__":
    main()
