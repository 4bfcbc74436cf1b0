"""Writes Tests/Fixtures/images/pil_bilinear.bin: a seeded random RGB image and Pillow's BILINEAR resizes of it.

Pillow's resize is what EdgeNets' preprocessing (and torchvision's Resize on PIL images) computes: a
triangle filter widened by the scale when shrinking, 8-bit fixed-point coefficients, a horizontal pass
rounded to 8 bits, then a vertical pass. The C# port in Runtime/Imaging is checked byte for byte against it.

Run with a Python that has Pillow (Debian: /usr/bin/python3 with python3-pil; no NumPy needed): Tests/Fixtures/scripts/make_resize_fixture.py
Format (little-endian int32 unless said): magic 'PILB', count N, source w, h, source RGB bytes;
then N times: w, h, RGB bytes; then count M and M times the classifier's crop (torchvision's
Resize(int(size / 0.875)) then CenterCrop, written out here with Pillow as torchvision computes it for
PIL images): crop h, w, RGB bytes.
"""
import random
import struct
import sys
from pathlib import Path

import PIL
from PIL import Image

SEED = 20261201
SRC_W, SRC_H = 61, 37
# Shrink by exactly 2, shrink by odd ratios, enlarge, mixed, to 1 pixel, identity.
SIZES = [(30, 18), (17, 11), (97, 53), (40, 60), (1, 1), (61, 37), (23, 37), (61, 5), (128, 64)]
# Classifier crops (height, width): shorter side to int(min / 0.875), centre crop with Python's round.
CROPS = [(28, 28), (24, 40), (35, 35), (32, 16)]

def resize_and_crop(img, h, w):
    size = int(min(h, w) / 0.875)
    iw, ih = img.size
    if iw <= ih:
        rw, rh = size, int(size * ih / iw)
    else:
        rw, rh = int(size * iw / ih), size
    rw, rh = max(rw, w), max(rh, h)
    if (rw, rh) != (iw, ih):
        img = img.resize((rw, rh), Image.BILINEAR)
    top, left = int(round((rh - h) / 2.0)), int(round((rw - w) / 2.0))
    return img.crop((left, top, left + w, top + h))

def main() -> None:
    rng = random.Random(SEED)
    # Smooth structure plus noise, so that both interpolation and rounding are exercised.
    data = bytearray()
    for y in range(SRC_H):
        for x in range(SRC_W):
            for c in range(3):
                v = (x * 4 + y * 3 * (c + 1)) % 256
                data.append((v + rng.randrange(-40, 41)) % 256)
    src = Image.frombytes("RGB", (SRC_W, SRC_H), bytes(data))
    out = Path(__file__).resolve().parent.parent / "images" / "pil_bilinear.bin"
    with open(out, "wb") as f:
        f.write(b"PILB" + struct.pack("<iii", len(SIZES), SRC_W, SRC_H) + src.tobytes())
        for w, h in SIZES:
            f.write(struct.pack("<ii", w, h) + src.resize((w, h), Image.BILINEAR).tobytes())
        f.write(struct.pack("<i", len(CROPS)))
        for h, w in CROPS:
            f.write(struct.pack("<ii", h, w) + resize_and_crop(src, h, w).tobytes())
    print(f"wrote {out} (Pillow {PIL.__version__}, seed {SEED})", file=sys.stderr)

if __name__ == "__main__":
    main()
