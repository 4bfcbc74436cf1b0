"""PyTorch on the GPU for the GPU check: the peer networks of Benchmarks/peers/models.py, batch 1, float32,
timed with CUDA events (median of RUNS after WARMUP): eager, a captured CUDA graph, and torch.compile (default
mode) where it works. Prints one JSON line: {"eager": ms, "graph": ms, "compile": ms}.
With TRAIN_BATCH, a training step instead (what `espnet bench --train` times: forward in training mode,
cross-entropy, backward, SGD with momentum 0.9 and weight decay 4e-5), eager, NCHW and channels-last:
{"eager": ms, "eager_cl": ms}.

usage: python3 bench_torch_cuda.py MODEL H W RUNS WARMUP [TRAIN_BATCH]
"""
import json
import os
import statistics
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers"))
import models  # noqa: E402


def timed(fn, runs, warmup):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(runs):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def train(name, h, w, runs, warmup, batch):
    import torch.nn.functional as F
    result = {}
    for layout, fmt in (("eager", torch.contiguous_format), ("eager_cl", torch.channels_last)):
        torch.manual_seed(0)
        model = models.build(name, seed=0).cuda().train().to(memory_format=fmt)
        x = (torch.rand(batch, 3, h, w, device="cuda") * 2 - 1).contiguous(memory_format=fmt)
        with torch.no_grad():
            out = model(x)
        target = torch.randint(0, out.shape[1], (batch,) if out.dim() == 2 else (batch, out.shape[2], out.shape[3]), device="cuda")
        opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=4e-5)

        def step():
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), target).backward()
            opt.step()

        result[layout] = timed(step, runs, warmup)
    print(json.dumps(result))


def main():
    name, h, w, runs, warmup = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    torch.backends.cudnn.benchmark = True
    if len(sys.argv) > 6:
        train(name, h, w, runs, warmup, int(sys.argv[6]))
        return
    model = models.build(name, seed=0).cuda().eval()
    x = torch.rand(1, 3, h, w, device="cuda") * 2 - 1
    result = {}
    with torch.inference_mode():
        result["eager"] = timed(lambda: model(x), runs, warmup)
        try:
            static_x = x.clone()
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):
                for _ in range(3):
                    model(static_x)
            torch.cuda.current_stream().wait_stream(stream)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                model(static_x)
            result["graph"] = timed(graph.replay, runs, warmup)
        except Exception as e:  # noqa: BLE001
            print(f"CUDA graph failed: {e}", file=sys.stderr)
            result["graph"] = None
    try:
        compiled = torch.compile(model)
        with torch.inference_mode():
            result["compile"] = timed(lambda: compiled(x), runs, max(warmup, 3))
    except Exception as e:  # noqa: BLE001
        print(f"torch.compile failed: {e}", file=sys.stderr)
        result["compile"] = None
    print(json.dumps(result))


if __name__ == "__main__":
    main()
