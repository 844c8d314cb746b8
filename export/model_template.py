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


KINDS = {'mlp': MLP, 'dcgan-generator': DCGANGenerator, 'dcgan-critic': DCGANCritic}


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
