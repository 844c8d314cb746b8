"""PyTorch modules for the networks of an onnx-gan run, with a loader for its weights.safetensors.

Written by `onnx-gan export` next to generator.onnx; the run's architectures are in GENERATOR and CRITIC at
the end of this file. Needs only torch (the safetensors file is read by its spec: Debian has no
python3-safetensors). In inference mode the modules give what generator.onnx and critic.onnx give.

    import torch, model
    G = model.load_generator('weights.safetensors').eval()
    x = G(torch.randn(16, G.latent))
"""
import json
import struct

import torch
from torch import nn
import torch.nn.functional as F


def read_safetensors(path):
    """Tensors and metadata of a .safetensors file (8-byte little-endian header length, JSON header, data)."""
    raw = open(path, 'rb').read()
    n = struct.unpack('<Q', raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop('__metadata__', {})
    body = raw[8 + n:]
    kinds = {'F32': torch.float32, 'F64': torch.float64, 'I64': torch.int64}
    tensors = {}
    for name, e in header.items():
        b, end = e['data_offsets']
        tensors[name] = torch.frombuffer(bytearray(body[b:end]), dtype=kinds[e['dtype']]).reshape(e['shape']).clone()
    return tensors, meta


def _act(name, alpha):
    return {'relu': nn.ReLU(), 'leaky_relu': nn.LeakyReLU(alpha), 'tanh': nn.Tanh(), 'sigmoid': nn.Sigmoid(), 'none': nn.Identity()}[name]


class MLP(nn.Module):
    """Linear layers (weights [out, in], as onnx-gan stores them) with an activation between."""

    def __init__(self, widths, activation='relu', alpha=0.2, outputActivation='none', **_):
        super().__init__()
        self.latent = widths[0]
        layers = []
        for i in range(len(widths) - 1):
            layers.append(nn.Linear(widths[i], widths[i + 1]))
            layers.append(_act(activation if i + 2 < len(widths) else outputActivation, alpha))
        self.net = nn.Sequential(*layers)
        self.names = {f'l{i}': self.net[2 * i] for i in range(len(widths) - 1)}

    def forward(self, x):
        return self.net(x)


def _dcgan_layout(image):
    c, h, _ = image
    base = 7 if h == 28 else 4
    ups = {28: 2, 32: 3, 64: 4}[h]
    return c, h, base, ups


class DCGANGenerator(nn.Module):
    """z -> base x base (a transposed convolution of the 1x1 latent), then stride-2 transposed convolutions
    doubling the size, batch norm and ReLU between, tanh at the end; output [N, C, H, W] in [-1, 1]."""

    def __init__(self, image, width, latent, **_):
        super().__init__()
        c, _, base, ups = _dcgan_layout(image)
        self.latent = latent
        widths = [latent] + [width * 2 ** (ups - 1 - j) for j in range(ups)] + [c]
        self.names = {}
        layers = []
        for i in range(len(widths) - 1):
            conv = nn.ConvTranspose2d(widths[i], widths[i + 1], base, 1, 0, bias=False) if i == 0 else nn.ConvTranspose2d(widths[i], widths[i + 1], 4, 2, 1, bias=False)
            layers.append(conv)
            self.names[f'l{i}'] = conv
            if i + 2 < len(widths):
                bn = nn.BatchNorm2d(widths[i + 1], eps=1e-5, momentum=0.1)
                layers += [bn, nn.ReLU()]
                self.names[f'bn{i}'] = bn
        layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        return self.net(z.reshape(z.shape[0], -1, 1, 1))


class DCGANCritic(nn.Module):
    """Stride-2 convolutions halving the size, LeakyReLU 0.2 (layer norm or instance norm before it from the
    second layer on), then one convolution over the whole base x base map: a score [N, 1]."""

    def __init__(self, image, width, norm='layer', **_):
        super().__init__()
        c, _, base, ups = _dcgan_layout(image)
        widths = [c] + [width * 2 ** j for j in range(ups)] + [1]
        self.norm = norm
        self.convs = nn.ModuleList()
        for i in range(len(widths) - 1):
            last = i + 2 == len(widths)
            self.convs.append(nn.Conv2d(widths[i], widths[i + 1], base, 1, 0) if last else nn.Conv2d(widths[i], widths[i + 1], 4, 2, 1))
        self.names = {f'l{i}': m for i, m in enumerate(self.convs)}

    def forward(self, x):
        h = x
        for i, conv in enumerate(self.convs[:-1]):
            h = conv(h)
            if i > 0 and self.norm == 'layer':
                h = F.layer_norm(h, h.shape[1:], eps=1e-5)
            elif i > 0 and self.norm == 'instance':
                h = F.instance_norm(h, eps=1e-5)
            h = F.leaky_relu(h, 0.2)
        return self.convs[-1](h).reshape(x.shape[0], 1)


_RESNET = {28: (7, 2), 32: (4, 3), 48: (6, 3), 64: (4, 4)}


class ResNetGenerator(nn.Module):
    """SNGAN / Mimicry ResNet generator: linear to base x base maps, up-blocks (BN, ReLU, nearest x2, 3x3
    conv, BN, ReLU, 3x3 conv; shortcut nearest x2 and 1x1 conv), then BN, ReLU, 3x3 conv and tanh."""

    def __init__(self, image, width, latent, **_):
        super().__init__()
        c, size = image[0], image[1]
        self.base, self.ups = _RESNET[size]
        self.latent, self.width = latent, width
        self.names = {'l1': nn.Linear(latent, self.base * self.base * width)}
        for b in range(self.ups):
            for part, m in (('b1', nn.BatchNorm2d(width)), ('c1', nn.Conv2d(width, width, 3, 1, 1)), ('b2', nn.BatchNorm2d(width)),
                            ('c2', nn.Conv2d(width, width, 3, 1, 1)), ('c_sc', nn.Conv2d(width, width, 1))):
                self.names[f'block{b + 2}.{part}'] = m
        self.names[f'b{self.ups + 2}'] = nn.BatchNorm2d(width)
        self.names[f'c{self.ups + 2}'] = nn.Conv2d(width, c, 3, 1, 1)
        self.layers = nn.ModuleDict({k.replace('.', '_'): m for k, m in self.names.items()})

    def forward(self, z):
        n = self.names
        up = lambda h: F.interpolate(h, scale_factor=2, mode='nearest')
        h = n['l1'](z).view(-1, self.width, self.base, self.base)
        for b in range(self.ups):
            k = f'block{b + 2}'
            r = n[f'{k}.c1'](up(F.relu(n[f'{k}.b1'](h))))
            r = n[f'{k}.c2'](F.relu(n[f'{k}.b2'](r)))
            h = r + n[f'{k}.c_sc'](up(h))
        return torch.tanh(n[f'c{self.ups + 2}'](F.relu(n[f'b{self.ups + 2}'](h))))


class ResNetCritic(nn.Module):
    """SNGAN / Mimicry ResNet critic: optimized block, a down-block, two blocks at that size, ReLU, a sum
    over positions and a linear head."""

    def __init__(self, image, width, **_):
        super().__init__()
        c = image[0]
        self.names = {'block1.c1': nn.Conv2d(c, width, 3, 1, 1), 'block1.c2': nn.Conv2d(width, width, 3, 1, 1), 'block1.c_sc': nn.Conv2d(c, width, 1)}
        for b in (2, 3, 4):
            self.names[f'block{b}.c1'] = nn.Conv2d(width, width, 3, 1, 1)
            self.names[f'block{b}.c2'] = nn.Conv2d(width, width, 3, 1, 1)
        self.names['block2.c_sc'] = nn.Conv2d(width, width, 1)
        self.names['l5'] = nn.Linear(width, 1)
        self.layers = nn.ModuleDict({k.replace('.', '_'): m for k, m in self.names.items()})

    def forward(self, x):
        n = self.names
        h = F.avg_pool2d(n['block1.c2'](F.relu(n['block1.c1'](x))), 2) + n['block1.c_sc'](F.avg_pool2d(x, 2))
        for b in (2, 3, 4):
            r = n[f'block{b}.c2'](F.relu(n[f'block{b}.c1'](F.relu(h))))
            h = F.avg_pool2d(r, 2) + F.avg_pool2d(n['block2.c_sc'](h), 2) if b == 2 else r + h
        return n['l5'](F.relu(h).sum(dim=(2, 3)))


KINDS = {'mlp': MLP, 'dcgan-generator': DCGANGenerator, 'dcgan-critic': DCGANCritic, 'resnet-generator': ResNetGenerator, 'resnet-critic': ResNetCritic}


def _sigma(w, u):
    """Spectral norm at the stored u, as onnx-gan's inference graphs compute it: v = normalize(u^T W), sigma = u^T W v."""
    m = w.reshape(w.shape[0], -1).double()
    u = u.double()
    v = u @ m
    v = v / max(v.norm(), 1e-12)
    return float(u @ (m @ v))


def build(description, tensors):
    """A module for one network's description (GENERATOR or CRITIC below), its weights loaded from `tensors`."""
    module = KINDS[description['kind']](**description)
    prefix = description['prefix']
    for name, layer in module.names.items():
        for attr in ('weight', 'bias', 'running_mean', 'running_var'):
            key = f'{prefix}.{name}.{attr}'
            if key not in tensors or getattr(layer, attr, None) is None:
                continue
            t = tensors[key].float()
            if attr == 'weight' and description.get('spectralNorm') and t.dim() >= 2:
                t = t / _sigma(t, tensors[f'{key}.u'])
            getattr(layer, attr).data.copy_(t.reshape(getattr(layer, attr).shape))
    return module


def load_generator(path):
    return build(GENERATOR, read_safetensors(path)[0])


def load_critic(path):
    return build(CRITIC, read_safetensors(path)[0])
