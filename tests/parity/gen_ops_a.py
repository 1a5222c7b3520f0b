"""PyTorch reference fixtures for the elementwise, activation, reduction, softmax and loss ops.

Run from the repository root:  /usr/bin/python3 tests/parity/gen_ops_a.py
Writes tests/parity/fixtures/ops_a/<case>.bin (inputs x0.., optional int64 "target", the op's
scalar arguments "args", output "y", upstream gradient "gy", input gradients "gx0"..) and
cases.txt ("<case> <op>" per line), read by tests/unit/test_parity_ops_a.c.
Computed in float64 then stored as float32, so the references carry no float32 rounding.
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_io import write_fixture  # noqa: E402

OUT = os.path.join("tests", "parity", "fixtures", "ops_a")
torch.manual_seed(1234)


def rnd(*shape, lo=-2.0, hi=2.0):
    # rounded to float32 first so C (float32 inputs) and torch see the same values
    x = torch.rand(tuple(shape), dtype=torch.float64) * (hi - lo) + lo
    return x.float().double()


def fdims(mask, nd):
    return [i for i in range(nd) if (mask >> i) & 1]


cases = []  # (case name, op key, inputs, args, target, fn)


def add(name, op, inputs, fn, args=(), target=None, grad=None):
    cases.append((name, op, inputs, list(args), target, fn, grad))


# elementwise, broadcasting both ways
add("add_same", "add", [rnd(3, 4), rnd(3, 4)], lambda a, b: a + b)
add("add_bcast", "add", [rnd(2, 1, 3), rnd(4, 3)], lambda a, b: a + b)
add("sub_bcast", "sub", [rnd(3, 1), rnd(1, 5)], lambda a, b: a - b)
add("mul_bcast", "mul", [rnd(3, 1), rnd(1, 5)], lambda a, b: a * b)
add("mul_bias", "mul", [rnd(5), rnd(2, 3, 5)], lambda a, b: a * b)
add("div_bcast", "div", [rnd(2, 3, 4), rnd(4, lo=0.5, hi=2)], lambda a, b: a / b)
add("div_bcast2", "div", [rnd(3, 1), rnd(2, 1, 4, lo=-2, hi=-0.5)], lambda a, b: a / b)
add("scale", "scale", [rnd(2, 7)], lambda x: -1.5 * x, args=[-1.5])
add("add_scalar", "add_scalar", [rnd(2, 7)], lambda x: x + 0.25, args=[0.25])
add("exp", "exp", [rnd(3, 5)], torch.exp)
add("log", "log", [rnd(3, 5, lo=0.1, hi=3)], torch.log)
add("sqrt", "sqrt", [rnd(3, 5, lo=0.1, hi=3)], torch.sqrt)
add("pow", "pow", [rnd(3, 5, lo=0.1, hi=3)], lambda x: x.pow(2.5), args=[2.5])
add("pow2", "pow", [rnd(3, 5)], lambda x: x.pow(2), args=[2])
add("clamp", "clamp", [rnd(4, 6)], lambda x: x.clamp(-0.5, 0.75), args=[-0.5, 0.75])
# activations
wide = lambda: rnd(4, 9, lo=-6, hi=6)  # noqa: E731
add("relu", "relu", [wide()], F.relu)
add("gelu", "gelu", [wide()], F.gelu)
add("silu", "silu", [wide()], F.silu)
add("sigmoid", "sigmoid", [wide()], torch.sigmoid)
add("tanh", "tanh", [wide()], torch.tanh)
add("softplus", "softplus", [rnd(4, 9, lo=-25, hi=25)], F.softplus)
# reductions
for mask, keep in [(1, 0), (2, 1), (5, 0), (6, 1)]:
    add(f"sum_m{mask}_k{keep}", "sum", [rnd(3, 4, 5)],
        lambda x, m=mask, k=keep: x.sum(dim=fdims(m, 3), keepdim=bool(k)), args=[mask, keep])
    add(f"mean_m{mask}_k{keep}", "mean", [rnd(3, 4, 5)],
        lambda x, m=mask, k=keep: x.mean(dim=fdims(m, 3), keepdim=bool(k)), args=[mask, keep])
for dim, keep in [(1, 0), (-1, 1), (0, 0)]:
    add(f"max_d{dim}_k{keep}", "max", [rnd(3, 4, 5)],
        lambda x, d=dim, k=keep: x.max(dim=d, keepdim=bool(k)).values, args=[dim, keep])
add("sum_all", "sum_all", [rnd(3, 4, 5)], lambda x: x.sum())
add("mean_all", "mean_all", [rnd(3, 4, 5)], lambda x: x.mean())
# softmax family
for dim in [-1, 1]:
    add(f"softmax_d{dim}", "softmax", [rnd(3, 4, 5, lo=-5, hi=5)],
        lambda x, d=dim: F.softmax(x, dim=d), args=[dim])
    add(f"log_softmax_d{dim}", "log_softmax", [rnd(3, 4, 5, lo=-5, hi=5)],
        lambda x, d=dim: F.log_softmax(x, dim=d), args=[dim])
    add(f"logsumexp_d{dim}", "logsumexp", [rnd(3, 4, 5, lo=-5, hi=5)],
        lambda x, d=dim: torch.logsumexp(x, dim=d, keepdim=d == 1), args=[dim, int(dim == 1)])
    add(f"l2_normalize_d{dim}", "l2_normalize", [rnd(3, 4, 5)],
        lambda x, d=dim: F.normalize(x, dim=d, eps=1e-12), args=[dim, 1e-12])
xs = rnd(3, 4)
xs[1] *= 1e-7  # a row whose norm is below eps: the gradient takes the gy / eps branch
add("l2_normalize_eps", "l2_normalize", [xs], lambda x: F.normalize(x, dim=1, eps=1e-5),
    args=[1, 1e-5])
# losses
t = torch.tensor([0, 4, 2, -100, 1, 3])
add("ce", "cross_entropy", [rnd(6, 5, lo=-3, hi=3)],
    lambda x, t=t: F.cross_entropy(x, t, ignore_index=-100), args=[-100, 0], target=t)
add("ce_smooth", "cross_entropy", [rnd(6, 5, lo=-3, hi=3)],
    lambda x, t=t: F.cross_entropy(x, t, ignore_index=-100, label_smoothing=0.1),
    args=[-100, 0.1], target=t)
t3 = torch.tensor([[[0, 2, 1], [3, 3, 0]], [[1, 7, 2], [7, 0, 1]]])
add("ce_spatial", "cross_entropy", [rnd(2, 4, 2, 3, lo=-3, hi=3)],
    lambda x, t=t3: F.cross_entropy(x, t, ignore_index=7, label_smoothing=0.25),
    args=[7, 0.25], target=t3)
add("mse", "mse_loss", [rnd(3, 4), rnd(3, 4)], F.mse_loss)
add("bce", "bce_with_logits", [rnd(4, 5, lo=-8, hi=8), rnd(4, 5, lo=0, hi=1)],
    F.binary_cross_entropy_with_logits)


def main():
    os.makedirs(OUT, exist_ok=True)
    index = []
    for name, op, inputs, args, target, fn, _ in cases:
        xs = [x.clone().requires_grad_(True) for x in inputs]
        y = fn(*xs)
        gy = rnd(*y.shape, lo=-1, hi=1)
        y.backward(gy)
        arrays = [(f"x{i}", x.detach().numpy()) for i, x in enumerate(xs)]
        if target is not None:
            arrays.append(("target", target.numpy().astype(np.int64)))
        arrays.append(("args", np.array(args, dtype=np.float64)))
        arrays += [("y", y.detach().numpy()), ("gy", gy.numpy())]
        arrays += [(f"gx{i}", x.grad.numpy()) for i, x in enumerate(xs)]
        write_fixture(os.path.join(OUT, name + ".bin"), arrays)
        index.append(f"{name} {op}")
    with open(os.path.join(OUT, "cases.txt"), "w") as f:
        f.write("\n".join(index) + "\n")
    print(f"wrote {len(index)} cases to {OUT}")


if __name__ == "__main__":
    main()
