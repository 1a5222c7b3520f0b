#!/usr/bin/python3
"""PyTorch reference for labelfree's MAE benchmark: the training step of facebookresearch/mae's
MaskedAutoencoderViT (the module of tests/parity/gen_mae.py, which the C side is checked
against) and embedding extraction with its ViT encoder, on the same shapes labelfree runs.

  /usr/bin/python3 bench/torch_mae.py --image-size 224 --patch 16 --batch-size 64 \
      --embed-batch-size 256 --threads 2 --steps 5 --warmup 2 --json out.json

Prints one JSON object with bench/bench_mae.c's keys; flops per image from the layer shapes
(bench/mae_flops.h's formula)."""
import argparse
import os
import sys

import torch

from torch_util import add_common_args, emit, parse, timed

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "parity"))
from gen_mae import MaskedAutoencoderViT  # noqa: E402


def block_flops(t, w):
    return 2.0 * t * 12.0 * w * w + 4.0 * t * t * w


def flops(a, k):
    """(masked training forward, full encoder forward) per image, as bench/mae_flops.h"""
    P = (a.image_size // a.patch) ** 2
    Q = a.patch * a.patch * 3
    embed = 2.0 * P * Q * a.width
    train = (embed + a.depth * block_flops(k + 1, a.width) + 2.0 * (k + 1) * a.width * a.decoder_width +
             a.decoder_depth * block_flops(P + 1, a.decoder_width) + 2.0 * (P + 1) * a.decoder_width * Q)
    return train, embed + a.depth * block_flops(P + 1, a.width)


def encode(m, x):
    """the ViT on every patch: class token after the final norm"""
    x = m.patch_embed(x) + m.pos_embed[:, 1:, :]
    cls = (m.cls_token + m.pos_embed[:, :1, :]).expand(x.shape[0], -1, -1)
    x = torch.cat((cls, x), dim=1)
    for blk in m.blocks:
        x = blk(x)
    return m.norm(x)[:, 0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--patch", type=int, default=16)
    ap.add_argument("--width", type=int, default=192)
    ap.add_argument("--depth", type=int, default=12)
    ap.add_argument("--heads", type=int, default=3)
    ap.add_argument("--decoder-width", type=int, default=128)
    ap.add_argument("--decoder-depth", type=int, default=4)
    ap.add_argument("--decoder-heads", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--embed-batch-size", type=int, default=256)
    add_common_args(ap, "embed")
    a = parse(ap, torch)
    m = MaskedAutoencoderViT(img_size=a.image_size, patch_size=a.patch, in_chans=3, embed_dim=a.width,
                             depth=a.depth, num_heads=a.heads, decoder_embed_dim=a.decoder_width,
                             decoder_depth=a.decoder_depth, decoder_num_heads=a.decoder_heads,
                             norm_pix_loss=True)
    opt = torch.optim.AdamW(m.parameters(), lr=1.5e-4, betas=(0.9, 0.95), weight_decay=0.05)
    b, eb, s = a.batch_size, a.embed_batch_size, a.image_size
    x = torch.randn(max(b, eb), 3, s, s)
    P = (s // a.patch) ** 2
    k = int(P * (1 - 0.75))
    ftrain, fembed = flops(a, k)
    res = {"impl": "pytorch", "model": "mae", "image_size": s, "patch": a.patch, "width": a.width,
           "depth": a.depth, "decoder_width": a.decoder_width, "decoder_depth": a.decoder_depth,
           "batch_size": b, "threads": a.threads, "torch": torch.__version__,
           "train_gflop_per_image": 3 * ftrain / 1e9, "forward_gflop_per_image": fembed / 1e9}
    if a.mode in ("train", "both"):
        m.train()

        def step():
            opt.zero_grad(set_to_none=True)
            loss = m(x[:b], 0.75, torch.rand(b, P))[0]
            loss.backward()
            opt.step()

        t = timed(step, a.steps, a.warmup)
        res.update(train_step_s=t, train_images_per_s=b / t, train_gflops=3 * ftrain * b / t / 1e9)
    if a.mode in ("embed", "both"):
        m.eval()
        xe = x[:eb]

        def emb():
            with torch.no_grad():
                encode(m, xe)

        t = timed(emb, a.steps, a.warmup)
        res.update(embed_batch_size=eb, embed_step_s=t, embed_images_per_s=eb / t,
                   embed_gflops=fembed * eb / t / 1e9)
    emit(res, a.json)


if __name__ == "__main__":
    main()
