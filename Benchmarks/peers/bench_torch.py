"""Time a PyTorch peer in several setups and report the best one.

usage: /usr/bin/python3 bench_torch.py MODEL H W THREADS RUNS WARMUP [--setups a,b,...] [--screen N]

Setups (each under torch.inference_mode, torch.set_num_threads(THREADS)):
  eager-nchw        the nn.Module as written, NCHW tensors
  eager-cl          the same with weights and input in channels_last
  ts-frozen-nchw    torch.jit.trace + torch.jit.freeze (BN folded into the convolutions), NCHW
  ts-frozen-cl      the same traced and frozen in channels_last
  ts-optimized-nchw torch.jit.optimize_for_inference of the frozen trace (oneDNN layouts), if it works

Prints one JSON line per setup, then one with "best": true (the lowest median; with --screen N the
setups are first compared on N runs each, by their best time, and only the fastest is then timed with
RUNS/WARMUP). Every
setup's output is first checked against the eager NCHW output (max |diff| <= 1e-3 * max(1, |y|));
one that differs, or fails, is skipped. JSON goes to stdout; progress and warnings to stderr.
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
    ap.add_argument("--screen", type=int, default=0, metavar="N",
                    help="time every setup with 1 warm-up + N runs only, then the fastest with RUNS/WARMUP "
                         "(0, the default: every setup with RUNS/WARMUP)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(2)
    x = torch.rand(1, 3, args.height, args.width) * 2 - 1
    macs = models.conv_macs(models.build(args.model), args.height, args.width)

    with torch.inference_mode():
        reference = models.build(args.model)(x)
    scale = max(1.0, float(reference.abs().max()))

    def row(setup, median, best, runs, warmup, error, **extra):
        return {"peer": "pytorch", "setup": setup, "model": args.model, "height": args.height, "width": args.width,
                "threads": args.threads, "median_ms": round(median, 3), "min_ms": round(best, 3), "runs": runs,
                "warmup": warmup, "max_abs_diff_vs_eager": float(f"{error:.3g}"), "conv_macs": macs["conv"],
                "torch": torch.__version__, **extra}

    runs, warmup = (args.screen, 1) if args.screen > 0 else (args.runs, args.warmup)
    results, prepared = [], {}
    for setup in args.setups.split(","):
        try:
            fn, xs = prepare(args.model, setup, x)
            with torch.inference_mode():
                y = fn(xs)
                y = y.to_dense() if y.is_mkldnn else y
                error = float((y.float() - reference).abs().max())
            if not error <= 1e-3 * scale:
                raise RuntimeError(f"output differs from eager NCHW by {error:g} (scale {scale:g})")
            median, best = time_setup(fn, xs, runs, warmup)
        except Exception as e:  # a setup this PyTorch cannot do is skipped, not fatal
            first = str(e).strip().splitlines()
            print(f"pytorch {setup}: skipped ({type(e).__name__}: {first[-1] if first else ''})", file=sys.stderr)
            continue
        prepared[setup] = (fn, xs, error)
        results.append(row(setup, median, best, runs, warmup, error, screening=args.screen > 0))
        print(json.dumps(results[-1]), flush=True)
        print(f"pytorch {setup:18s} median {median:9.2f} ms  min {best:9.2f} ms"
              + ("  (screening)" if args.screen > 0 else ""), file=sys.stderr)

    if not results:
        raise SystemExit("no PyTorch setup ran")
    # Screening picks by the best time (robust to a run disturbed by another process); full timing by median.
    best_row = min(results, key=lambda r: r["min_ms"] if args.screen > 0 else r["median_ms"])
    if args.screen > 0:
        fn, xs, error = prepared[best_row["setup"]]
        median, best = time_setup(fn, xs, args.runs, args.warmup)
        best_row = row(best_row["setup"], median, best, args.runs, args.warmup, error)
        print(f"pytorch {best_row['setup']:18s} median {median:9.2f} ms  min {best:9.2f} ms  (best setup, timed)",
              file=sys.stderr)
    print(json.dumps(dict(best_row, best=True)), flush=True)


if __name__ == "__main__":
    main()
