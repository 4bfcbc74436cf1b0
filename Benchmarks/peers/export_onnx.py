"""Export a PyTorch peer to a static-shape ONNX file for the ONNX Runtime peer.

usage: /usr/bin/python3 export_onnx.py MODEL H W OUTDIR

Writes, in OUTDIR:
  MODEL_HxW.onnx           opset 17, batch 1, fixed H x W, BN and constants folded by the exporter
  MODEL_HxW.input.f32      a random 1x3xHxW input (float32 little-endian, C order)
  MODEL_HxW.expected.f32   the eager PyTorch output for it (the model as bench_torch.py times it)

The model is built with exportable=True: the EdgeNets head's adaptive average poolings whose output
size does not divide the input become constant matrix products (the same averages); the others
become fixed average poolings. The expected output comes from the unmodified eager model, so the
ONNX check (OrtPeer --check, |a - b| <= 1e-4 * max(1, |b|)) also covers that substitution.
Prints one JSON line with the file names.
"""

import json
import os
import sys
import warnings

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402

OPSET = 17


def main():
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    name, h, w, outdir = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    os.makedirs(outdir, exist_ok=True)
    stem = os.path.join(outdir, f"{name}_{h}x{w}")

    eager = models.build(name, exportable=False)
    exportable = models.build(name, exportable=True)  # same seed: same weights
    torch.manual_seed(3)
    x = torch.rand(1, 3, h, w) * 2 - 1
    with torch.inference_mode():
        expected = eager(x)
        mine = exportable(x)
    gap = float((mine - expected).abs().max())
    scale = max(1.0, float(expected.abs().max()))
    if gap > 1e-4 * scale:
        raise SystemExit(f"{name}: exportable variant differs from eager by {gap:g}")

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings: shape-derived sizes become constants, as intended
        torch.onnx.export(exportable, x, stem + ".onnx", opset_version=OPSET, input_names=["input"],
                          output_names=["output"], do_constant_folding=True)
    x.numpy().astype("<f4").tofile(stem + ".input.f32")
    expected.numpy().astype("<f4").tofile(stem + ".expected.f32")
    print(json.dumps({"model": name, "height": h, "width": w, "onnx": stem + ".onnx", "opset": OPSET,
                      "input": stem + ".input.f32", "expected": stem + ".expected.f32",
                      "exportable_vs_eager_max_abs_diff": float(f"{gap:.3g}"),
                      "output_shape": list(expected.shape)}))


if __name__ == "__main__":
    main()
