#!/usr/bin/python3
"""PIL + torchvision side of the loader benchmark (bench/run.sh runs it next to
bench/loader_bench.c): the same SimCLR augmentation of the same images, two views per image,
in one process on one core, decoded images cached in memory (as labelfree's loader caches
them), normalised float tensors as output.

    /usr/bin/python3 bench/torch_loader.py [MANIFEST] [SIZE] [BATCHES] [--json FILE]

Transforms: SimCLR's ImageNet settings, as lf_augment_simclr: RandomResizedCrop(size,
scale 0.08-1), horizontal flip 0.5, ColorJitter(0.8, 0.8, 0.8, 0.2) with p 0.8, grayscale
0.2, Gaussian blur p 0.5 (sigma 0.1-2, kernel 10 % of the side, odd), ToTensor, Normalize.
"""
import json
import os
import sys
import time

import torch
from PIL import Image
from torchvision import transforms as T


def main():
    args = [a for a in sys.argv[1:]]
    out = None
    if "--json" in args:
        i = args.index("--json")
        out = args[i + 1]
        del args[i:i + 2]
    manifest = args[0] if len(args) > 0 else "data/wbc-sample/manifest.csv"
    size = int(args[1]) if len(args) > 1 else 96
    batches = int(args[2]) if len(args) > 2 else 40
    torch.set_num_threads(1)
    root = os.path.dirname(manifest)
    with open(manifest) as f:
        header = f.readline().strip().split(",")
        col = header.index("path")
        paths = [os.path.join(root, line.strip().split(",")[col]) for line in f if line.strip()]
    t0 = time.perf_counter()
    images = [Image.open(p).convert("RGB") for p in paths]
    for im in images:
        im.load()
    t1 = time.perf_counter()
    k = max(3, int(0.1 * size) | 1)
    aug = T.Compose([
        T.RandomResizedCrop(size, scale=(0.08, 1.0)),
        T.RandomHorizontalFlip(),
        T.RandomApply([T.ColorJitter(0.8, 0.8, 0.8, 0.2)], p=0.8),
        T.RandomGrayscale(p=0.2),
        T.RandomApply([T.GaussianBlur(k, sigma=(0.1, 2.0))], p=0.5),
        T.ToTensor(),
        T.Normalize([0.5, 0.5, 0.5], [0.25, 0.25, 0.25]),
    ])
    batch = 64
    n = 0
    t2 = time.perf_counter()
    for b in range(batches):
        views = []
        for j in range(batch):
            im = images[(b * batch + j) % len(images)]
            views.append(aug(im))
            views.append(aug(im))
        torch.stack(views)
        n += batch
    t3 = time.perf_counter()
    res = {"impl": "pil+torchvision", "images": len(images), "decode_s": t1 - t0, "size": size,
           "threads": 1, "images_per_s": n / (t3 - t2)}
    print(json.dumps(res))
    if out:
        with open(out, "w") as f:
            json.dump(res, f)


if __name__ == "__main__":
    main()
