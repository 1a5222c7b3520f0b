#!/usr/bin/python3
"""Writes PyTorch reference fixtures for batch norm, layer norm, embedding, attention and a
pre-LN ViT block (timm's Block layout) into tests/parity/fixtures/ops_c/.

Run from the repository root:  /usr/bin/python3 tests/parity/gen_ops_c.py   (torch 1.13)

Inputs are drawn in float32 with a fixed seed and stored as float32; the references are
computed in float64 from exactly those float32 values (so the C float32 build is compared
with the exact result) and stored as float32.

File format (one file per case, little-endian):
    b"LFFX 1\n"
    then per array:  b"<name> <f32|i64> <ndim> <d0> ... <dn-1>\n" followed by the raw data
    b"END\n"
"""
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.join("tests", "parity", "fixtures", "ops_c")


def write(case, arrays):
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, case + ".bin")
    with open(path, "wb") as f:
        f.write(b"LFFX 1\n")
        for name, a in arrays.items():
            if isinstance(a, torch.Tensor):
                a = a.detach().cpu().numpy()
            a = np.asarray(a)
            if a.dtype.kind in "iu":
                a = a.astype("<i8")
                tag = "i64"
            else:
                a = a.astype("<f4")
                tag = "f32"
            head = [name, tag, str(a.ndim)] + [str(d) for d in a.shape]
            f.write((" ".join(head) + "\n").encode())
            f.write(np.ascontiguousarray(a).tobytes())
        f.write(b"END\n")
    print("wrote %s (%d bytes)" % (path, os.path.getsize(path)))


def rand32(*shape, lo=-1.0, hi=1.0):
    """float32 draw, returned as a float64 tensor holding the float32 values exactly"""
    x = torch.rand(*shape, dtype=torch.float32) * (hi - lo) + lo
    return x.double()


def randn32(*shape, scale=1.0):
    return (torch.randn(*shape, dtype=torch.float32) * scale).double()


def batch_norm_case(case, shape, affine, track, training, momentum=0.1, eps=1e-5):
    C = shape[1]
    x = randn32(*shape, scale=1.5) + 0.5
    x.requires_grad_(True)
    arrays = {"x": x}
    w = b = rm = rv = None
    if affine:
        w = rand32(C, lo=0.5, hi=1.5).requires_grad_(True)
        b = rand32(C).requires_grad_(True)
        arrays["weight"], arrays["bias"] = w, b
    if track:
        rm = rand32(C, lo=-0.5, hi=0.5)
        rv = rand32(C, lo=0.5, hi=2.0)
        arrays["running_mean"], arrays["running_var"] = rm.clone(), rv.clone()
    y = F.batch_norm(x, rm, rv, w, b, training=training or not track, momentum=momentum, eps=eps)
    dy = randn32(*shape)
    y.backward(dy)
    arrays.update({"momentum": np.array([momentum]), "eps": np.array([eps]),
                   "training": np.array([int(training)], dtype=np.int64),
                   "dy": dy, "y": y, "grad_x": x.grad})
    if affine:
        arrays["grad_weight"], arrays["grad_bias"] = w.grad, b.grad
    if track:  # updated in place by F.batch_norm when training
        arrays["new_running_mean"], arrays["new_running_var"] = rm, rv
    write(case, arrays)


def layer_norm_case(case, shape, affine, eps=1e-5):
    E = shape[-1]
    x = randn32(*shape, scale=2.0).requires_grad_(True)
    arrays = {"x": x}
    w = b = None
    if affine:
        w = rand32(E, lo=0.5, hi=1.5).requires_grad_(True)
        b = rand32(E).requires_grad_(True)
        arrays["weight"], arrays["bias"] = w, b
    y = F.layer_norm(x, (E,), w, b, eps)
    dy = randn32(*shape)
    y.backward(dy)
    arrays.update({"eps": np.array([eps]), "dy": dy, "y": y, "grad_x": x.grad})
    if affine:
        arrays["grad_weight"], arrays["grad_bias"] = w.grad, b.grad
    write(case, arrays)


def embedding_case(case):
    table = randn32(11, 6).requires_grad_(True)
    ids = torch.tensor([[3, 0, 10, 3], [7, 3, 1, 0], [10, 10, 2, 5]], dtype=torch.int64)
    y = F.embedding(ids, table)
    dy = randn32(*y.shape)
    y.backward(dy)
    write(case, {"table": table, "ids": ids.numpy(), "dy": dy, "y": y, "grad_table": table.grad})


