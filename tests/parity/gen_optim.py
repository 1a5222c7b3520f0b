#!/usr/bin/python3
"""Optimizer parity fixtures: trajectories of torch.optim.SGD / AdamW (torch 1.13) and of a
LARS written here after solo-learn's formulation, on three small parameters with fixed
synthetic gradients and a changing learning rate.

Writes tests/parity/fixtures/optim/cases.txt (one line per case: name kind wd momentum nesterov
beta1 beta2 eps eta decay_all) and <name>.bin: a text line
'LFOPT1 steps=S sizes=a,b,c\n' then little-endian float32: lr[S], initial params, per step the
gradients of the three params, then per step the params after the step.

Params: w (4, 5) decayed, b (5) flagged no-decay (own group with weight_decay 0 unless
decay_all), s (6) decayed, with an all-zero gradient at step 2 (LARS: no adaptation).
Run: /usr/bin/python3 tests/parity/gen_optim.py   (from the repository root)
"""
import os
import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "optim")
STEPS = 6
SHAPES = {"w": (4, 5), "b": (5,), "s": (6,)}


def lars_step(params, bufs, grads, lr, wd, mom, nesterov, eta, eps, no_decay):
    """solo-learn LARS (clip_lars_lr=False), exclusion by the no_decay set."""
    with torch.no_grad():
        for name, p in params.items():
            g = grads[name]
            d = g.clone()
            if name not in no_decay:
                pn, gn = torch.norm(p), torch.norm(g)
                if pn != 0 and gn != 0:
                    r = eta * pn / (gn + pn * wd + eps)
                    d = (g + wd * p) * r
            if mom != 0:
                if name not in bufs:
                    bufs[name] = d.clone()
                else:
                    bufs[name].mul_(mom).add_(d)
                d = d + mom * bufs[name] if nesterov else bufs[name]
            p.add_(d, alpha=-lr)


def run(case):
    gen = torch.Generator().manual_seed(1234)
    params = {k: torch.randn(*s, generator=gen) * 0.5 for k, s in SHAPES.items()}
    init = {k: v.clone() for k, v in params.items()}
    grads = []
    for t in range(STEPS):
        gt = {k: torch.randn(*s, generator=gen) * (0.1 + 0.3 * t) for k, s in SHAPES.items()}
        if t == 2:
            gt["s"].zero_()
        grads.append(gt)
    lrs = [float(np.float32(case["lr"] * (1.0 - 0.12 * t))) for t in range(STEPS)]
    kind, wd = case["kind"], case["wd"]
    no_decay = set() if case.get("decay_all") else {"b"}
    for p in params.values():
        p.requires_grad_(True)
    groups = [{"params": [params["w"], params["s"]], "weight_decay": wd},
              {"params": [params["b"]], "weight_decay": 0.0 if no_decay else wd}]
    if kind == "sgd":
        opt = torch.optim.SGD(groups, lr=lrs[0], momentum=case["momentum"],
                              nesterov=bool(case["nesterov"]))
    elif kind == "adamw":
        opt = torch.optim.AdamW(groups, lr=lrs[0], betas=(case["beta1"], case["beta2"]),
                                eps=case["eps"])
    bufs = {}
    traj = []
    for t in range(STEPS):
        for k, p in params.items():
            p.grad = grads[t][k].clone()
        if kind == "lars":
            lars_step(params, bufs, grads[t], lrs[t], wd, case["momentum"], case["nesterov"],
                      case["eta"], case["eps"], no_decay)
        else:
            for g in opt.param_groups:
                g["lr"] = lrs[t]
            opt.step()
        traj.append({k: p.detach().clone() for k, p in params.items()})
    return lrs, init, grads, traj


CASES = [
    dict(name="sgd_plain", kind="sgd", lr=0.1, wd=0.01, momentum=0.0, nesterov=0),
    dict(name="sgd_momentum", kind="sgd", lr=0.1, wd=1e-3, momentum=0.9, nesterov=0),
    dict(name="sgd_nesterov", kind="sgd", lr=0.05, wd=5e-4, momentum=0.9, nesterov=1),
    dict(name="sgd_decay_all", kind="sgd", lr=0.1, wd=0.01, momentum=0.9, nesterov=0, decay_all=1),
    dict(name="adamw", kind="adamw", lr=1e-2, wd=0.05, beta1=0.9, beta2=0.999, eps=1e-8),
    dict(name="adamw_betas", kind="adamw", lr=3e-2, wd=0.1, beta1=0.8, beta2=0.95, eps=1e-6),
    dict(name="adamw_decay_all", kind="adamw", lr=1e-2, wd=0.05, beta1=0.9, beta2=0.999,
         eps=1e-8, decay_all=1),
    dict(name="lars", kind="lars", lr=0.5, wd=1e-4, momentum=0.9, nesterov=0, eta=0.02, eps=1e-8),
    dict(name="lars_nesterov", kind="lars", lr=2.0, wd=1e-6, momentum=0.9, nesterov=1,
         eta=1e-3, eps=1e-8),
    dict(name="lars_nomom", kind="lars", lr=1.0, wd=1e-3, momentum=0.0, nesterov=0, eta=0.01,
         eps=1e-8),
]


def main():
    os.makedirs(OUT, exist_ok=True)
    lines = []
    for c in CASES:
        lrs, init, grads, traj = run(c)
        with open(os.path.join(OUT, c["name"] + ".bin"), "wb") as f:
            sizes = ",".join(str(int(np.prod(s))) for s in SHAPES.values())
            f.write(f"LFOPT1 steps={STEPS} sizes={sizes}\n".encode())
            arrs = [np.array(lrs, dtype="<f4")]
            arrs += [init[k].numpy().ravel() for k in SHAPES]
            for t in range(STEPS):
                arrs += [grads[t][k].numpy().ravel() for k in SHAPES]
            for t in range(STEPS):
                arrs += [traj[t][k].numpy().ravel() for k in SHAPES]
            f.write(np.concatenate(arrs).astype("<f4").tobytes())
        lines.append("%s %s %.10g %.10g %d %.10g %.10g %.10g %.10g %d" % (
            c["name"], c["kind"], c["wd"], c.get("momentum", 0.0), c.get("nesterov", 0),
            c.get("beta1", 0.0), c.get("beta2", 0.0), c.get("eps", 0.0), c.get("eta", 0.0),
            c.get("decay_all", 0)))
    with open(os.path.join(OUT, "cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote", len(CASES), "cases to", OUT)


if __name__ == "__main__":
    main()
