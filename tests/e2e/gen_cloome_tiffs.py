#!/usr/bin/python3
"""Tiny synthetic CLOOME pairs for tests/e2e/cloome.sh: 6 compounds x 3 samples, each sample a
16x16 image of 5 channels, 16-bit TIFF. Odd samples are one 5-page TIFF, even samples five
one-page TIFFs (one per stain) joined with ';' in the manifest. Each compound has its own
channel-intensity signature plus noise, so that images and molecules can be matched.
    /usr/bin/python3 tests/e2e/gen_cloome_tiffs.py     (from the repository root)"""
import csv
import os

import numpy as np
from PIL import Image

OUT = "tests/e2e/fixtures/cloome"
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(7)
smiles = ["CCO", "c1ccccc1", "CC(=O)O", "CCN", "CCCl", "c1ccncc1"]
moa = ["A", "B", "A", "B", "C", "C"]


def page(a):
    return Image.fromarray(a.astype(np.uint16), mode="I;16")


rows = []
for c, smi in enumerate(smiles):
    sig = rng.uniform(5000, 50000, size=5)
    for s in range(3):
        img = sig[:, None, None] * (1 + 0.2 * rng.standard_normal((5, 16, 16)))
        img = np.clip(img, 0, 65535)
        name = f"c{c}_s{s}"
        if s % 2:
            pages = [page(ch) for ch in img]
            pages[0].save(os.path.join(OUT, name + ".tif"), save_all=True, append_images=pages[1:])
            path = name + ".tif"
        else:
            files = []
            for k, ch in enumerate(img):
                f = f"{name}_ch{k}.tif"
                page(ch).save(os.path.join(OUT, f))
                files.append(f)
            path = ";".join(files)
        rows.append([path, smi, f"compound{c}", moa[c], "test" if c >= 4 else "train", f"plate{s}"])
with open(os.path.join(OUT, "pairs.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["image", "smiles", "compound", "moa", "split", "plate"])
    w.writerows(rows)
print("wrote", OUT)
