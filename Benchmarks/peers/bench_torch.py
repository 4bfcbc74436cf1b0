"""Time a PyTorch peer in several setups and report the best one.

usage: /usr/bin/python3 bench_torch.py MODEL H W THREADS RUNS WARMUP [--setups a,b,...]

Setups (each under torch.inference_mode, torch.set_num_threads(THREADS)):
  eager-nchw        the nn.Module as written, NCHW tensors
  eager-cl          the same with weights and input in channels_last
  ts-frozen-nchw    torch.jit.trace + torch.jit.freeze (BN folded into the convolutions), NCHW
  ts-frozen-cl      the same traced and frozen in channels_last
  ts-optimized-nchw torch.jit.optimize_for_inference of the frozen trace (oneDNN layouts), if it works

Prints one JSON line per setup, then one with "best": true (the lowest median). Timing lines go to
stdout; progress and warnings to stderr.
"""

import argparse
import json
import os
import statistics
import sys
import time
import warnings

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402

ALL_SETUPS = ["eager-nchw", "eager-cl", "ts-frozen-nchw", "ts-frozen-cl", "ts-optimized-nchw"]


def prepare(name, setup, x):
    # oneDNN's adaptive pooling takes only sizes that divide; the exportable variant writes the
    # EdgeNets head's non-dividing poolings as constant matrix products (the same averages).
    model = models.build(name, exportable=setup.startswith("ts-optimized"))
    channels_last = setup.endswith("-cl")
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    if setup.startswith("eager"):
        return model, x
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")   # tracer warnings about shape-derived constants are expected
        traced = torch.jit.trace(model, x)
        frozen = torch.jit.freeze(traced.eval())
        if setup.startswith("ts-optimized"):
            frozen = torch.jit.optimize_for_inference(frozen)
    return frozen, x


def time_setup(fn, x, runs, warmup):
    with torch.inference_mode():
        for _ in range(warmup):
            fn(x)
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            fn(x)
            times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times), min(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("height", type=int)
    ap.add_argument("width", type=int)
    ap.add_argument("threads", type=int)
    ap.add_argument("runs", type=int)
    ap.add_argument("warmup", type=int)
    ap.add_argument("--setups", default=",".join(ALL_SETUPS))
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(2)
    x = torch.rand(1, 3, args.height, args.width) * 2 - 1
    macs = models.conv_macs(models.build(args.model), args.height, args.width)

    with torch.inference_mode():
        reference = models.build(args.model)(x)
    scale = max(1.0, float(reference.abs().max()))

    results = []
    for setup in args.setups.split(","):
        try:
            fn, xs = prepare(args.model, setup, x)
            with torch.inference_mode():
                y = fn(xs)
                y = y.to_dense() if y.is_mkldnn else y
                error = float((y.float() - reference).abs().max())
            if not error <= 1e-3 * scale:
                raise RuntimeError(f"output differs from eager NCHW by {error:g} (scale {scale:g})")
            median, best = time_setup(fn, xs, args.runs, args.warmup)
        except Exception as e:  # a setup this PyTorch cannot do is skipped, not fatal
            print(f"pytorch {setup}: skipped ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})",
                  file=sys.stderr)
            continue
        row = {"peer": "pytorch", "setup": setup, "model": args.model, "height": args.height, "width": args.width,
               "threads": args.threads, "median_ms": round(median, 3), "min_ms": round(best, 3),
               "runs": args.runs, "warmup": args.warmup, "max_abs_diff_vs_eager": float(f"{error:.3g}"), "conv_macs": macs["conv"], "torch": torch.__version__}
        results.append(row)
        print(json.dumps(row), flush=True)
        print(f"pytorch {setup:18s} median {median:9.2f} ms  min {best:9.2f} ms", file=sys.stderr)

    if not results:
        raise SystemExit("no PyTorch setup ran")
    best_row = dict(min(results, key=lambda r: r["median_ms"]), best=True)
    print(json.dumps(best_row), flush=True)


if __name__ == "__main__":
    main()
