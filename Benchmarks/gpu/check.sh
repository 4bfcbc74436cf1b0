#!/usr/bin/env bash
# The GPU check (issue 8), run on the device machine from the repository root after Benchmarks/gpu/prepare.sh
# (its output carried): numerics of the CUDA kernels against the CPU path on the authors' weights, then the
# kernels' time (CUDA events) against PyTorch on the same GPU (eager, CUDA graphs, torch.compile); then a training
# step (the first step's loss on the GPU against the CPU's, and the step's time against PyTorch eager). Two tables.
#   RUNS [50]  WARMUP [10]  PYTHON [python3]  MODELS ["espnet-p2-q8 espnetv2-seg-s2.0-city"]  TRAIN_BATCH [2]  TRAIN_RUNS [10]
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ESPNET="$HERE/out/espnet/espnet"; W="$HERE/out/weights"
RUNS="${RUNS:-50}"; WARMUP="${WARMUP:-10}"; PYTHON="${PYTHON:-python3}"
MODELS="${MODELS:-espnet-p2-q8 espnetv2-seg-s2.0-city}"; TRAIN_BATCH="${TRAIN_BATCH:-2}"; TRAIN_RUNS="${TRAIN_RUNS:-10}"
TMP="$(mktemp -d)"
[ -x "$ESPNET" ] || { echo "check.sh: no $ESPNET: run Benchmarks/gpu/prepare.sh where .NET is, and carry Benchmarks/gpu/out" >&2; exit 1; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
weights_of() { case "$1" in espnet-p2-q8) echo "$W/espnet_p_2_q_8.pth";; *) echo "$W/espnetv2_s_2.0_city_1024x512.pth";; esac; }

json_field() { "$PYTHON" -c "import json,sys; print(json.loads([l for l in sys.stdin if l.startswith('{')][-1])['$1'])"; }

echo "| model @ 512x1024 | max rel. diff CUDA vs CPU | ours (ms, kernels) | ours, no CUDA graph (ms) | PyTorch eager (ms) | PyTorch CUDA graph (ms) | torch.compile (ms) | ours vs eager | ours vs best |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for model in $MODELS; do
    w="$(weights_of "$model")"
    "$ESPNET" run --model "$model" --weights "$w" --input synthetic --output "$TMP/$model.cpu.f32" >&2
    "$ESPNET" run --model "$model" --weights "$w" --input synthetic --output "$TMP/$model.gpu.f32" --device cuda >&2
    diff="$("$PYTHON" - "$TMP/$model.cpu.f32" "$TMP/$model.gpu.f32" <<'PY'
import sys, numpy as np
a = np.fromfile(sys.argv[1], dtype="<f4"); b = np.fromfile(sys.argv[2], dtype="<f4")
print(f"{float(np.max(np.abs(a - b) / np.maximum(1, np.abs(a)))):.2e}")
PY
)"
    ours="$("$ESPNET" bench --model "$model" --device cuda --runs "$RUNS" --warmup "$WARMUP" --json 2>/dev/null | json_field median_ms)"
    plain="$(ESPNET_CUDA_GRAPHS=0 "$ESPNET" bench --model "$model" --device cuda --runs "$RUNS" --warmup "$WARMUP" --json 2>/dev/null | json_field median_ms)"
    peers="$("$PYTHON" "$HERE/bench_torch_cuda.py" "$model" 512 1024 "$RUNS" "$WARMUP" | tail -n 1)"
    "$PYTHON" - "$model" "$diff" "$ours" "$plain" "$peers" <<'PY'
import json, sys
model, diff, ours, plain, peers = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4], json.loads(sys.argv[5])
e, g, c = peers.get("eager"), peers.get("graph"), peers.get("compile")
best = min(v for v in (e, g, c) if v is not None)
f = lambda v: f"{v:.3f}" if v is not None else "n/a"
print(f"| {model} | {diff} | {ours:.3f} | {plain} | {f(e)} | {f(g)} | {f(c)} | {e / ours:.2f}x | {best / ours:.2f}x |")
PY
done

echo
echo "| model @ 512x1024, batch $TRAIN_BATCH | first loss CPU | first loss CUDA | ours step (ms) | PyTorch eager (ms) | eager channels-last (ms) | ours vs best eager |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for model in $MODELS; do
    common=(bench --model "$model" --height 512 --width 1024 --train --batch "$TRAIN_BATCH" --json)
    cpu="$("$ESPNET" "${common[@]}" --runs 1 --warmup 0 2>/dev/null | json_field first_loss)"
    gpu_json="$("$ESPNET" "${common[@]}" --device cuda --runs "$TRAIN_RUNS" --warmup 2 2>/dev/null | grep '^{' | tail -n 1)"
    peers="$("$PYTHON" "$HERE/bench_torch_cuda.py" "$model" 512 1024 "$TRAIN_RUNS" 2 "$TRAIN_BATCH" | tail -n 1)"
    "$PYTHON" - "$model" "$cpu" "$gpu_json" "$peers" <<'PY'
import json, sys
model, cpu, ours, peers = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
best = min(peers["eager"], peers["eager_cl"])
print(f"| {model} | {cpu} | {ours['first_loss']} | {ours['median_ms']:.2f} | {peers['eager']:.2f} | {peers['eager_cl']:.2f} | {best / ours['median_ms']:.2f}x |")
PY
done
