#!/usr/bin/python3
"""Writes the encoder parity fixtures (tests/parity/fixtures/nn/*.bin) for tests/unit/test_nn_parity.c.

torchvision is not installed here, so ResNet is written below with torchvision's exact module
structure and names (BasicBlock / Bottleneck, stride on the 3x3 conv, downsample.0/.1) plus a
`width` scale (64 = torchvision); the ViT follows timm's VisionTransformer names. References are
computed in float64 from float32-rounded weights and inputs, then stored as float32, so a
difference in the C test is the C float32 error alone.

File format (little endian): b"LFNN1\\n", u32 count, then per tensor: u16 name length, name,
u8 ndim, int64 shape[ndim], float32 data (num_batches_tracked is stored as float).
Run: /usr/bin/python3 tests/parity/gen_nn.py   (torch 1.13)
"""
import os
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "nn")


# ---------------------------------------------------------------- ResNet (torchvision layout)
class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = self.downsample(x) if self.downsample is not None else x
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = self.downsample(x) if self.downsample is not None else x
        return self.relu(out + identity)


class ResNet(nn.Module):
    def __init__(self, block, layers, num_classes=0, in_channels=3, width=64, stem="imagenet"):
        super().__init__()
        self.inplanes = width
        if stem == "imagenet":
            self.conv1 = nn.Conv2d(in_channels, width, 7, 2, 3, bias=False)
        else:  # SimCLR's CIFAR variant: 3x3 stride 1, no max pool
            self.conv1 = nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1) if stem == "imagenet" else nn.Identity()
        self.layer1 = self._make_layer(block, width, layers[0])
        self.layer2 = self._make_layer(block, width * 2, layers[1], 2)
        self.layer3 = self._make_layer(block, width * 4, layers[2], 2)
        self.layer4 = self._make_layer(block, width * 8, layers[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(width * 8 * block.expansion, num_classes) if num_classes else None
        for m in self.modules():  # torchvision's init
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x) if self.fc is not None else x


def resnet18(**kw):
    return ResNet(BasicBlock, [2, 2, 2, 2], **kw)


def resnet50(**kw):
    return ResNet(Bottleneck, [3, 4, 6, 3], **kw)


# ---------------------------------------------------------------- ViT (timm names)
class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, mask=None):
        """mask: None or additive, broadcast against the scores (B, heads, N, N)"""
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        scores = (q @ k.transpose(-2, -1)) * self.scale
        attn = (scores if mask is None else scores + mask).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(B, N, C))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, heads, mlp_ratio):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x, mask=None):
        x = x + self.attn(self.norm1(x), mask)
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, in_chans, dim, patch):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, dim, patch, patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class ViT(nn.Module):
    def __init__(self, img=16, patch=4, in_chans=3, dim=32, depth=2, heads=4, mlp_ratio=4.0,
                 num_classes=10):
        super().__init__()
        n = (img // patch) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, n + 1, dim))
        self.patch_embed = PatchEmbed(in_chans, dim, patch)
        self.blocks = nn.Sequential(*[Block(dim, heads, mlp_ratio) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, num_classes) if num_classes else None
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-6)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        x = self.norm(self.blocks(x))[:, 0]
        return self.head(x) if self.head is not None else x


# ---------------------------------------------------------------- helpers
def perturb(model, g):
    """Non-trivial BN/LN affine parameters and running stats (fresh ones are 1/0/0/1), so
    that the fixture exercises every term; float32-rounded."""
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                t.fill_(3)
            elif name.endswith("running_mean"):
                t.copy_(0.1 * torch.randn(t.shape, generator=g))
            elif name.endswith("running_var"):
                t.copy_(0.5 + torch.rand(t.shape, generator=g))
            elif (".bn" in name or name.startswith("bn") or "downsample.1" in name or
                  "norm" in name) and name.endswith("weight"):
                t.copy_(1 + 0.2 * torch.randn(t.shape, generator=g))
            elif name.endswith("bias") or name == "cls_token":
                t.copy_(0.05 * torch.randn(t.shape, generator=g))


def no_decay(name, t):
    # the flags the C side gives: biases, norm affine and (vit) embeddings skip weight decay
    return t.dim() <= 1 or name in ("cls_token", "pos_embed")


class Writer:
    def __init__(self):
        self.items = []

    def add(self, name, t):
        self.items.append((name, t.detach().to(torch.float32).contiguous().cpu()))

    def save(self, fname, out=OUT):
        path = os.path.join(out, fname)
        with open(path, "wb") as f:
            f.write(b"LFNN1\n")
            f.write(struct.pack("<I", len(self.items)))
            for name, t in self.items:
                nb = name.encode()
                f.write(struct.pack("<H", len(nb)) + nb)
                f.write(struct.pack("<B", t.dim()))
                f.write(struct.pack("<%dq" % t.dim(), *t.shape))
                f.write(t.numpy().astype("<f4").tobytes())
        print("%s: %d tensors, %d bytes" % (fname, len(self.items), os.path.getsize(path)))


def train_fixture(fname, model, x, g, sgd=True):
    """Train-mode forward of float64 copy; loss = sum(out * lw); every gradient; buffers
    after the forward; weights after one SGD step (lr .1, momentum .9, wd 5e-4 on the
    decayed group)."""
    w = Writer()
    model = model.to(torch.float32)
    sd = {k: v.clone() for k, v in model.state_dict().items()}
    for k, v in sd.items():
        w.add("param/" + k, v)
    model = model.double().train()
    xd = x.to(torch.float32).double()
    out = model(xd)
    lw = torch.randn(out.shape, generator=g).float().double()
    loss = (out * lw).sum()
    loss.backward()
    w.add("x", xd)
    w.add("lw", lw)
    w.add("out", out)
    w.add("loss", loss.reshape(1))
    for k, p in model.named_parameters():
        w.add("grad/" + k, p.grad)
    for k, b in model.named_buffers():
        w.add("after/" + k, b)
    if sgd:
        named = list(model.named_parameters())
        groups = [{"params": [p for k, p in named if not no_decay(k, p)], "weight_decay": 5e-4},
                  {"params": [p for k, p in named if no_decay(k, p)], "weight_decay": 0.0}]
        opt = torch.optim.SGD(groups, lr=0.1, momentum=0.9)
        opt.step()
        for k, p in model.named_parameters():
            w.add("sgd/" + k, p)
    w.save(fname)
    return loss.item()


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1234)

    # ResNet-18, CIFAR stem, width 4 (torchvision structure, 1/16 of the channels), 3 channels
    m = resnet18(num_classes=0, in_channels=3, width=4, stem="cifar")
    perturb(m, g)
    x = torch.randn(2, 3, 32, 32, generator=g)
    print("resnet18 loss", train_fixture("resnet18_cifar_w4.bin", m, x, g))

    # ResNet-50 structure, imagenet stem, width 4, 5 channels, 64x64: eval then train forward
    m = resnet50(num_classes=0, in_channels=5, width=4, stem="imagenet")
    perturb(m, g)
    m = m.float()
    w = Writer()
    for k, v in m.state_dict().items():
        w.add("param/" + k, v)
    x = torch.randn(2, 5, 64, 64, generator=g)
    with torch.no_grad():
        # PyTorch's own float32 error against the float64 reference, for the test to print
        # (train-mode BN over 2x2x2 values per channel in layer4 amplifies rounding)
        import copy
        m32 = copy.deepcopy(m)
        e32, t32 = m32.eval()(x), m32.train()(x)
        m, x = m.double(), x.double()
        w.add("x", x)
        out_eval, out_train = m.eval()(x), m.train()(x)
        w.add("out_eval", out_eval)
        w.add("out_train", out_train)
        for k, b in m.named_buffers():
            w.add("after/" + k, b)
        w.add("torch32_err/out_eval", (e32.double() - out_eval).abs().max().reshape(1))
        w.add("torch32_err/out_train", (t32.double() - out_train).abs().max().reshape(1))
    w.save("resnet50_imagenet_w4_c5.bin")

    # tiny ViT: 16x16 image, patch 4, depth 2, width 32, 4 heads, 10 classes
    m = ViT(img=16, patch=4, in_chans=3, dim=32, depth=2, heads=4, num_classes=10)
    perturb(m, g)
    x = torch.randn(2, 3, 16, 16, generator=g)
    print("vit loss", train_fixture("vit_tiny.bin", m, x, g, sgd=False))

    # MLP head: Linear(16, 32) BN ReLU Linear(32, 8), batch 4
    m = nn.Sequential(nn.Linear(16, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 8))
    perturb(m, g)
    with torch.no_grad():  # perturb() matches BN weights by name: do it here explicitly
        m[1].weight.copy_(1 + 0.2 * torch.randn(32, generator=g))
    x = torch.randn(4, 16, generator=g)
    print("mlp loss", train_fixture("mlp.bin", m, x, g, sgd=False))


if __name__ == "__main__":
    main()
