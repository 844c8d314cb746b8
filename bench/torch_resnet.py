#!/usr/bin/python3
"""The PyTorch peer for `npm run bench -- resnet`: models/resnet.ts's SNGAN/Mimicry ResNet-32 pair, on the CPU.

G: z 128 -> linear -> W x 4 x 4; three up-blocks (BN, ReLU, nearest x2, 3x3 conv, BN, ReLU, 3x3 conv;
   shortcut nearest x2, 1x1 conv); BN, ReLU, 3x3 conv -> 3 x 32 x 32, tanh.
D: optimized block (3x3 conv, ReLU, 3x3 conv, avg pool 2; shortcut avg pool, 1x1 conv), a down-block, two
   plain blocks, ReLU, sum over positions, linear -> 1. Every block W channels, Xavier-uniform weights.
Losses: `sngan` = hinge with spectral norm on every critic layer (torch.nn.utils.spectral_norm, one power
iteration per forward), Adam 2e-4 (0, 0.9); `wgan-gp` = Wasserstein with the gradient penalty (lambda 10)
on interpolates, Adam 1e-4 (0.5, 0.9). Five critic steps per generator step, batch 64, the critic on
[real; fake] in one pass as onnx-gan does; real batches drawn from uint8 images scaled to [-1, 1].
Prints one JSON line: generator steps per second after a warm-up (or, with PEER_PROFILE set, a profile).
Usage: /usr/bin/python3 bench/torch_resnet.py THREADS WARMUP ITERS WIDTH LOSS
"""
import sys
import torch
from torch_timing import report, update
import torch.nn as nn
import torch.nn.functional as F

threads, warmup, iters, W = (int(a) for a in sys.argv[1:5])
loss = sys.argv[5]
torch.set_num_threads(threads)
torch.manual_seed(0)
B, Z, C, S, N_CRITIC = 64, 128, 3, 32, 5


def conv(cin, cout, k, gain):
    m = nn.Conv2d(cin, cout, k, padding=k // 2)
    nn.init.xavier_uniform_(m.weight, gain)
    nn.init.zeros_(m.bias)
    return m


class GBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.b1, self.b2 = nn.BatchNorm2d(W), nn.BatchNorm2d(W)
        self.c1, self.c2, self.c_sc = conv(W, W, 3, 2 ** 0.5), conv(W, W, 3, 2 ** 0.5), conv(W, W, 1, 1)

    def forward(self, h):
        up = lambda x: F.interpolate(x, scale_factor=2, mode='nearest')
        r = self.c2(F.relu(self.b2(self.c1(up(F.relu(self.b1(h)))))))
        return r + self.c_sc(up(h))


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = nn.Linear(Z, 16 * W)
        nn.init.xavier_uniform_(self.l1.weight)
        nn.init.zeros_(self.l1.bias)
        self.blocks = nn.Sequential(GBlock(), GBlock(), GBlock())
        self.b5, self.c5 = nn.BatchNorm2d(W), conv(W, C, 3, 1)

    def forward(self, z):
        h = self.blocks(self.l1(z).view(-1, W, 4, 4))
        return torch.tanh(self.c5(F.relu(self.b5(h))))


class Critic(nn.Module):
    def __init__(self, sn):
        super().__init__()
        wrap = nn.utils.spectral_norm if sn else (lambda m: m)
        c = lambda cin, cout, k, gain: wrap(conv(cin, cout, k, gain))
        self.c1, self.c2, self.c_sc = c(C, W, 3, 2 ** 0.5), c(W, W, 3, 2 ** 0.5), c(C, W, 1, 1)
        self.blocks = nn.ModuleList([nn.ModuleList([c(W, W, 3, 2 ** 0.5), c(W, W, 3, 2 ** 0.5)]) for _ in range(3)])
        self.sc2 = c(W, W, 1, 1)
        l5 = nn.Linear(W, 1)
        nn.init.xavier_uniform_(l5.weight)
        nn.init.zeros_(l5.bias)
        self.l5 = wrap(l5)

    def forward(self, x):
        h = F.avg_pool2d(self.c2(F.relu(self.c1(x))), 2) + self.c_sc(F.avg_pool2d(x, 2))
        for i, (c1, c2) in enumerate(self.blocks):
            r = c2(F.relu(c1(F.relu(h))))
            h = F.avg_pool2d(r, 2) + F.avg_pool2d(self.sc2(h), 2) if i == 0 else r + h
        return self.l5(F.relu(h).sum(dim=(2, 3)))


G, D = Generator(), Critic(loss == 'sngan')
lr, betas = (2e-4, (0.0, 0.9)) if loss == 'sngan' else (1e-4, (0.5, 0.9))
oG = torch.optim.Adam(G.parameters(), lr=lr, betas=betas)
oD = torch.optim.Adam(D.parameters(), lr=lr, betas=betas)
images = torch.randint(0, 256, (10000, C, S, S), dtype=torch.uint8)


def critic_loss(real, fake):
    out = D(torch.cat([real, fake]))
    if loss == 'sngan':
        return F.relu(1 - out[:B]).mean() + F.relu(1 + out[B:]).mean()
    eps = torch.rand(B, 1, 1, 1)
    x = (eps * real + (1 - eps) * fake).requires_grad_(True)
    g, = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    penalty = 10 * ((g.flatten(1).square().sum(1) + 1e-20).sqrt() - 1).square().mean()
    return out[B:].mean() - out[:B].mean() + penalty


def iteration():
    for _ in range(N_CRITIC):
        real = images[torch.randint(0, len(images), (B,))].float() / 127.5 - 1
        with torch.no_grad():
            fake = G(torch.randn(B, Z))
        update(oD, critic_loss(real, fake))
    update(oG, -D(G(torch.randn(B, Z))).mean())


report(iteration, threads, warmup, iters)
