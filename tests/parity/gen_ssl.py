#!/usr/bin/python3
"""Reference fixtures for the self-supervised losses (PyTorch 1.13, Debian python3-torch).
Run from the repository root: /usr/bin/python3 tests/parity/gen_ssl.py
Writes tests/parity/fixtures/ssl/*.npy (float32 unless named otherwise)."""
import os
import numpy as np
import torch
import torch.nn.functional as F

OUT = "tests/parity/fixtures/ssl"
os.makedirs(OUT, exist_ok=True)
torch.manual_seed(20261122)


def save(name, t):
    np.save(os.path.join(OUT, name + ".npy"), t.detach().cpu().numpy().astype(np.float32))


def nt_xent(z, temperature):
    """SimCLR's loss as commonly written (SimCLR paper, eq. 1; e.g. sthalles/SimCLR)."""
    m = z.shape[0]
    n = m // 2
    u = F.normalize(z, dim=1)
    sim = u @ u.t() / temperature
    sim = sim.masked_fill(torch.eye(m, dtype=torch.bool), float("-inf"))
    labels = (torch.arange(m) + n) % m
    return F.cross_entropy(sim, labels)


for tag, (n, d, t) in {"ntxent_a": (8, 16, 0.5), "ntxent_b": (32, 128, 0.1)}.items():
    z = torch.randn(2 * n, d, requires_grad=True)
    loss = nt_xent(z, t)
    loss.backward()
    save(tag + "_z", z)
    save(tag + "_loss", loss.reshape(1))
    save(tag + "_grad", z.grad)
    np.save(os.path.join(OUT, tag + "_temperature.npy"), np.array([t], dtype=np.float32))
print("wrote", OUT)
