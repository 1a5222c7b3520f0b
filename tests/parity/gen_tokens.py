#!/usr/bin/python3
"""Writes the masked-token transformer parity fixture (tests/parity/fixtures/tokens/*.bin) for
tests/unit/test_token_model.c, and defines the PyTorch module (TokenModel) whose state_dict
labelfree's lf_token_model reproduces name for name (bench/torch_mlm.py times the same module).

The blocks are gen_nn.py's timm-style Block; the reference is computed in float64 from
float32-rounded weights, so a difference in the C test is the C float32 error alone. The
fixture holds a padded sequence (pad keys masked with -inf), a length below max_len, and
LayerNorm affine parameters moved away from 1 / 0. Format: gen_nn.py's LFNN1.
Run: /usr/bin/python3 tests/parity/gen_tokens.py   (torch 1.13)
"""
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

from gen_nn import Block, Writer, perturb

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "tokens")
IGNORE = -100


class MLMHead(nn.Module):
    """BERT's prediction head: [dense, GELU, LayerNorm] (transform=True), then the decoder."""

    def __init__(self, dim, vocab, eps, transform=True):
        super().__init__()
        if transform:
            self.dense = nn.Linear(dim, dim)
            self.norm = nn.LayerNorm(dim, eps=eps)
        self.transform = transform
        self.decoder = nn.Linear(dim, vocab)

    def forward(self, h):
        if self.transform:
            h = self.norm(F.gelu(self.dense(h)))
        return self.decoder(h)


class TokenModel(nn.Module):
    def __init__(self, vocab, max_len, dim, depth, heads, mlp_ratio=4.0, pad_id=-1,
                 head_transform=True):
        super().__init__()
        self.pos_embed = nn.Parameter(torch.zeros(1, max_len, dim))
        self.embed = nn.Embedding(vocab, dim)
        self.blocks = nn.ModuleList([Block(dim, heads, mlp_ratio) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = MLMHead(dim, vocab, 1e-6, head_transform)
        self.pad_id = pad_id
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.embed.weight, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def hidden(self, ids):
        T = ids.shape[1]
        h = self.embed(ids) + self.pos_embed[:, :T]
        mask = None
        if self.pad_id >= 0 and bool((ids == self.pad_id).any()):
            mask = torch.zeros(ids.shape, dtype=h.dtype).masked_fill(ids == self.pad_id,
                                                                      float("-inf"))
            mask = mask[:, None, None, :]  # (N, 1, 1, T): keys
        for b in self.blocks:
            h = b(h, mask)
        return self.norm(h)

    def forward(self, ids):
        return self.head(self.hidden(ids))


def mlm_loss(logits, targets):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                           ignore_index=IGNORE)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(4321)
    V, L, E, depth, heads, pad = 21, 12, 32, 2, 4, 0  # 4^2 two-mers + 5 special ids
    N, T = 3, 10
    m = TokenModel(V, L, E, depth, heads, pad_id=pad)
    perturb(m, g)
    ids = torch.randint(5, V, (N, T), generator=g)
    ids[:, 0] = 2            # [CLS]
    ids[1, 7:] = pad         # a padded sequence
    ids[2, 3] = 4            # [MASK] as input
    targets = torch.full((N, T), IGNORE, dtype=torch.long)
    for n, t in [(0, 1), (0, 5), (0, 9), (1, 2), (1, 4), (2, 3), (2, 8)]:
        targets[n, t] = int(torch.randint(5, V, (1,), generator=g))

    w = Writer()
    m = m.float()
    for k, v in m.state_dict().items():
        w.add("param/" + k, v)
    m = m.double().train()
    hidden = m.hidden(ids)
    logits = m.head(hidden)
    loss = mlm_loss(logits, targets)
    loss.backward()
    w.add("ids", ids.double())
    w.add("targets", targets.double())
    w.add("hidden", hidden)
    w.add("logits", logits)
    w.add("loss", loss.reshape(1))
    for k, p in m.named_parameters():
        w.add("grad/" + k, p.grad)
    w.save("tokens_tiny.bin", OUT)
    print("tokens loss", loss.item())


if __name__ == "__main__":
    main()
