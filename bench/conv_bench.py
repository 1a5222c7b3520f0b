#!/usr/bin/python3
"""PyTorch (oneDNN) reference for bench/conv_bench.c: forward + backward of one conv layer.
Usage: /usr/bin/python3 bench/conv_bench.py [N C H K stride threads iters]"""
import sys
import time

import torch
import torch.nn.functional as F

a = [int(v) for v in sys.argv[1:]] + [None] * 7
N, C, H, K, S, T, iters = [v if v is not None else d for v, d in
                           zip(a[:7], [32, 64, 32, 3, 1, 2, 10])]
cout = C if S == 1 else 2 * C
torch.set_num_threads(T)
w = (torch.randn(cout, C, K, K) * 0.05).requires_grad_()
tf, tb = [], []
for it in range(iters + 2):
    x = torch.randn(N, C, H, H, requires_grad=True)
    t0 = time.perf_counter()
    y = F.conv2d(x, w, None, stride=S, padding=K // 2)
    t1 = time.perf_counter()
    seed = torch.full_like(y, 1e-3)
    t2 = time.perf_counter()
    y.backward(seed)
    t3 = time.perf_counter()
    if it >= 2:
        tf.append(t1 - t0)
        tb.append(t3 - t2)
    w.grad = None
tf.sort()
tb.sort()
m = iters // 2
print(f"torch {torch.__version__} conv N={N} C={C}->{cout} {H}x{H} k={K} s={S} threads={T}: "
      f"forward {1e3 * tf[m]:.2f} ms, backward {1e3 * tb[m]:.2f} ms, "
      f"total {1e3 * (tf[m] + tb[m]):.2f} ms (median of {iters})")
