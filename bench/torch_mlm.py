#!/usr/bin/python3
"""PyTorch reference for labelfree's masked-token transformer benchmark (bench/bench_mlm.c):
the same module (tests/parity/gen_tokens.py's TokenModel, whose state_dict the C model
reproduces name for name) and shapes, timed as
  train  one step: forward, MLM cross-entropy over full (N, T, V) logits with ignore_index
         -100 (BERT's masking, done once before timing), backward, AdamW (lr 1e-4, wd .01)
  infer  hidden states (N, T, E) in eval mode under no_grad (no head)
each the median of --steps timed steps after --warmup.

  /usr/bin/python3 bench/torch_mlm.py --threads 2 --steps 5 --warmup 2 --json out.json

Prints one JSON object with the keys of bench_mlm.c; FLOPs are counted from the shapes the same
way (see the header of bench_mlm.c)."""
import argparse
import os
import sys

import torch
from torch_util import add_common_args, emit, parse, timed

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "parity"))
from gen_tokens import IGNORE, TokenModel, mlm_loss  # noqa: E402

N_SPECIAL, MASK_ID = 5, 4  # [PAD] [UNK] [CLS] [SEP] [MASK]


def bert_mask(ids, vocab, g, prob=0.15):
    """BERT's 80/10/10 rule over ids that hold no special id; random ids are not special."""
    sel = torch.rand(ids.shape, generator=g) < prob
    targets = torch.where(sel, ids, torch.full_like(ids, IGNORE))
    r = torch.rand(ids.shape, generator=g)
    rand_ids = torch.randint(N_SPECIAL, vocab, ids.shape, generator=g)
    inputs = torch.where(sel & (r < 0.8), torch.full_like(ids, MASK_ID), ids)
    inputs = torch.where(sel & (r >= 0.8) & (r < 0.9), rand_ids, inputs)
    return inputs, targets


def flops_per_token(a, head):
    E, T, V, hidden = a.width, a.seq, a.vocab, int(a.mlp_ratio * a.width)
    if head:
        return 2 * E * E + 2 * E * V
    return a.depth * (2 * (4 * E * E + 2 * E * hidden) + 4 * T * E)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab", type=int, default=4101)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--depth", type=int, default=6)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--mlp-ratio", type=float, default=4.0)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--infer-batch-size", type=int, default=256)
    add_common_args(ap, "infer")
    a = parse(ap, torch)
    g = torch.Generator().manual_seed(7)
    model = TokenModel(a.vocab, a.seq, a.width, a.depth, a.heads, a.mlp_ratio)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
    ids = torch.randint(N_SPECIAL, a.vocab, (max(a.batch_size, a.infer_batch_size), a.seq),
                        generator=g)
    inputs, targets = bert_mask(ids[:a.batch_size], a.vocab, g)
    fb, fh = flops_per_token(a, 0), flops_per_token(a, 1)
    res = {"impl": "torch", "vocab": a.vocab, "seq_len": a.seq, "width": a.width,
           "depth": a.depth, "heads": a.heads, "mlp_ratio": a.mlp_ratio,
           "batch_size": a.batch_size, "threads": a.threads, "torch": torch.__version__,
           "forward_gflop_per_sequence": fb * a.seq / 1e9,
           "head_gflop_per_sequence": fh * a.seq / 1e9}
    if a.mode in ("train", "both"):
        model.train()
        last = [0.0]

        def step():
            opt.zero_grad(set_to_none=True)
            loss = mlm_loss(model(inputs), targets)
            loss.backward()
            opt.step()
            last[0] = loss.item()

        t = timed(step, a.steps, a.warmup)
        tok = a.batch_size * a.seq
        res.update({"train_step_s": t, "train_tokens_per_s": tok / t,
                    "train_sequences_per_s": a.batch_size / t,
                    "train_gflops": 3 * (fb + fh) * tok / t / 1e9, "last_loss": last[0]})
    if a.mode in ("infer", "both"):
        model.eval()
        xi = ids[:a.infer_batch_size]

        def infer():
            with torch.no_grad():
                model.hidden(xi)

        t = timed(infer, a.steps, a.warmup)
        tok = a.infer_batch_size * a.seq
        res.update({"infer_batch_size": a.infer_batch_size, "infer_step_s": t,
                    "infer_tokens_per_s": tok / t, "infer_sequences_per_s": a.infer_batch_size / t,
                    "infer_gflops": fb * tok / t / 1e9})
    emit(res, a.json)


if __name__ == "__main__":
    main()
