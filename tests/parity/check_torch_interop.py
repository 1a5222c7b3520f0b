#!/usr/bin/python3
"""A labelfree model loads into torchvision with load_state_dict(strict=True) and computes the
same embeddings as `labelfree embed`.

  /usr/bin/python3 tests/parity/check_torch_interop.py RUN/model.safetensors images_dir emb.npy

The images must already be at the model's input size (no resize involved), RGB PNG, in the
order of `ls images_dir` (what a folder dataset of one class reads)."""
import json
import os
import struct
import sys

import numpy as np
import torch
import torchvision
from PIL import Image


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    dt = {"F32": np.float32, "I64": np.int64, "F64": np.float64}
    out = {}
    for k, v in header.items():
        a, b = v["data_offsets"]
        out[k] = torch.from_numpy(np.frombuffer(data[a:b], dtype=dt[v["dtype"]]).reshape(v["shape"]).copy())
    return out, meta


def main():
    model_path, img_dir, emb_path = sys.argv[1:4]
    sd, meta = read_safetensors(model_path)
    enc = json.loads(meta["encoder"])
    norm = json.loads(meta["normalization"])
    assert enc["arch"] == "resnet18" and enc["width"] == 64, enc
    m = torchvision.models.resnet18()
    c = enc["in_channels"]
    if enc["stem"] == "cifar":
        m.conv1 = torch.nn.Conv2d(c, 64, 3, 1, 1, bias=False)
        m.maxpool = torch.nn.Identity()
    m.fc = torch.nn.Identity()
    sd = {k: v for k, v in sd.items() if not k.startswith("projection_head.")}
    missing = m.load_state_dict(sd, strict=True)
    print("load_state_dict(strict=True):", missing)
    m.eval()
    files = sorted(os.listdir(img_dir))
    x = np.stack([np.asarray(Image.open(os.path.join(img_dir, f)).convert("RGB"), dtype=np.float32) / 255.0 for f in files])
    x = torch.from_numpy(x).permute(0, 3, 1, 2)
    mean = torch.tensor(norm["mean"], dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(norm["std"], dtype=torch.float32).view(1, -1, 1, 1)
    with torch.no_grad():
        ref = m((x - mean) / std).numpy()
    emb = np.load(emb_path)
    diff = np.abs(emb - ref).max() / max(1.0, np.abs(ref).max())
    print(f"{len(files)} images, {ref.shape[1]} features: max |labelfree - torch| / max|torch| = {diff:.2e}")
    sys.exit(0 if diff < 1e-4 else 1)


if __name__ == "__main__":
    main()
