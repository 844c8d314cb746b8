#!/usr/bin/python3
"""The PyTorch peer for `npm run bench`: the same WGAN-GP training on 2-D data, on the CPU.

G 16-128-128-2 (ReLU), D 2-128-128-1 (LeakyReLU 0.2), batch 256, lambda 10, n_critic 5,
Adam lr 1e-4 betas (0.5, 0.9); the penalty via torch.autograd.grad(create_graph=True).
Prints one JSON line: generator steps per second after a warm-up.
Usage: /usr/bin/python3 bench/torch_wgan_gp.py THREADS WARMUP ITERS
"""
import math, sys
import torch
from torch_timing import report, update
import torch.nn as nn

threads, warmup, iters = (int(a) for a in sys.argv[1:4])
torch.set_num_threads(threads)
torch.manual_seed(0)
B, Z, LAM, NC = 256, 16, 10.0, 5
G = nn.Sequential(nn.Linear(Z, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 2))
D = nn.Sequential(nn.Linear(2, 128), nn.LeakyReLU(0.2), nn.Linear(128, 128), nn.LeakyReLU(0.2), nn.Linear(128, 1))
oG = torch.optim.Adam(G.parameters(), lr=1e-4, betas=(0.5, 0.9))
oD = torch.optim.Adam(D.parameters(), lr=1e-4, betas=(0.5, 0.9))
centers = torch.tensor([[math.cos(2 * math.pi * k / 8), math.sin(2 * math.pi * k / 8)] for k in range(8)])


def real_batch():
    return centers[torch.randint(0, 8, (B,))] + 0.01 * torch.randn(B, 2)


def iteration():
    for _ in range(NC):
        real = real_batch()
        fake = G(torch.randn(B, Z)).detach()
        eps = torch.rand(B, 1)
        xhat = (eps * real + (1 - eps) * fake).requires_grad_(True)
        g, = torch.autograd.grad(D(xhat).sum(), xhat, create_graph=True)
        gp = LAM * ((g.norm(2, dim=1) - 1) ** 2).mean()
        loss = D(fake).mean() - D(real).mean() + gp
        update(oD, loss)
    loss_g = -D(G(torch.randn(B, Z))).mean()
    update(oG, loss_g)


report(iteration, threads, warmup, iters)
