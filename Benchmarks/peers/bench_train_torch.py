"""Time PyTorch training steps of a peer network (eager; NCHW and channels_last, the better reported).

usage: /usr/bin/python3 bench_train_torch.py MODEL H W BATCH THREADS RUNS WARMUP

One step is what `espnet bench --train` times: forward in training mode (BatchNorm on batch statistics),
cross-entropy (per pixel for segmentation, per image for the classifier), backward, and an SGD update
(momentum 0.9, weight decay 4e-5). Random weights (models.randomize), input and labels, seeded.
Prints one JSON line per layout, then one with "best": true. Progress on stderr.
"""
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402


def main():
    name, h, w, batch, threads, runs, warmup = sys.argv[1], *map(int, sys.argv[2:8])
    torch.set_num_threads(threads)
    results = []
    for layout in ("nchw", "cl"):
        torch.manual_seed(0)
        model = models.build(name, seed=0).train()
        x = torch.rand(batch, 3, h, w) * 2 - 1
        fmt = torch.channels_last if layout == "cl" else torch.contiguous_format
        model = model.to(memory_format=fmt)
        x = x.contiguous(memory_format=fmt)
        with torch.no_grad():
            out = model(x)
        classes = out.shape[1]
        target = torch.randint(0, classes, (batch,) if out.dim() == 2 else (batch, out.shape[2], out.shape[3]))
        opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=4e-5)

        def step():
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), target)
            loss.backward()
            opt.step()
            return loss.item()

        for _ in range(warmup):
            step()
        times = []
        for i in range(runs):
            t = time.perf_counter()
            step()
            times.append((time.perf_counter() - t) * 1e3)
            print(f"\rtorch {layout} step {i + 1}/{runs}: {times[-1]:.0f} ms   ", end="", file=sys.stderr)
        print(file=sys.stderr)
        r = {"model": name, "runner": "pytorch", "setup": f"eager-train-{layout}", "height": h, "width": w, "batch": batch,
             "threads": threads, "median_ms": statistics.median(times), "min_ms": min(times), "runs": runs, "warmup": warmup,
             "torch": torch.__version__}
        print(json.dumps(r))
        results.append(r)
    best = min(results, key=lambda r: r["median_ms"])
    print(json.dumps(dict(best, best=True)))


if __name__ == "__main__":
    main()
