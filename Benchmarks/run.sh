#!/usr/bin/env bash
# Side-by-side CPU benchmark: Espnet.Compiled (`espnet bench`) against PyTorch (best of eager /
# frozen TorchScript, NCHW / channels_last) and ONNX Runtime (C# runner, Benchmarks/OrtPeer) on the same
# networks, at 1 and 2 threads. Prints a markdown table; raw JSON lines go to Benchmarks/out/results.jsonl.
#
# Builds nothing. First:  dotnet build Cli -c Release
#                         dotnet build Benchmarks/OrtPeer -c Release
#                         apt-get install -y python3-torch libopenblas0-pthread
#
# Environment (defaults in brackets):
#   RUNS [10]  WARMUP [3]          timed and untimed forward passes, for every runner
#   ROUNDS [1]                     repeat each row's three runners this many times, alternating (the table takes
#                                  the median of the rounds' medians: slow spells of a shared VM hit all alike)
#   MODELS ["espnet-p2-q8 espnet-c-p2-q8 espnetv2-seg-s2.0-city espnetv2-s1.0"]
#   THREADS ["1 2"]
#   SIZE [each model's: 512x1024, or 224x224 for espnetv2-s*]   e.g. SIZE=64x128 for a quick check
#   ESPNET [Cli/bin/Release/net10.0/espnet.dll]   ORTPEER [Benchmarks/OrtPeer/bin/Release/net10.0/ortpeer.dll]
#   PYTHON [/usr/bin/python3, Debian's, which has python3-torch]
#   TORCH_SCREEN [3]   PyTorch compares its setups on this many runs, then times the fastest with
#                      RUNS/WARMUP; 0 times every setup with RUNS/WARMUP
#   QUIET_WAIT_S [600] before each measurement, wait up to this long while another `dotnet build/test`
#                      or `espnet bench` runs on the machine (0: don't wait)
#   OUT [Benchmarks/out]
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
ESPNET="${ESPNET:-$ROOT/Cli/bin/Release/net10.0/espnet.dll}"
ORTPEER="${ORTPEER:-$HERE/OrtPeer/bin/Release/net10.0/ortpeer.dll}"
PYTHON="${PYTHON:-/usr/bin/python3}"
RUNS="${RUNS:-10}"
ROUNDS="${ROUNDS:-1}"
WARMUP="${WARMUP:-3}"
MODELS="${MODELS:-espnet-p2-q8 espnet-c-p2-q8 espnetv2-seg-s2.0-city espnetv2-s1.0}"
THREADS="${THREADS:-1 2}"
SIZE="${SIZE:-}"
TORCH_SCREEN="${TORCH_SCREEN:-3}"
QUIET_WAIT_S="${QUIET_WAIT_S:-600}"
OUT="${OUT:-$HERE/out}"
RESULTS="$OUT/results.jsonl"

die() { echo "run.sh: $*" >&2; exit 1; }
note() { echo "[$(date +%H:%M:%S)] $*" >&2; }

[ -f "$ESPNET" ] || die "no CLI at $ESPNET: run \`dotnet build Cli -c Release\` in $ROOT first (or set ESPNET=path/to/espnet.dll)"
command -v dotnet >/dev/null || die "dotnet is not on PATH"
have_torch=1
"$PYTHON" -c "import torch" 2>/dev/null || { have_torch=0; note "no PyTorch for $PYTHON: apt-get install -y python3-torch libopenblas0-pthread (PyTorch and ORT columns will be n/a)"; }
have_ort=1
[ -f "$ORTPEER" ] || { have_ort=0; note "no ONNX Runtime peer at $ORTPEER: run \`dotnet build Benchmarks/OrtPeer -c Release\` (ORT column will be n/a)"; }
[ "$have_torch" = 1 ] || have_ort=0   # the ONNX files are exported from the PyTorch models

mkdir -p "$OUT"
: > "$RESULTS"
: > "$OUT/torch-setups.jsonl"

# Append the last JSON line of stdin to results.jsonl, tagged with kind / name / run_threads.
record() {  # kind name threads
    local line
    line="$(grep '^{' | tail -n 1)"
    if [ -z "$line" ]; then
        printf '{"kind":"error","name":"%s","run_threads":%s,"what":"%s"}\n' "$2" "$3" "$1" >> "$RESULTS"
        return 1
    fi
    printf '%s\n' "$line" | sed "s/^{/{\"kind\":\"$1\",\"name\":\"$2\",\"run_threads\":$3,/" >> "$RESULTS"
}

# PIDs of this script and its ancestors, which must not count as "another benchmark or build".
ancestors() {
    local pid=$$
    while [ "$pid" -gt 1 ] 2>/dev/null; do
        echo "$pid"
        pid="$(awk '{print $4}' "/proc/$pid/stat" 2>/dev/null || echo 1)"
    done
}
SELF_PIDS=" $(ancestors | tr '\n' ' ') "