def attention_case(case, B, H, Tq, Tk, Dh, mask_kind):
    q = randn32(B, H, Tq, Dh).requires_grad_(True)
    k = randn32(B, H, Tk, Dh).requires_grad_(True)
    v = randn32(B, H, Tk, Dh).requires_grad_(True)
    scale = 1.0 / math.sqrt(Dh)
    arrays = {"q": q, "k": k, "v": v, "scale": np.array([scale])}
    s = q @ k.transpose(-1, -2) * scale
    if mask_kind == "causal":  # (Tq, Tk) with -inf above the shifted diagonal, no empty row
        m = torch.zeros(Tq, Tk, dtype=torch.float64)
        for i in range(Tq):
            for j in range(Tk):
                if j > i + (Tk - Tq):
                    m[i, j] = -math.inf
        arrays["mask"] = m
        s = s + m
    elif mask_kind == "batch":  # (B, 1, Tq, Tk) finite additive bias plus a few -inf
        m = randn32(B, 1, Tq, Tk)
        m[0, 0, 1, 2] = -math.inf
        m[1, 0, 0, :Tk - 1] = -math.inf
        arrays["mask"] = m
        s = s + m
    p = torch.softmax(s, dim=-1)
    y = p @ v
    dy = randn32(*y.shape)
    y.backward(dy)
    arrays.update({"dy": dy, "y": y, "grad_q": q.grad, "grad_k": k.grad, "grad_v": v.grad})
    write(case, arrays)


class Attention(torch.nn.Module):
    """timm's Attention: qkv Linear -> (3, B, H, T, Dh) -> softmax(q k^T / sqrt(Dh)) v -> proj"""

    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = torch.nn.Linear(dim, 3 * dim)
        self.proj = torch.nn.Linear(dim, dim)

    def forward(self, x):
        B, T, E = x.shape
        Dh = E // self.heads
        qkv = self.qkv(x).reshape(B, T, 3, self.heads, Dh).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        a = torch.softmax(q @ k.transpose(-2, -1) * Dh ** -0.5, dim=-1)
        return self.proj((a @ v).transpose(1, 2).reshape(B, T, E))


class Mlp(torch.nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = torch.nn.Linear(dim, hidden)
        self.act = torch.nn.GELU()
        self.fc2 = torch.nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(torch.nn.Module):
    """pre-LN transformer block with timm's parameter names"""

    def __init__(self, dim, heads, mlp_ratio=4, eps=1e-6):
        super().__init__()
        self.norm1 = torch.nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, heads)
        self.norm2 = torch.nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, dim * mlp_ratio)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


def block_case(case, B=2, T=7, E=32, heads=4, eps=1e-6):
    blk = Block(E, heads, eps=eps)
    with torch.no_grad():  # non-trivial values everywhere, including the norms
        for name, p in blk.named_parameters():
            if name.startswith("norm"):
                p.copy_(rand32(*p.shape, lo=0.5, hi=1.5) if name.endswith("weight")
                        else rand32(*p.shape, lo=-0.2, hi=0.2))
            else:
                p.copy_(randn32(*p.shape, scale=1.0 / math.sqrt(p.shape[-1])))
    blk = blk.double()
    x = randn32(B, T, E).requires_grad_(True)
    lossw = randn32(B, T, E)
    y = blk(x)
    loss = (y * lossw).sum()
    loss.backward()
    arrays = {"x": x, "lossw": lossw, "eps": np.array([eps]),
              "heads": np.array([heads], dtype=np.int64)}
    for name, p in blk.named_parameters():
        arrays[name] = p
    arrays.update({"y": y, "loss": loss.reshape(1), "grad.x": x.grad})
    for name, p in blk.named_parameters():
        arrays["grad." + name] = p.grad
    write(case, arrays)


def main():
    torch.manual_seed(1234)
    batch_norm_case("bn_nc_train", (6, 5), affine=True, track=True, training=True)
    batch_norm_case("bn2d_train", (3, 4, 5, 6), affine=True, track=True, training=True,
                    momentum=0.2)
    batch_norm_case("bn3d_train_noaffine", (2, 3, 3, 4, 5), affine=False, track=True,
                    training=True)
    batch_norm_case("bn2d_eval", (3, 4, 5, 6), affine=True, track=True, training=False)
    batch_norm_case("bn2d_nostats_eval", (2, 3, 4, 4), affine=True, track=False,
                    training=False)
    layer_norm_case("ln_affine", (2, 7, 16), affine=True)
    layer_norm_case("ln_plain", (5, 12), affine=False, eps=1e-6)
    embedding_case("embedding")
    attention_case("attn_nomask", 2, 3, 5, 7, 8, None)
    attention_case("attn_causal", 2, 2, 4, 6, 8, "causal")
    attention_case("attn_batchmask", 2, 2, 3, 5, 4, "batch")
    block_case("vit_block")


if __name__ == "__main__":
    main()
