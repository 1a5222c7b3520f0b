#!/usr/bin/python3
"""Writes data/wbc-sample/: 150 PNG crops from ../shared/data/wbc-3source-96, balanced over
the three sources and the four main classes (basophil dropped: 7 images in all), with a
manifest (path,label,split,site) keeping the source data's own train/test split.

Usage: /usr/bin/python3 tools/make_wbc_sample.py [SRC_DIR] [OUT_DIR]
Deterministic (numpy seed 2024). PNGs are written with zlib + struct (no PIL needed)."""
import csv
import os
import struct
import sys
import zlib

import numpy as np

SRC = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "wbc-3source-96")
OUT = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "data", "wbc-sample")
CLASSES = ["neutrophil", "lymphocyte", "monocyte", "eosinophil"]
SOURCES = ["jtsc_tecom", "cellavision_blog", "bccd"]
TOTAL = 150


def write_png(path, rgb):
    """8-bit RGB PNG: signature, IHDR, one IDAT (filter byte 0 per row), IEND."""
    h, w, _ = rgb.shape

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
        f.write(chunk(b"IEND", b""))


def main():
    images = np.fromfile(os.path.join(SRC, "images_u8_96x96x3.bin"), dtype=np.uint8).reshape(-1, 96, 96, 3)
    with open(os.path.join(SRC, "labels.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == images.shape[0]
    rng = np.random.default_rng(2024)
    cells = {(s, c): [r for r in rows if r["source"] == s and r["label_name"] == c] for s in SOURCES for c in CLASSES}
    for k in cells:
        rng.shuffle(cells[k])
    # round-robin over (source, class) cells until TOTAL images: as balanced as the counts allow
    chosen, depth = [], 0
    while len(chosen) < TOTAL:
        for k in sorted(cells):
            if depth < len(cells[k]) and len(chosen) < TOTAL:
                chosen.append(cells[k][depth])
        depth += 1
    chosen.sort(key=lambda r: int(r["index"]))
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "manifest.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["path", "label", "split", "site"])
        for r in chosen:
            name = "%04d.png" % int(r["index"])
            write_png(os.path.join(OUT, name), images[int(r["index"])])
            w.writerow([name, r["label_name"], r["split"], r["source"]])
    counts = {}
    for r in chosen:
        counts[(r["source"], r["label_name"])] = counts.get((r["source"], r["label_name"]), 0) + 1
    for k in sorted(counts):
        print(k, counts[k])
    print(len(chosen), "images written to", OUT)


if __name__ == "__main__":
    main()
