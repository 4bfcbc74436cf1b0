#!/usr/bin/env python3
"""Independent reading of legacy (non-zip) torch.save files with the standard library only (pickle, struct).

Printed the expected numbers in Tests/Weights/RealPthFileTests.cs:
    python3 Tests/Fixtures/scripts/pth_stdlib_summary.py FILE.pth [KEY]
prints the tensor count, element counts by storage type, the first and last keys, and the first 4 values
(as float and as little-endian hex) of KEY (default: the first key).
Layout: five pickles (magic, protocol, sys info, state dict, storage keys), then per storage key an int64
element count and the raw little-endian data. No torch, and no class from the file is imported.
"""
import pickle
import struct
import sys

ELEMENT = {"FloatStorage": ("f", 4), "DoubleStorage": ("d", 8), "HalfStorage": ("e", 2),
           "LongStorage": ("q", 8), "IntStorage": ("i", 4)}


class Dict(dict):
    """Stands in for OrderedDict: insertion-ordered, and BUILD may set its _metadata attribute."""


class Stub:
    def __init__(self, name):
        self.name = name

    def __call__(self, *args):
        if self.name == "collections.OrderedDict":
            return Dict()
        return (self.name, args)


class Reader(pickle.Unpickler):
    def find_class(self, module, name):
        return Stub(module + "." + name)  # never imports anything

    def persistent_load(self, pid):
        return pid  # ('storage', Stub('torch.FloatStorage'), key, location, numel, view)


def main(path, key=None):
    with open(path, "rb") as f:
        for _ in range(3):
            Reader(f).load()
        state = Reader(f).load()
        keys = Reader(f).load()
        kinds = {}
        for _, args in state.values():
            storage = args[0]
            kinds[storage[2]] = storage[1].name.split(".")[-1]
        offsets, pos = {}, f.tell()
        for k in keys:
            f.seek(pos)
            (n,) = struct.unpack("<q", f.read(8))
            offsets[k] = pos + 8
            pos += 8 + n * ELEMENT[kinds[k]][1]
        elements = {}
        for _, args in state.values():
            n = 1
            for s in args[2]:
                n *= s
            kind = args[0][1].name.split(".")[-1]
            elements[kind] = elements.get(kind, 0) + n
        names = list(state)
        print("tensors", len(state), "storages", len(keys), "elements", elements, "file bytes", pos)
        print("first keys", names[:3], "last key", names[-1])
        key = key or names[0]
        _, args = state[key]
        storage, storage_offset = args[0], args[1]
        fmt, size = ELEMENT[storage[1].name.split(".")[-1]]
        f.seek(offsets[storage[2]] + size * storage_offset)
        values = struct.unpack("<4" + fmt, f.read(4 * size))
    print(key, "storage", storage[2], "data at byte", offsets[storage[2]])
    for v in values:
        print(repr(v), struct.pack("<" + fmt, v).hex())


if __name__ == "__main__":
    main(*sys.argv[1:])