wait_quiet() {
    [ "$QUIET_WAIT_S" -gt 0 ] || return 0
    local waited=0 busy
    while :; do
        busy=""
        for pid in $(pgrep -f 'dotnet.*(build|test|vstest)|espnet(\.dll)? bench|Espnet\.Compiled\.Tests' 2>/dev/null); do
            case "$SELF_PIDS" in *" $pid "*) ;; *) busy="$busy $pid" ;; esac
        done
        [ -z "$busy" ] && return 0
        if [ "$waited" -ge "$QUIET_WAIT_S" ]; then
            note "still busy (pids$busy) after ${QUIET_WAIT_S}s; measuring anyway, expect noise"
            return 0
        fi
        [ "$waited" -eq 0 ] && note "another build/test/benchmark is running (pids$busy); waiting up to ${QUIET_WAIT_S}s"
        sleep 5
        waited=$((waited + 5))
    done
}

size_of() {  # model -> "H W"
    if [ -n "$SIZE" ]; then echo "${SIZE%x*} ${SIZE#*x}"
    else case "$1" in espnetv2-s[0-9]*) echo "224 224" ;; *) echo "512 1024" ;; esac
    fi
}

torch_version="$([ "$have_torch" = 1 ] && "$PYTHON" -c 'import torch; print(torch.__version__)' 2>/dev/null || echo none)"
printf '{"kind":"meta","date":"%s","host_cpu":"%s","nproc":%s,"runs":%s,"warmup":%s,"rounds":%s,"torch":"%s","loadavg":"%s"}\n' \
    "$(date -Is)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" "$(nproc)" "$RUNS" "$WARMUP" "$ROUNDS" \
    "$torch_version" "$(cut -d' ' -f1-3 /proc/loadavg)" >> "$RESULTS"

for t in $THREADS; do
    wait_quiet
    note "peak FLOP/s at $t thread(s)"
    dotnet "$ESPNET" bench --peak --json --threads "$t" 2>/dev/null | record peak all "$t" \
        || note "no peak figure (this CLI may lack \`bench --peak\`): share column n/a"
done

for model in $MODELS; do
    read -r h w < <(size_of "$model")
    onnx="$OUT/${model}_${h}x${w}.onnx"
    ort_ok=$have_ort
    if [ "$have_ort" = 1 ]; then
        note "$model ${h}x${w}: export ONNX and check it against PyTorch"
        if "$PYTHON" "$HERE/peers/export_onnx.py" "$model" "$h" "$w" "$OUT" 2> "$OUT/export.log" | record onnx-export "$model" 0 \
           && dotnet "$ORTPEER" --onnx "$onnx" --check "${onnx%.onnx}.input.f32" "${onnx%.onnx}.expected.f32" --threads 2 \
                | tee /dev/stderr | record onnx-check "$model" 0 \
           && tail -n 1 "$RESULTS" | grep -q '"check":"ok"'; then :
        else
            ort_ok=0; note "$model: ONNX export or check failed (see $OUT/export.log, $RESULTS): ORT column n/a"
        fi
    fi
    for t in $THREADS; do
      for round in $(seq 1 "$ROUNDS"); do
        [ "$ROUNDS" -gt 1 ] && note "$model ${h}x${w}, $t thread(s): round $round of $ROUNDS"
        wait_quiet
        note "$model ${h}x${w}, $t thread(s): ours"
        dotnet "$ESPNET" bench --model "$model" --height "$h" --width "$w" --threads "$t" \
            --runs "$RUNS" --warmup "$WARMUP" --json 2>/dev/null | record ours "$model" "$t" \
            || note "$model: espnet bench failed"
        if [ "$have_torch" = 1 ]; then
            wait_quiet
            note "$model ${h}x${w}, $t thread(s): PyTorch"
            OMP_NUM_THREADS="$t" "$PYTHON" "$HERE/peers/bench_torch.py" "$model" "$h" "$w" "$t" "$RUNS" "$WARMUP" --screen "$TORCH_SCREEN" \
                2> >(grep -v '^$' >&2) | tee -a "$OUT/torch-setups.jsonl" | record pytorch "$model" "$t" \
                || note "$model: PyTorch failed"
        fi
        if [ "$ort_ok" = 1 ]; then
            wait_quiet
            note "$model ${h}x${w}, $t thread(s): ONNX Runtime"
            dotnet "$ORTPEER" --onnx "$onnx" --name "$model" --threads "$t" --runs "$RUNS" --warmup "$WARMUP" 2>/dev/null \
                | record onnxruntime "$model" "$t" || note "$model: ONNX Runtime failed"
        fi
      done
    done
done

echo
"$PYTHON" "$HERE/peers/table.py" "$RESULTS" 2>/dev/null || python3 "$HERE/peers/table.py" "$RESULTS"
echo
echo "Raw results: $RESULTS (every PyTorch setup tried: $OUT/torch-setups.jsonl)"
