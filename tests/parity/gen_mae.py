#!/usr/bin/python3
"""Writes the MAE parity fixtures (tests/parity/fixtures/mae/*.bin) for tests/unit/test_mae.c.

The model is facebookresearch/mae's MaskedAutoencoderViT (models_mae.py) written out here with
the same module structure, parameter names, sin-cos tables, masking (argsort of noise), loss
and initialisation, on timm-style blocks (timm is not installed; gen_nn.py's Block is timm's).
The patch order is stored so that the C side masks the same patches. References are computed
in float64 from float32-rounded weights and inputs, stored as float32 (format: gen_nn.py's).
Run: /usr/bin/python3 tests/parity/gen_mae.py   (torch 1.13, numpy)
"""
import os

import numpy as np
import torch
import torch.nn as nn

from gen_nn import Block, PatchEmbed, Writer, perturb

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "mae")


# ---------------------------------------------------------------- MAE's pos_embed.py
def get_1d_sincos_pos_embed_from_grid(embed_dim, pos):
    omega = np.arange(embed_dim // 2, dtype=np.float64) / (embed_dim / 2.0)
    omega = 1.0 / 10000 ** omega
    out = np.einsum("m,d->md", pos.reshape(-1), omega)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


def get_2d_sincos_pos_embed(embed_dim, grid_size, cls_token=False):
    grid_h = np.arange(grid_size, dtype=np.float64)
    grid_w = np.arange(grid_size, dtype=np.float64)
    grid = np.stack(np.meshgrid(grid_w, grid_h), axis=0).reshape([2, 1, grid_size, grid_size])
    emb_h = get_1d_sincos_pos_embed_from_grid(embed_dim // 2, grid[0])
    emb_w = get_1d_sincos_pos_embed_from_grid(embed_dim // 2, grid[1])
    pos = np.concatenate([emb_h, emb_w], axis=1)
    if cls_token:
        pos = np.concatenate([np.zeros([1, embed_dim]), pos], axis=0)
    return pos


# ---------------------------------------------------------------- MAE's models_mae.py
class MaskedAutoencoderViT(nn.Module):
    def __init__(self, img_size=16, patch_size=4, in_chans=3, embed_dim=32, depth=2,
                 num_heads=4, decoder_embed_dim=16, decoder_depth=2, decoder_num_heads=2,
                 mlp_ratio=4.0, norm_pix_loss=False):
        super().__init__()
        self.patch_embed = PatchEmbed(in_chans, embed_dim, patch_size)
        self.patch = patch_size
        num_patches = (img_size // patch_size) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, embed_dim),
                                      requires_grad=False)
        self.blocks = nn.ModuleList([Block(embed_dim, num_heads, mlp_ratio)
                                     for _ in range(depth)])
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.decoder_embed = nn.Linear(embed_dim, decoder_embed_dim, bias=True)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_embed_dim))
        self.decoder_pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, decoder_embed_dim),
                                              requires_grad=False)
        self.decoder_blocks = nn.ModuleList([Block(decoder_embed_dim, decoder_num_heads, mlp_ratio)
                                             for _ in range(decoder_depth)])
        self.decoder_norm = nn.LayerNorm(decoder_embed_dim, eps=1e-6)
        self.decoder_pred = nn.Linear(decoder_embed_dim, patch_size ** 2 * in_chans, bias=True)
        self.norm_pix_loss = norm_pix_loss
        self.initialize_weights()

    def initialize_weights(self):
        side = int(self.patch_embed_count() ** 0.5)
        self.pos_embed.data.copy_(torch.from_numpy(
            get_2d_sincos_pos_embed(self.pos_embed.shape[-1], side, True)).float().unsqueeze(0))
        self.decoder_pos_embed.data.copy_(torch.from_numpy(
            get_2d_sincos_pos_embed(self.decoder_pos_embed.shape[-1], side, True)).float().unsqueeze(0))
        w = self.patch_embed.proj.weight.data
        torch.nn.init.xavier_uniform_(w.view([w.shape[0], -1]))
        torch.nn.init.normal_(self.cls_token, std=.02)
        torch.nn.init.normal_(self.mask_token, std=.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                torch.nn.init.xavier_uniform_(m.weight)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.LayerNorm):
                nn.init.constant_(m.bias, 0)
                nn.init.constant_(m.weight, 1.0)

    def patch_embed_count(self):
        return self.pos_embed.shape[1] - 1

    def patchify(self, imgs):
        p = self.patch
        h = w = imgs.shape[2] // p
        c = imgs.shape[1]
        x = imgs.reshape(imgs.shape[0], c, h, p, w, p)
        x = torch.einsum("nchpwq->nhwpqc", x)
        return x.reshape(imgs.shape[0], h * w, p ** 2 * c)

    def random_masking(self, x, mask_ratio, noise):
        N, L, D = x.shape
        len_keep = int(L * (1 - mask_ratio))
        ids_shuffle = torch.argsort(noise, dim=1)
        ids_restore = torch.argsort(ids_shuffle, dim=1)
        ids_keep = ids_shuffle[:, :len_keep]
        x_masked = torch.gather(x, dim=1, index=ids_keep.unsqueeze(-1).repeat(1, 1, D))
        mask = torch.ones([N, L], dtype=x.dtype)
        mask[:, :len_keep] = 0
        mask = torch.gather(mask, dim=1, index=ids_restore)
        return x_masked, mask, ids_restore, ids_shuffle

    def forward_encoder(self, x, mask_ratio, noise):
        x = self.patch_embed(x)
        x = x + self.pos_embed[:, 1:, :]
        x, mask, ids_restore, ids_shuffle = self.random_masking(x, mask_ratio, noise)
        cls_token = self.cls_token + self.pos_embed[:, :1, :]
        x = torch.cat((cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x), mask, ids_restore, ids_shuffle

    def forward_decoder(self, x, ids_restore):
        x = self.decoder_embed(x)
        mask_tokens = self.mask_token.repeat(x.shape[0], ids_restore.shape[1] + 1 - x.shape[1], 1)
        x_ = torch.cat([x[:, 1:, :], mask_tokens], dim=1)
        x_ = torch.gather(x_, dim=1, index=ids_restore.unsqueeze(-1).repeat(1, 1, x.shape[2]))
        x = torch.cat([x[:, :1, :], x_], dim=1)
        x = x + self.decoder_pos_embed
        for blk in self.decoder_blocks:
            x = blk(x)
        x = self.decoder_pred(self.decoder_norm(x))
        return x[:, 1:, :]

    def forward_loss(self, imgs, pred, mask):
        target = self.patchify(imgs)
        if self.norm_pix_loss:
            mean = target.mean(dim=-1, keepdim=True)
            var = target.var(dim=-1, keepdim=True)
            target = (target - mean) / (var + 1.e-6) ** .5
        loss = ((pred - target) ** 2).mean(dim=-1)
        return (loss * mask).sum() / mask.sum()

    def forward(self, imgs, mask_ratio, noise):
        latent, mask, ids_restore, ids_shuffle = self.forward_encoder(imgs, mask_ratio, noise)
        pred = self.forward_decoder(latent, ids_restore)
        return self.forward_loss(imgs, pred, mask), pred, mask, ids_shuffle


def fixture(fname, g, norm_pix, mask_ratio=0.75, n=3):
    m = MaskedAutoencoderViT(norm_pix_loss=norm_pix)
    perturb(m, g)  # non-trivial LayerNorm affines and biases, as gen_nn.py
    with torch.no_grad():
        m.mask_token.copy_(0.05 * torch.randn(m.mask_token.shape, generator=g))
    m = m.float()
    w = Writer()
    for k, v in m.state_dict().items():
        w.add("param/" + k, v)
    m = m.double()
    x = torch.randn(n, 3, 16, 16, generator=g).float().double()
    noise = torch.rand(n, m.patch_embed_count(), generator=g).double()
    loss, pred, mask, order = m(x, mask_ratio, noise)
    loss.backward()
    w.add("x", x)
    w.add("order", order.double())
    w.add("loss", loss.reshape(1))
    w.add("pred", pred)
    w.add("mask", mask)
    for k, p in m.named_parameters():
        if p.grad is not None:
            w.add("grad/" + k, p.grad)
    w.save(fname, OUT)
    return loss.item()


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(4321)
    print("mae norm_pix loss", fixture("mae_normpix.bin", g, True))
    print("mae raw loss", fixture("mae_raw.bin", g, False))


if __name__ == "__main__":
    main()
