#!/usr/bin/env bash
# Training-step benchmark: Espnet.Compiled (`espnet bench --train`) against PyTorch CPU (eager, best of NCHW and
# channels_last) on the same networks, in one run, alternating. Prints a markdown table; JSON lines go to
# Benchmarks/out/train-results.jsonl.
#
# First:  dotnet build Cli -c Release;  apt-get install -y python3-torch libopenblas0-pthread
# Environment: RUNS [5] WARMUP [2] THREADS [2] ROUNDS [1]
#   CONFIGS ["espnet-c-p2-q8:256x512:4 espnetv2-s1.0:224x224:8"]   model:HxW:batch
#   ESPNET [Cli/bin/Release/net10.0/espnet.dll]  PYTHON [/usr/bin/python3]  OUT [Benchmarks/out]
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
ESPNET="${ESPNET:-$ROOT/Cli/bin/Release/net10.0/espnet.dll}"
PYTHON="${PYTHON:-/usr/bin/python3}"
RUNS="${RUNS:-5}"; WARMUP="${WARMUP:-2}"; THREADS="${THREADS:-2}"; ROUNDS="${ROUNDS:-1}"
CONFIGS="${CONFIGS:-espnet-c-p2-q8:256x512:4 espnetv2-s1.0:224x224:8}"
OUT="${OUT:-$HERE/out}"
RESULTS="$OUT/train-results.jsonl"
[ -f "$ESPNET" ] || { echo "train.sh: no CLI at $ESPNET: dotnet build Cli -c Release" >&2; exit 1; }
mkdir -p "$OUT"; : > "$RESULTS"

echo "| model @ HxW, batch | threads | ours (ms/step) | PyTorch (ms/step) | ours vs PyTorch | ours allocated/step |"
echo "|---|---:|---:|---:|---:|---:|"
for config in $CONFIGS; do
    IFS=: read -r model size batch <<< "$config"
    h="${size%x*}"; w="${size#*x}"
    ours=(); theirs=(); alloc=""
    for round in $(seq "$ROUNDS"); do
        line="$(dotnet "$ESPNET" bench --model "$model" --height "$h" --width "$w" --train --batch "$batch" \
                --threads "$THREADS" --runs "$RUNS" --warmup "$WARMUP" --json 2>/dev/null | grep '^{' | tail -n 1)"
        [ -n "$line" ] && { echo "$line" >> "$RESULTS"; ours+=("$(echo "$line" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["median_ms"])')");
                            alloc="$(echo "$line" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["allocated_bytes_per_step"])')"; }
        line="$("$PYTHON" "$HERE/peers/bench_train_torch.py" "$model" "$h" "$w" "$batch" "$THREADS" "$RUNS" "$WARMUP" 2>/dev/null | grep '"best": true' | tail -n 1)"
        [ -n "$line" ] && { echo "$line" >> "$RESULTS"; theirs+=("$(echo "$line" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["median_ms"])')"); }
    done
    "$PYTHON" - "$model" "$size" "$batch" "$THREADS" "$alloc" "${ours[*]:-}" "${theirs[*]:-}" <<'PY'
import statistics, sys
model, size, batch, threads, alloc, ours, theirs = sys.argv[1:8]
o = [float(v) for v in ours.split()]; t = [float(v) for v in theirs.split()]
mo = statistics.median(o) if o else None; mt = statistics.median(t) if t else None
ratio = f"{mt / mo:.2f}x" if mo and mt else "n/a"
fmt = lambda v: f"{v:,.0f}" if v is not None else "n/a"
print(f"| {model} @ {size}, batch {batch} | {threads} | {fmt(mo)} | {fmt(mt)} | {ratio} | {alloc or 'n/a'} bytes |")
PY
done
