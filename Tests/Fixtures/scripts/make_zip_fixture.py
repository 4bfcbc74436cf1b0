#!/usr/bin/python3
"""Builds the tiny .pth fixtures that Tests/Weights/PthReaderTests.cs reads.

Run from the repository root with Debian's torch (apt-get install python3-torch):
    /usr/bin/python3 Tests/Fixtures/scripts/make_zip_fixture.py
Writes, under Tests/Fixtures/weights/:
    tiny_zip.pth          torch.save default (zip) format
    tiny_legacy.pth       the same dict, _use_new_zipfile_serialization=False
    tiny_wrapped_zip.pth  {'epoch': 3, 'state_dict': sd}, zip format
    tiny_zip_proto4.pth   zip format with pickle protocol 4 (FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL)
    tiny_expected.json    per key: dtype, shape and row-major values (as Python floats)
The values are exact small binary fractions, so float32 comparisons can be exact.
"""
import collections
import json
import os

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "weights")


def exact(n, scale=0.25, start=-1.0):
    # Multiples of 1/4 near zero: exact in float16, float32 and float64 alike.
    return torch.arange(n, dtype=torch.float64) * scale + start


def build():
    base = exact(24, 0.5, -3.0).to(torch.float32).reshape(4, 6)
    sd = collections.OrderedDict()
    sd["conv.weight"] = exact(2 * 3 * 2 * 2).to(torch.float32).reshape(2, 3, 2, 2)
    sd["conv.bias"] = torch.tensor([0.5, -1.5], dtype=torch.float32)
    sd["linear.weight_t"] = base.t()                     # non-contiguous: stride (1, 6)
    sd["linear.rows"] = base[1:3]                        # shares base's storage, offset 6
    sd["linear.column"] = base[:, 2]                     # stride (6,), offset 2
    sd["stats.double"] = exact(5, 0.125, 2.0)            # float64
    sd["stats.half"] = exact(3).to(torch.float16)        # float16
    sd["stats.bf16"] = exact(4, 0.5).to(torch.bfloat16)  # bfloat16
    sd["bn.num_batches_tracked"] = torch.tensor(7, dtype=torch.int64)   # 0-dim int64
    sd["ids"] = torch.tensor([[1, -2, 3], [40, 50, -60]], dtype=torch.int64)
    sd["empty"] = torch.zeros(0, 3)
    return sd


def describe(t):
    return {
        "dtype": str(t.dtype).replace("torch.", ""),
        "shape": list(t.shape),
        "values": [float(v) for v in t.contiguous().reshape(-1).tolist()],
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    sd = build()
    torch.save(sd, os.path.join(OUT, "tiny_zip.pth"))
    torch.save(sd, os.path.join(OUT, "tiny_legacy.pth"), _use_new_zipfile_serialization=False)
    torch.save({"epoch": 3, "state_dict": sd}, os.path.join(OUT, "tiny_wrapped_zip.pth"))
    torch.save(sd, os.path.join(OUT, "tiny_zip_proto4.pth"), pickle_protocol=4)
    expected = collections.OrderedDict((k, describe(v)) for k, v in sd.items())
    # One line per tensor keeps the file short and its diffs readable.
    lines = ",\n".join("  %s: %s" % (json.dumps(k), json.dumps(v)) for k, v in expected.items())
    with open(os.path.join(OUT, "tiny_expected.json"), "w") as f:
        f.write('{"torch": %s, "tensors": {\n%s\n}}\n' % (json.dumps(torch.__version__), lines))
    # Sanity: torch reads back what it wrote.
    for name in ("tiny_zip.pth", "tiny_legacy.pth", "tiny_zip_proto4.pth"):
        back = torch.load(os.path.join(OUT, name))
        assert list(back) == list(sd) and all(torch.equal(back[k], sd[k]) for k in sd), name


if __name__ == "__main__":
    main()
