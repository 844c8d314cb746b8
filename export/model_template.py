"""PyTorch modules for the networks of an onnx-gan run, with a loader for its weights.safetensors.

Written by `onnx-gan export` next to generator.onnx; the run's architectures are in GENERATOR and CRITIC at
the end of this file. Needs only torch (the safetensors file is read by its spec: Debian has no
python3-safetensors). In inference mode the modules give what generator.onnx and critic.onnx give.

    import torch, model
    G = model.load_generator('weights.safetensors').eval()
    x = G(torch.randn(16, G.latent))
    # a class-conditional generator (G.classes names the classes) takes each sample's class too:
    x = G(torch.randn(16, G.latent), torch.arange(16) % len(G.classes))
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


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm without its own affine, then the sample's class's row of a gain and a bias table
    [classes, features] (de Vries et al. 2017; Miyato & Koyama 2018)."""

    def __init__(self, features, classes):
        super().__init__()
        self.bn = nn.BatchNorm2d(features, affine=False, eps=1e-5, momentum=0.1)
        self.weight = nn.Parameter(torch.ones(classes, features))
        self.bias = nn.Parameter(torch.zeros(classes, features))

    @property
    def running_mean(self):
        return self.bn.running_mean

    @property
    def running_var(self):
        return self.bn.running_var

    def forward(self, h, y):
        return self.bn(h) * self.weight[y][:, :, None, None] + self.bias[y][:, :, None, None]


def _bn(features, classes):
    return ConditionalBatchNorm2d(features, classes) if classes else nn.BatchNorm2d(features, eps=1e-5, momentum=0.1)


def _apply_bn(bn, h, y):
    return bn(h, y) if isinstance(bn, ConditionalBatchNorm2d) else bn(h)


class ConditionalHead(nn.Module):
    """How a conditional critic uses the class on its features phi [N, F]: a projection
    (score + <embed(y), phi>, Miyato & Koyama 2018) or an auxiliary classifier (ACGAN: [score, logits])."""

    def __init__(self, features, classes, conditioning):
        super().__init__()
        self.conditioning = conditioning
        self.layer = nn.Embedding(classes, features) if conditioning == 'projection' else nn.Linear(features, classes)

    def forward(self, score, phi, y):
        if self.conditioning == 'projection':
            return score + (self.layer(y) * phi).sum(dim=1, keepdim=True)
        return torch.cat([score, self.layer(phi)], dim=1)


def _head(names, features, classes, conditioning):
    if not classes:
        return None
    head = ConditionalHead(features, classes, conditioning)
    names['embed' if conditioning == 'projection' else 'aux'] = head.layer
    return head


def _dcgan_layout(image):
    c, h, _ = image
    base = 7 if h == 28 else 4
    ups = {28: 2, 32: 3, 64: 4}[h]
    return c, h, base, ups


class DCGANGenerator(nn.Module):
    """z -> base x base (a transposed convolution of the 1x1 latent), then stride-2 transposed convolutions
    doubling the size, batch norm and ReLU between, tanh at the end; output [N, C, H, W] in [-1, 1]."""

    def __init__(self, image, width, latent, classes=0, **_):
        super().__init__()
        c, _, base, ups = _dcgan_layout(image)
        self.latent = latent
        self.num_classes = classes
        # A class-conditional generator reads [z, one-hot class] and has conditional batch norms.
        widths = [latent + classes] + [width * 2 ** (ups - 1 - j) for j in range(ups)] + [c]
        self.names = {}
        self.convs, self.bns = nn.ModuleList(), nn.ModuleList()
        for i in range(len(widths) - 1):
            conv = nn.ConvTranspose2d(widths[i], widths[i + 1], base, 1, 0, bias=False) if i == 0 else nn.ConvTranspose2d(widths[i], widths[i + 1], 4, 2, 1, bias=False)
            self.convs.append(conv)
            self.names[f'l{i}'] = conv
            if i + 2 < len(widths):
                self.bns.append(_bn(widths[i + 1], classes))
                self.names[f'bn{i}'] = self.bns[-1]

    def forward(self, z, y=None):
        if self.num_classes:
            z = torch.cat([z, F.one_hot(y, self.num_classes).to(z.dtype)], 1)
        h = z.reshape(z.shape[0], -1, 1, 1)
        for i, conv in enumerate(self.convs):
            h = conv(h)
            if i < len(self.bns):
                h = F.relu(_apply_bn(self.bns[i], h, y))
        return torch.tanh(h)


