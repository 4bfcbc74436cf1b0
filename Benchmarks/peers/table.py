"""Markdown table from Benchmarks/out/results.jsonl (written by Benchmarks/run.sh).

usage: python3 table.py [RESULTS.jsonl]

Each line of the file is one JSON object tagged by run.sh with "kind" (meta, peak, ours, pytorch,
onnx-export, onnx-check, onnxruntime, error), "name" (the model name) and "run_threads".
"""

import json
import sys


def median(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def fmt_macs(macs):
    return f"{macs / 1e9:.2f} G" if macs >= 1e9 else f"{macs / 1e6:.1f} M"


def fmt_ms(ms):
    return "n/a" if ms is None else (f"{ms:.1f}" if ms >= 10 else f"{ms:.2f}")


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "out/results.jsonl"
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    pass

    keys = []  # (name, threads) in order of first appearance
    for r in rows:
        runner = r.get("what") if r.get("kind") == "error" else r.get("kind")
        if runner in ("ours", "pytorch", "onnxruntime") and "name" in r:
            key = (r["name"], int(r["run_threads"]))
            if key not in keys:
                keys.append(key)

    def pick(kind, key, pred=lambda r: True):
        """The runner's record for this row; with several rounds (ROUNDS > 1), the median of the rounds' medians
        (the rounds alternate ours / PyTorch / ORT, so a slow spell of the machine hits every runner alike)."""
        found = [r for r in rows if r.get("kind") == kind and r.get("name") == key[0]
                 and int(r.get("run_threads", -1)) == key[1] and pred(r)]
        if not found:
            return None
        if len(found) == 1:
            return found[0]
        ordered = sorted(found, key=lambda r: r["median_ms"])
        combined = dict(ordered[(len(ordered) - 1) // 2])
        combined["median_ms"] = median([r["median_ms"] for r in found])
        if "gflops" in combined and combined.get("macs"):
            combined["gflops"] = 2 * combined["macs"] / (combined["median_ms"] * 1e6)
        combined["rounds"] = len(found)
        return combined

    def peak(threads):
        r = next((r for r in reversed(rows) if r.get("kind") == "peak" and int(r.get("run_threads", -1)) == threads), None)
        if r is None or "peak_gflops_per_thread" not in r:
            return None
        # The highest capacity measured for this many threads, so the share is not overstated.
        return max(r["peak_gflops_per_thread"] * threads, r.get("peak_gflops_all_threads", 0.0))

    print("| model @ HxW (MACs) | threads | ours ms | PyTorch ms (setup) | ORT ms | ours vs faster peer | our GFLOP/s | share of measured peak |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for key in keys:
        name, threads = key
        ours = pick("ours", key)
        torch = pick("pytorch", key, lambda r: r.get("best"))
        ort = pick("onnxruntime", key, lambda r: "median_ms" in r)
        size = next((f"{r['height']}x{r['width']}" for r in (ours, torch, ort) if r and "height" in r), "?")
        macs = ours["macs"] if ours else (torch["conv_macs"] if torch else None)
        label = f"{name} @ {size}" + (f" ({fmt_macs(macs)})" if macs else "")
        ours_ms = ours["median_ms"] if ours else None
        torch_cell = f"{fmt_ms(torch['median_ms'])} ({torch['setup']})" if torch else "n/a"
        ort_ms = ort["median_ms"] if ort else None
        check = next((r for r in reversed(rows) if r.get("kind") == "onnx-check" and r.get("name") == name), None)
        ort_cell = "check failed" if check and check.get("check") != "ok" else fmt_ms(ort_ms)
        peers = [(ms, who) for ms, who in ((torch and torch["median_ms"], "PyTorch"), (ort_ms, "ORT")) if ms]
        if ours_ms and peers:
            ms, who = min(peers)
            ratio = f"{ms / ours_ms:.2f} (vs {who})"
        else:
            ratio = "n/a"
        gflops = ours["gflops"] if ours else None
        p = peak(threads)
        share = f"{100 * gflops / p:.0f}% of {p:.0f}" if gflops and p else "n/a"
        print(f"| {label} | {threads} | {fmt_ms(ours_ms) if ours else 'failed'} | {torch_cell} | {ort_cell} | "
              f"{ratio} | {'n/a' if gflops is None else f'{gflops:.1f}'} | {share} |")
    rounds = max((r.get("rounds", 1) for r in (pick(k, key) for key in keys for k in ("ours",)) if r), default=1)
    print()
    print((f"Each row: {rounds} rounds alternating ours / PyTorch / ORT; the median of the rounds' medians. " if rounds > 1 else "")
          + "Medians in ms. Ratio = faster peer's median / ours (> 1: ours is faster). MACs: convolution "
          "multiply-accumulates as the CLI counts them (the authors' convention). Share of peak: our GFLOP/s "
          "over the FMA peak `espnet bench --peak` measured in the same run for that many threads (GFLOP/s).")


if __name__ == "__main__":
    main()
