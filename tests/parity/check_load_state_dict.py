#!/usr/bin/python3
"""Loads a labelfree-written safetensors file into a torch module with
load_state_dict(strict=True), then checks every tensor of module.state_dict() equals the file.

Usage (from the repository root):
  /usr/bin/python3 tests/parity/check_load_state_dict.py FILE [--module EXPR] [--prefix P]
    EXPR: a Python expression building the module, evaluated with `torch`, `nn` (and
          `torchvision` when installed) in scope, e.g.
          --module "torchvision.models.resnet18(num_classes=10)".
          Default: the demo module nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3)), whose
          file is written by the C unit test io_state_dict_demo to
          build/io_state_dict_demo.safetensors:
            make VARIANT=default tests && ./build/default/unit_tests io_state_dict_demo
            /usr/bin/python3 tests/parity/check_load_state_dict.py build/io_state_dict_demo.safetensors
    P:    only file tensors named P<name> are used, with P stripped (e.g. "backbone.").
Exits 0 and prints 'OK ...' on success; a non-zero exit and the reason otherwise.
The file is parsed by hand (json + struct): the safetensors package is not needed.
"""
import argparse
import json
import struct
import sys

import numpy as np
import torch
from torch import nn

NP = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I64": np.int64, "I32": np.int32,
      "U8": np.uint8, "I8": np.int8}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    out = {}
    for name, e in header.items():
        b, en = e["data_offsets"]
        arr = np.frombuffer(data[b:en], dtype=NP[e["dtype"]]).reshape(e["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out, meta


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--module", default="nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))")
    ap.add_argument("--prefix", default="")
    a = ap.parse_args()
    scope = {"torch": torch, "nn": nn}
    try:
        import torchvision  # noqa: F401
        scope["torchvision"] = torchvision
    except ImportError:
        pass
    module = eval(a.module, scope)
    tensors, meta = read_safetensors(a.file)
    sd = {k[len(a.prefix):]: v for k, v in tensors.items() if k.startswith(a.prefix)}
    module.load_state_dict(sd, strict=True)  # raises on missing/unexpected keys or shapes
    worst = 0.0
    for k, v in module.state_dict().items():
        if v.dtype != sd[k].dtype:
            sys.exit(f"FAIL {k}: module dtype {v.dtype}, file dtype {sd[k].dtype}")
        worst = max(worst, (v.double() - sd[k].double()).abs().max().item() if v.numel() else 0.0)
    if worst != 0.0:
        sys.exit(f"FAIL values differ after load (max {worst})")
    print(f"OK {a.file}: {len(sd)} tensors loaded with strict=True into {type(module).__name__}; "
          f"metadata keys {sorted(meta)}")


if __name__ == "__main__":
    main()