class DCGANCritic(nn.Module):
    """Stride-2 convolutions halving the size, LeakyReLU 0.2 (layer norm or instance norm before it from the
    second layer on), then one convolution over the whole base x base map: a score [N, 1]."""

    def __init__(self, image, width, norm='layer', classes=0, conditioning=None, **_):
        super().__init__()
        c, _, base, ups = _dcgan_layout(image)
        widths = [c] + [width * 2 ** j for j in range(ups)] + [1]
        self.norm = norm
        self.convs = nn.ModuleList()
        for i in range(len(widths) - 1):
            last = i + 2 == len(widths)
            self.convs.append(nn.Conv2d(widths[i], widths[i + 1], base, 1, 0) if last else nn.Conv2d(widths[i], widths[i + 1], 4, 2, 1))
        self.names = {f'l{i}': m for i, m in enumerate(self.convs)}
        self.head = _head(self.names, widths[-2] * base * base, classes, conditioning)

    def forward(self, x, y=None):
        h = x
        for i, conv in enumerate(self.convs[:-1]):
            h = conv(h)
            if i > 0 and self.norm == 'layer':
                h = F.layer_norm(h, h.shape[1:], eps=1e-5)
            elif i > 0 and self.norm == 'instance':
                h = F.instance_norm(h, eps=1e-5)
            h = F.leaky_relu(h, 0.2)
        score = self.convs[-1](h).reshape(x.shape[0], 1)
        return self.head(score, h.reshape(x.shape[0], -1), y) if self.head else score


_RESNET = {28: (7, 2), 32: (4, 3), 48: (6, 3), 64: (4, 4)}


class ResNetGenerator(nn.Module):
    """SNGAN / Mimicry ResNet generator: linear to base x base maps, up-blocks (BN, ReLU, nearest x2, 3x3
    conv, BN, ReLU, 3x3 conv; shortcut nearest x2 and 1x1 conv), then BN, ReLU, 3x3 conv and tanh."""

    def __init__(self, image, width, latent, classes=0, **_):
        super().__init__()
        c, size = image[0], image[1]
        self.base, self.ups = _RESNET[size]
        self.latent, self.width, self.num_classes = latent, width, classes
        self.names = {'l1': nn.Linear(latent, self.base * self.base * width)}
        for b in range(self.ups):
            for part, m in (('b1', _bn(width, classes)), ('c1', nn.Conv2d(width, width, 3, 1, 1)), ('b2', _bn(width, classes)),
                            ('c2', nn.Conv2d(width, width, 3, 1, 1)), ('c_sc', nn.Conv2d(width, width, 1))):
                self.names[f'block{b + 2}.{part}'] = m
        self.names[f'b{self.ups + 2}'] = _bn(width, classes)
        self.names[f'c{self.ups + 2}'] = nn.Conv2d(width, c, 3, 1, 1)
        self.layers = nn.ModuleDict({k.replace('.', '_'): m for k, m in self.names.items()})

    def forward(self, z, y=None):
        n = self.names
        up = lambda h: F.interpolate(h, scale_factor=2, mode='nearest')
        bn = lambda name, h: _apply_bn(n[name], h, y)
        h = n['l1'](z).view(-1, self.width, self.base, self.base)
        for b in range(self.ups):
            k = f'block{b + 2}'
            r = n[f'{k}.c1'](up(F.relu(bn(f'{k}.b1', h))))
            r = n[f'{k}.c2'](F.relu(bn(f'{k}.b2', r)))
            h = r + n[f'{k}.c_sc'](up(h))
        return torch.tanh(n[f'c{self.ups + 2}'](F.relu(bn(f'b{self.ups + 2}', h))))


class ResNetCritic(nn.Module):
    """SNGAN / Mimicry ResNet critic: optimized block, a down-block, two blocks at that size, ReLU, a sum
    over positions and a linear head."""

    def __init__(self, image, width, classes=0, conditioning=None, **_):
        super().__init__()
        c = image[0]
        self.names = {'block1.c1': nn.Conv2d(c, width, 3, 1, 1), 'block1.c2': nn.Conv2d(width, width, 3, 1, 1), 'block1.c_sc': nn.Conv2d(c, width, 1)}
        for b in (2, 3, 4):
            self.names[f'block{b}.c1'] = nn.Conv2d(width, width, 3, 1, 1)
            self.names[f'block{b}.c2'] = nn.Conv2d(width, width, 3, 1, 1)
        self.names['block2.c_sc'] = nn.Conv2d(width, width, 1)
        self.names['l5'] = nn.Linear(width, 1)
        self.head = _head(self.names, width, classes, conditioning)
        self.layers = nn.ModuleDict({k.replace('.', '_'): m for k, m in self.names.items()})

    def forward(self, x, y=None):
        n = self.names
        h = F.avg_pool2d(n['block1.c2'](F.relu(n['block1.c1'](x))), 2) + n['block1.c_sc'](F.avg_pool2d(x, 2))
        for b in (2, 3, 4):
            r = n[f'block{b}.c2'](F.relu(n[f'block{b}.c1'](F.relu(h))))
            h = F.avg_pool2d(r, 2) + F.avg_pool2d(n['block2.c_sc'](h), 2) if b == 2 else r + h
        phi = F.relu(h).sum(dim=(2, 3))
        return self.head(n['l5'](phi), phi, y) if self.head else n['l5'](phi)


