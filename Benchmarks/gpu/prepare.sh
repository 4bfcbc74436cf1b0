#!/usr/bin/env bash
# Prepares the GPU check on a machine with .NET (this one), for a device machine without it: a trimmed,
# self-contained `espnet` and the authors' weights for the two networks checked, in Benchmarks/gpu/out/ (ignored
# by git; carry it: `run` with carry ["Benchmarks/gpu/out"], about 61 MB of the 64 MB that travel).
#   SHARED [../shared/data or $ESPNET_SHARED_DATA]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$(dirname "$HERE")")"
SHARED="${ESPNET_SHARED_DATA:-$ROOT/../shared/data}"
OUT="$HERE/out"
rm -rf "$OUT"; mkdir -p "$OUT/weights"
dotnet publish "$ROOT/Cli" -c Release -r linux-x64 --self-contained -p:EspnetTrim=true -p:TreatWarningsAsErrors=false \
    -p:DebugType=none -o "$OUT/espnet" -v q -nologo
cp "$SHARED/weights/ESPNet/pretrained/decoder/espnet_p_2_q_8.pth" "$OUT/weights/"
cp "$SHARED/weights/EdgeNets/model/segmentation/model_zoo/espnetv2/espnetv2_s_2.0_city_1024x512.pth" "$OUT/weights/"
du -sh "$OUT"
