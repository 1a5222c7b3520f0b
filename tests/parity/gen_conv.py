#!/usr/bin/python3
"""Writes PyTorch reference fixtures for convolution and pooling into fixtures/conv/.

Run from the repository root: /usr/bin/python3 tests/parity/gen_conv.py
Format of each .bin (read by tests/unit/test_conv.c):
    LFX1\n
    meta <kind> <ints...>\n          kind conv or pool (fields below)
    array <name> <ndim> <dims...>\n  one line per array, in data order
    data\n
    <the arrays as little-endian float32, concatenated>
conv meta: nd transposed groups has_bias stride[3] padding[3] dilation[3] output_padding[3]
pool meta: op (0 max, 1 avg, 2 global) nd kernel stride padding
Arrays: x, w, b (if bias), y, gy (the fixed upstream gradient), gx, gw, gb / pool: x y gy gx
"""
import os
import struct

import numpy as np
import torch
import torch.nn.functional as F

torch.manual_seed(1234)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "conv")


def write(name, meta, arrays):
    with open(os.path.join(OUT, name + ".bin"), "wb") as f:
        f.write(b"LFX1\n")
        f.write(("meta " + " ".join(str(v) for v in meta) + "\n").encode())
        for k, a in arrays:
            f.write(f"array {k} {a.ndim} {' '.join(str(d) for d in a.shape)}\n".encode())
        f.write(b"data\n")
        for _, a in arrays:
            f.write(np.ascontiguousarray(a.detach().numpy(), dtype="<f4").tobytes())


def pad3(v, nd):
    v = list(v) if isinstance(v, (list, tuple)) else [v] * nd
    return v + [0] * (3 - nd)


def conv_case(name, nd, transposed, xs, ws, stride=1, padding=0, dilation=1, groups=1,
              output_padding=0, bias=True):
    x = torch.randn(*xs, dtype=torch.float64, requires_grad=True)
    w = (torch.randn(*ws, dtype=torch.float64) * 0.5).requires_grad_()
    cout = ws[1] * groups if transposed else ws[0]
    b = torch.randn(cout, dtype=torch.float64, requires_grad=True) if bias else None
    if transposed:
        fn = F.conv_transpose2d if nd == 2 else F.conv_transpose3d
        y = fn(x, w, b, stride=stride, padding=padding, output_padding=output_padding,
               groups=groups, dilation=dilation)
    else:
        fn = F.conv2d if nd == 2 else F.conv3d
        y = fn(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
    gy = torch.randn_like(y)
    y.backward(gy)
    meta = ["conv", nd, int(transposed), groups, int(bias)] + pad3(stride, nd) + \
        pad3(padding, nd) + pad3(dilation, nd) + pad3(output_padding, nd)
    arrays = [("x", x), ("w", w)] + ([("b", b)] if bias else []) + \
        [("y", y), ("gy", gy), ("gx", x.grad), ("gw", w.grad)] + ([("gb", b.grad)] if bias else [])
    write(name, meta, arrays)


def pool_case(name, op, nd, xs, kernel=0, stride=0, padding=0):
    x = torch.randn(*xs, dtype=torch.float64, requires_grad=True)
    if op == 0:
        y = (F.max_pool2d if nd == 2 else F.max_pool3d)(x, kernel, stride, padding)
    elif op == 1:
        y = (F.avg_pool2d if nd == 2 else F.avg_pool3d)(x, kernel, stride, padding,
                                                        count_include_pad=True)
    else:
        y = (F.adaptive_avg_pool2d if nd == 2 else F.adaptive_avg_pool3d)(x, 1).flatten(1)
    gy = torch.randn_like(y)
    y.backward(gy)
    write(name, ["pool", op, nd, kernel, stride, padding],
          [("x", x), ("y", y), ("gy", gy), ("gx", x.grad)])


def main():
    os.makedirs(OUT, exist_ok=True)
    conv_case("conv2d_basic", 2, False, (2, 3, 7, 7), (4, 3, 3, 3), padding=1)
    conv_case("conv2d_s2_odd", 2, False, (2, 3, 9, 8), (5, 3, 3, 3), stride=2, padding=1)
    conv_case("conv2d_dil2", 2, False, (2, 2, 9, 9), (3, 2, 3, 3), padding=2, dilation=2)
    conv_case("conv2d_groups2", 2, False, (2, 4, 6, 7), (6, 2, 3, 3), padding=1, groups=2)
    conv_case("conv2d_depthwise", 2, False, (2, 4, 6, 6), (4, 1, 3, 3), stride=2, padding=1,
              groups=4)
    conv_case("conv2d_1x1", 2, False, (3, 5, 5, 4), (3, 5, 1, 1), bias=False)
    conv_case("conv2d_1x1_s2", 2, False, (2, 6, 7, 7), (4, 6, 1, 1), stride=2)
    conv_case("conv2d_rect", 2, False, (2, 3, 8, 10), (4, 3, 2, 5), stride=(2, 1),
              padding=(0, 2), dilation=(1, 2))
    conv_case("conv2d_resnet_stem", 2, False, (2, 3, 16, 16), (8, 3, 7, 7), stride=2, padding=3)
    conv_case("conv3d_s2", 3, False, (2, 2, 5, 6, 4), (3, 2, 3, 3, 3), stride=2, padding=1)
    conv_case("conv3d_g2_dil2", 3, False, (1, 4, 6, 6, 6), (4, 2, 2, 3, 3), padding=1,
              dilation=2, groups=2)
    conv_case("convt2d_s2_op1", 2, True, (2, 4, 5, 5), (4, 3, 3, 3), stride=2, padding=1,
              output_padding=1)
    conv_case("convt2d_g2", 2, True, (2, 4, 4, 3), (4, 2, 3, 3), stride=2, output_padding=1,
              groups=2)
    conv_case("convt2d_dil2", 2, True, (2, 3, 5, 5), (3, 2, 3, 3), padding=1, dilation=2,
              bias=False)
    conv_case("convt3d_s2_op1", 3, True, (1, 2, 3, 4, 3), (2, 3, 3, 3, 3), stride=2, padding=1,
              output_padding=1)
    pool_case("maxpool2d_k3s2p1", 0, 2, (2, 3, 9, 9), 3, 2, 1)
    pool_case("maxpool2d_k2s2", 0, 2, (2, 2, 8, 7), 2, 2, 0)
    pool_case("maxpool3d_k3s2p1", 0, 3, (1, 2, 5, 6, 7), 3, 2, 1)
    pool_case("avgpool2d_k3s2p1", 1, 2, (2, 3, 9, 8), 3, 2, 1)
    pool_case("avgpool2d_k2s1", 1, 2, (2, 2, 5, 5), 2, 1, 0)
    pool_case("avgpool3d_k2s2p1", 1, 3, (1, 2, 5, 4, 6), 2, 2, 1)
    pool_case("gap2d", 2, 2, (3, 4, 5, 3))
    pool_case("gap3d", 2, 3, (2, 3, 3, 4, 2))


if __name__ == "__main__":
    main()