class PacganGenerator(nn.Module):
    """PacGAN's 2-D generator: bias-free Linear, batch norm and ReLU per hidden layer, then a Linear."""

    def __init__(self, widths, bnMomentum=0.05, **_):
        super().__init__()
        self.latent = widths[0]
        last = len(widths) - 2
        self.linears = nn.ModuleList(nn.Linear(widths[i], widths[i + 1], bias=i == last) for i in range(last + 1))
        self.norms = nn.ModuleList(nn.BatchNorm1d(widths[i + 1], momentum=bnMomentum) for i in range(last))
        self.names = {**{f'l{i}': m for i, m in enumerate(self.linears)}, **{f'bn{i}': m for i, m in enumerate(self.norms)}}

    def forward(self, z):
        h = z
        for lin, bn in zip(self.linears, self.norms):
            h = F.relu(bn(lin(h)))
        return self.linears[-1](h)


class PacganCritic(nn.Module):
    """PacGAN's critic: LinearMaxout layers (out x pieces units, the max over each unit's adjacent pieces),
    then a Linear to one score. Its input is m samples side by side ([N, 2m] for m-packed 2-D points)."""

    def __init__(self, input, hidden, pieces, **_):
        super().__init__()
        widths = [input] + list(hidden)
        self.hidden, self.pieces = list(hidden), pieces
        self.maxouts = nn.ModuleList(nn.Linear(widths[i], widths[i + 1] * pieces) for i in range(len(hidden)))
        self.out = nn.Linear(widths[-1], 1)
        self.names = {**{f'l{i}': m for i, m in enumerate(self.maxouts)}, f'l{len(hidden)}': self.out}

    def forward(self, x):
        h = x
        for lin, units in zip(self.maxouts, self.hidden):
            h = lin(h).view(-1, units, self.pieces).max(-1).values
        return self.out(h)


KINDS = {'mlp': MLP, 'pacgan-generator': PacganGenerator, 'pacgan-critic': PacganCritic, 'dcgan-generator': DCGANGenerator, 'dcgan-critic': DCGANCritic, 'resnet-generator': ResNetGenerator, 'resnet-critic': ResNetCritic}


def _sigma(w, u):
    """Spectral norm at the stored u, as onnx-gan's inference graphs compute it: v = normalize(u^T W), sigma = u^T W v."""
    m = w.reshape(w.shape[0], -1).double()
    u = u.double()
    v = u @ m
    v = v / max(v.norm(), 1e-12)
    return float(u @ (m @ v))


def build(description, tensors, ema=True):
    """A module for one network's description (GENERATOR or CRITIC below), its weights loaded from `tensors`.
    With `ema` (the default), a run trained with --ema gives its weight average ('<name>.ema' tensors)."""
    module = KINDS[description['kind']](**description)
    prefix = description['prefix']
    for name, layer in module.names.items():
        for attr in ('weight', 'bias', 'running_mean', 'running_var'):
            base = f'{prefix}.{name}.{attr}'
            key, u = base, f'{base}.u'
            if ema and f'{base}.ema' in tensors:
                key, u = f'{base}.ema', f'{base}.u.ema'
            if key not in tensors or getattr(layer, attr, None) is None:
                continue
            t = tensors[key].float()
            if attr == 'weight' and description.get('spectralNorm') and t.dim() >= 2:
                t = t / _sigma(t, tensors[u])
            getattr(layer, attr).data.copy_(t.reshape(getattr(layer, attr).shape))
    if description.get('classes'):
        module.classes = CLASSES  # the class names, in label order
    return module


def load_generator(path, ema=True):
    """The generator; its weight average when the run kept one (--ema), unless ema=False."""
    return build(GENERATOR, read_safetensors(path)[0], ema)


def load_critic(path):
    return build(CRITIC, read_safetensors(path)[0])
