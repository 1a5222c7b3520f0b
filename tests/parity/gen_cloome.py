#!/usr/bin/python3
"""Reference fixtures for the paired contrastive losses (CLIP InfoNCE, CLOOME's CLOOB).
PyTorch 1.13 (Debian python3-torch). Run from the repository root:
    /usr/bin/python3 tests/parity/gen_cloome.py
Writes tests/parity/fixtures/cloome/<case>_{a,b,log_inv_tau,beta,loss,grad_a,grad_b,grad_s}.npy.

The formulas follow CLOOME's public training code (ml-jku/cloome, src/training/methods.py):
features L2-normalised, inv_tau = exp(logit_inv_tau), `clip` = mean of the two cross
entropies, `cloob` = infoLOOB(p_xx, p_xy) + infoLOOB(p_yy, p_yx) after Hopfield retrieval.
The Hopfield layer there (hflayers, every pattern static, no projections, one head, one
update step, scaling beta) reduces to softmax(beta * state @ stored^T) @ stored, written out
here so that the fixture needs nothing beyond torch."""
import os
import numpy as np
import torch
import torch.nn.functional as F

OUT = "tests/parity/fixtures/cloome"
os.makedirs(OUT, exist_ok=True)
torch.manual_seed(20261123)
torch.set_default_dtype(torch.float64)  # reference in double, stored as float32


def save(name, t):
    np.save(os.path.join(OUT, name + ".npy"), t.detach().cpu().numpy().astype(np.float32))


def clip(x, y, inv_tau):
    logits = inv_tau * x @ y.t()
    gt = torch.arange(len(x))
    return F.cross_entropy(logits, gt) / 2 + F.cross_entropy(logits.t(), gt) / 2


def hopfield(state, stored, beta):
    r = torch.softmax(beta * state @ stored.t(), dim=1) @ stored
    return r / r.norm(dim=1, keepdim=True)


def info_loob(x, y, i, inv_tau):
    tau = 1 / inv_tau
    k = x @ y.t() / tau
    positives = -torch.mean(torch.sum(k * i, dim=1))
    arg_lse = k * torch.logical_not(i) + i * -1000.0
    negatives = torch.mean(torch.logsumexp(arg_lse, dim=1))
    return tau * (positives + negatives)


def cloob(x, y, inv_tau, beta):
    p_xx, p_yy = hopfield(x, x, beta), hopfield(y, y, beta)
    p_xy, p_yx = hopfield(y, x, beta), hopfield(x, y, beta)
    i = torch.eye(len(x)) > 0.5
    return info_loob(p_xx, p_xy, i, inv_tau) + info_loob(p_yy, p_yx, i, inv_tau)


cases = {
    "clip_a": ("clip", 8, 16, np.log(14.3), 0),
    "clip_b": ("clip", 32, 64, np.log(1 / 0.07), 0),
    "cloob_a": ("cloob", 8, 16, np.log(14.3), 14.3),
    "cloob_b": ("cloob", 32, 64, np.log(30.0), 14.3),
    "cloob_c": ("cloob", 16, 32, np.log(14.3), 3.0),
}
for tag, (kind, n, d, s0, beta) in cases.items():
    a = torch.randn(n, d).float().double().requires_grad_(True)
    b = torch.randn(n, d).float().double()
    if tag == "cloob_b":  # correlated pairs, as after some training
        b = b * 0.5 + a.detach()
    b = b.float().double().requires_grad_(True)
    s = torch.tensor(float(np.float32(s0)), requires_grad=True)
    x, y = F.normalize(a, dim=1), F.normalize(b, dim=1)
    loss = clip(x, y, s.exp()) if kind == "clip" else cloob(x, y, s.exp(), beta)
    loss.backward()
    save(tag + "_a", a)
    save(tag + "_b", b)
    save(tag + "_log_inv_tau", s.reshape(1))
    save(tag + "_beta", torch.tensor([beta]))
    save(tag + "_loss", loss.reshape(1))
    save(tag + "_grad_a", a.grad)
    save(tag + "_grad_b", b.grad)
    save(tag + "_grad_s", s.grad.reshape(1))
    print(tag, float(loss), float(s.grad))
print("wrote", OUT)
