#!/usr/bin/python3
"""The PyTorch peer for `npm run bench -- dcgan`: the same DCGAN training on 28x28 images, on the CPU.

G: z 100 -> ConvT 7x7 -> 2W x 7 x 7, BN, ReLU -> ConvT 4/2/1 -> W x 14 x 14, BN, ReLU -> ConvT 4/2/1 -> 1 x 28 x 28, tanh
D: Conv 4/2/1 -> W x 14 x 14, LeakyReLU 0.2 -> Conv 4/2/1 -> 2W x 7 x 7, layer norm (no affine), LeakyReLU 0.2 -> Conv 7x7 -> 1
(weights N(0, 0.02) as models/dcgan.ts), non-saturating loss, Adam 2e-4 (0.5, 0.999), batch 64, one critic
step per generator step, the critic on [real; fake] in one pass as onnx-gan does. Real batches are drawn from
a uint8 image tensor and scaled to [-1, 1] each step, as onnx-gan's data source does.
Prints one JSON line: generator steps per second after a warm-up.
Usage: /usr/bin/python3 bench/torch_dcgan.py THREADS WARMUP ITERS WIDTH
"""
import sys
import torch
from torch_timing import report, update
import torch.nn as nn
import torch.nn.functional as F

threads, warmup, iters, W = (int(a) for a in sys.argv[1:5])
torch.set_num_threads(threads)
torch.manual_seed(0)
B, Z = 64, 100


class LayerNorm(nn.Module):
    def forward(self, h):
        return F.layer_norm(h, h.shape[1:])


G = nn.Sequential(
    nn.Unflatten(1, (Z, 1, 1)), nn.ConvTranspose2d(Z, 2 * W, 7, bias=False), nn.BatchNorm2d(2 * W), nn.ReLU(),
    nn.ConvTranspose2d(2 * W, W, 4, 2, 1, bias=False), nn.BatchNorm2d(W), nn.ReLU(),
    nn.ConvTranspose2d(W, 1, 4, 2, 1, bias=False), nn.Tanh())
D = nn.Sequential(
    nn.Conv2d(1, W, 4, 2, 1), nn.LeakyReLU(0.2),
    nn.Conv2d(W, 2 * W, 4, 2, 1), LayerNorm(), nn.LeakyReLU(0.2),
    nn.Conv2d(2 * W, 1, 7), nn.Flatten())
for m in [*G.modules(), *D.modules()]:
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0, 0.02)
oG = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
oD = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
images = torch.randint(0, 256, (10000, 1, 28, 28), dtype=torch.uint8)


def iteration():
    real = images[torch.randint(0, len(images), (B,))].float() / 127.5 - 1
    with torch.no_grad():
        fake = G(torch.randn(B, Z))
    out = D(torch.cat([real, fake]))
    loss_d = F.softplus(-out[:B]).mean() + F.softplus(out[B:]).mean()
    update(oD, loss_d)
    loss_g = F.softplus(-D(G(torch.randn(B, Z)))).mean()
    update(oG, loss_g)


report(iteration, threads, warmup, iters)
