#!/usr/bin/python3
"""PyTorch reference for labelfree's benchmark: SimCLR training step and embedding
extraction with a torchvision ResNet, on the same shapes labelfree runs.

  /usr/bin/python3 bench/torch_simclr.py --arch resnet18 --stem cifar --image-size 32 \
      --batch-size 256 --threads 2 --steps 5 --warmup 2 --json out.json

Prints one JSON object: images/s of the training step (two views per image), of embedding
extraction, the model's forward GFLOP per image (counted from conv/linear shapes), and the
peak resident memory of this process."""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torch_util import add_common_args, emit, parse, timed


def make_encoder(arch, stem, channels):
    m = getattr(torchvision.models, arch)(num_classes=10)
    if stem == "cifar":
        m.conv1 = nn.Conv2d(channels, 64, 3, 1, 1, bias=False)
        m.maxpool = nn.Identity()
    elif channels != 3:
        m.conv1 = nn.Conv2d(channels, 64, 7, 2, 3, bias=False)
    dim = m.fc.in_features
    m.fc = nn.Identity()
    return m, dim


def nt_xent(z, t):
    m = z.shape[0]
    u = F.normalize(z, dim=1)
    sim = (u @ u.t() / t).masked_fill(torch.eye(m, dtype=torch.bool), float("-inf"))
    return F.cross_entropy(sim, (torch.arange(m) + m // 2) % m)


def count_flops(model, x):
    flops = [0]

    def conv_hook(mod, inp, out):
        k = mod.kernel_size[0] * mod.kernel_size[1] * mod.in_channels // mod.groups
        flops[0] += 2 * out.numel() * k

    def lin_hook(mod, inp, out):
        flops[0] += 2 * out.numel() * mod.in_features

    hs = [mm.register_forward_hook(conv_hook) for mm in model.modules() if isinstance(mm, nn.Conv2d)]
    hs += [mm.register_forward_hook(lin_hook) for mm in model.modules() if isinstance(mm, nn.Linear)]
    with torch.no_grad():
        model(x)
    for h in hs:
        h.remove()
    return flops[0] / x.shape[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="resnet18")
    ap.add_argument("--stem", default="cifar")
    ap.add_argument("--image-size", type=int, default=32)
    ap.add_argument("--channels", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--embed-batch-size", type=int, default=0, help="0: --batch-size")
    add_common_args(ap, "embed")
    a = parse(ap, torch)
    enc, dim = make_encoder(a.arch, a.stem, a.channels)
    head = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, 128))
    model = nn.Sequential(enc, head)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-6)
    b, s = a.batch_size, a.image_size
    eb = a.embed_batch_size or b
    x = torch.randn(max(2 * b, eb), a.channels, s, s)
    res = {"arch": a.arch, "stem": a.stem, "image_size": s, "batch_size": b, "threads": a.threads,
           "torch": torch.__version__, "mkldnn": torch.backends.mkldnn.is_available()}
    res["forward_gflop_per_image"] = count_flops(enc, x[:2]) / 1e9
    if a.mode in ("train", "both"):
        model.train()

        def step():
            opt.zero_grad(set_to_none=True)
            loss = nt_xent(model(x[:2 * b]), 0.5)
            loss.backward()
            opt.step()

        t = timed(step, a.steps, a.warmup)
        res["train_step_s"] = t
        res["train_images_per_s"] = b / t  # images (each seen in two views) per second
    if a.mode in ("embed", "both"):
        enc.eval()
        xe = x[:eb]

        def emb():
            with torch.no_grad():
                enc(xe)

        t = timed(emb, a.steps, a.warmup)
        res["embed_batch_size"] = eb
        res["embed_step_s"] = t
        res["embed_images_per_s"] = eb / t
    emit(res, a.json)


if __name__ == "__main__":
    main()
