#!/usr/bin/python3
"""I/O interop fixtures written by PyTorch 1.13 / numpy, read by tests/unit/test_io.c.

fixtures/io/torch_tensors.safetensors: written by a hand-made safetensors writer (the
`safetensors` package is not installed here: python3-safetensors is not in Debian 12's
install), laid out as the official one does (keys sorted, header padded with spaces to a
multiple of 8). Tensors come from torch in several dtypes, each with a float64 copy
"ref.<name>" to compare against; bn.num_batches_tracked is a 0-dim int64 as in a state_dict.
fixtures/io/*.npy: written by numpy.save; values follow v[i, j] = 0.5*i - 0.25*j and
labels[i] = 3*i - 7, which the C test recomputes.
Run: /usr/bin/python3 tests/parity/gen_io.py   (from the repository root)
"""
import json
import os
import struct

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "io")
DT = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16",
      torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8"}


def tensor_bytes(t):
    t = t.contiguous()
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16: reinterpret the bits
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def save_safetensors(path, tensors, metadata):
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name]
        b = tensor_bytes(t)
        header[name] = {"dtype": DT[t.dtype], "shape": list(t.shape),
                        "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header = {"__metadata__": metadata, **header}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main():
    os.makedirs(OUT, exist_ok=True)
    g = torch.Generator().manual_seed(7)
    t = {
        "conv.weight": torch.randn(2, 3, 3, 3, generator=g),
        "bn.running_var": torch.rand(2, generator=g) + 0.5,
        "bn.num_batches_tracked": torch.tensor(7, dtype=torch.int64),
        "half": (torch.randn(5, generator=g) * 100).half(),
        "bf": torch.randn(4, generator=g).bfloat16(),
        "dbl": torch.randn(2, 2, generator=g, dtype=torch.float64),
        "i32": torch.tensor([-3, 0, 2147483647], dtype=torch.int32),
        "big_i64": torch.tensor([-(2 ** 62) - 1, 2 ** 53 + 1], dtype=torch.int64),
        "u8": torch.tensor([0, 255, 17], dtype=torch.uint8),
    }
    t["half"][0] = 6.1e-5  # a normal and a subnormal half
    t["half"][1] = 3.0e-7
    refs = {"ref." + k: v.double() for k, v in t.items() if k != "big_i64"}
    save_safetensors(os.path.join(OUT, "torch_tensors.safetensors"), {**t, **refs},
                     {"format": "pt", "written_by": "gen_io.py"})
    r, c = 5, 3
    emb = 0.5 * np.arange(r)[:, None] - 0.25 * np.arange(c)[None, :]
    np.save(os.path.join(OUT, "emb_f4.npy"), emb.astype(np.float32))
    np.save(os.path.join(OUT, "emb_f8.npy"), emb.astype(np.float64))
    np.save(os.path.join(OUT, "emb_fortran.npy"), np.asfortranarray(emb.astype(np.float32)))
    np.save(os.path.join(OUT, "emb_f2.npy"), emb.astype(np.float16))
    np.save(os.path.join(OUT, "emb_3d.npy"), np.zeros((2, 2, 2), np.float32))
    labels = 3 * np.arange(6) - 7
    np.save(os.path.join(OUT, "labels_i8.npy"), labels.astype(np.int64))
    np.save(os.path.join(OUT, "labels_i4.npy"), labels.astype(np.int32))
    print("wrote", OUT)


if __name__ == "__main__":
    main()
