#!/usr/bin/python3
"""Exports a raw data set of ../shared/data (uint8 .bin + labels.csv) as PNG files plus a
labelfree manifest (path,label,split,site), the form `labelfree evaluate --data` reads.

  /usr/bin/python3 tools/export_shared_data.py wbc-3source-96 runs/data/wbc
  /usr/bin/python3 tools/export_shared_data.py brain-tumor-mri-96 runs/data/brain

Options: --drop-label NAME (repeatable; wbc: basophil has 7 images in all, the data set's
README says to drop it), --limit N (first N rows, for quick tries). The shared data sets'
own splits are kept (brain: train/val/test; wbc: train/test)."""
import argparse
import csv
import os
import sys

import numpy as np
from PIL import Image

SETS = {
    "wbc-3source-96": ("images_u8_96x96x3.bin", (96, 96, 3), "source"),
    "brain-tumor-mri-96": ("images_u8_96x96.bin", (96, 96), "source"),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("name", choices=sorted(SETS))
    ap.add_argument("out")
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))
    ap.add_argument("--drop-label", action="append", default=[])
    ap.add_argument("--limit", type=int, default=0)
    a = ap.parse_args()
    binname, shape, sitecol = SETS[a.name]
    src = os.path.join(a.shared, a.name)
    imgs = np.fromfile(os.path.join(src, binname), dtype=np.uint8)
    per = int(np.prod(shape))
    if imgs.size % per:
        sys.exit(f"{binname}: size {imgs.size} is not a multiple of {per}")
    imgs = imgs.reshape((-1,) + shape)
    rows = list(csv.DictReader(open(os.path.join(src, "labels.csv"))))
    if len(rows) != len(imgs):
        sys.exit(f"labels.csv has {len(rows)} rows, {binname} {len(imgs)} images")
    os.makedirs(os.path.join(a.out, "images"), exist_ok=True)
    n = 0
    with open(os.path.join(a.out, "manifest.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "label", "split", "site"])
        for i, r in enumerate(rows):
            if r["label_name"] in a.drop_label:
                continue
            if a.limit and n >= a.limit:
                break
            p = f"images/{i:05d}.png"
            Image.fromarray(imgs[i]).save(os.path.join(a.out, p))
            w.writerow([p, r["label_name"], r["split"], r[sitecol]])
            n += 1
    print(f"wrote {n} images and {a.out}/manifest.csv")


if __name__ == "__main__":
    main()
