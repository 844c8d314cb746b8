"""pytorch-fid's InceptionV3 up to pool3 (2,048 features), built from torchvision's blocks with the FID
variant's differences (Heusel et al.'s TensorFlow graph, as pytorch-fid ports it): average pools that leave the
padding out of the mean, and max pooling in the last block's pool branch. Input: RGB in [0, 1] at 299 x 299;
the network scales it to [-1, 1] itself (pytorch-fid's normalize_input).

Used by scripts/export_fid_inception.py (with pytorch-fid's FID weights) and by
test/fixtures/make_quality_fixtures.py (with random weights, for the cross-check against torch + scipy).
"""
import torch
import torch.nn.functional as F
import torchvision.models.inception as tvi


def _avg_skip_pad(x):
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


def _max_same(x):
    return F.max_pool2d(x, kernel_size=3, stride=1, padding=1)


class _A(tvi.InceptionA):
    def forward(self, x):
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch1x1(x), b5, b3, self.branch_pool(_avg_skip_pad(x))], 1)


class _C(tvi.InceptionC):
    def forward(self, x):
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            d = layer(d)
        return torch.cat([self.branch1x1(x), b7, d, self.branch_pool(_avg_skip_pad(x))], 1)


class _E(tvi.InceptionE):
    def __init__(self, in_channels, pool):
        super().__init__(in_channels)
        self.pool = pool

    def forward(self, x):
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        d = torch.cat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], 1)
        return torch.cat([self.branch1x1(x), b3, d, self.branch_pool(self.pool(x))], 1)


class Pool3(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        n = self.net
        x = 2 * x - 1
        x = F.max_pool2d(n.Conv2d_2b_3x3(n.Conv2d_2a_3x3(n.Conv2d_1a_3x3(x))), kernel_size=3, stride=2)
        x = F.max_pool2d(n.Conv2d_4a_3x3(n.Conv2d_3b_1x1(x)), kernel_size=3, stride=2)
        for block in (n.Mixed_5b, n.Mixed_5c, n.Mixed_5d, n.Mixed_6a, n.Mixed_6b, n.Mixed_6c, n.Mixed_6d, n.Mixed_6e, n.Mixed_7a, n.Mixed_7b, n.Mixed_7c):
            x = block(x)
        return F.adaptive_avg_pool2d(x, 1).flatten(1)


def fid_inception_pool3(state_dict=None):
    """The network in eval mode; `state_dict`: pytorch-fid's weights file (keys of torchvision's Inception3 with
    1,008 classes), loaded strictly before the classifier head is dropped."""
    net = tvi.inception_v3(weights=None, aux_logits=False, init_weights=False, num_classes=1008)
    net.Mixed_5b, net.Mixed_5c, net.Mixed_5d = _A(192, 32), _A(256, 64), _A(288, 64)
    net.Mixed_6b, net.Mixed_6c, net.Mixed_6d, net.Mixed_6e = _C(768, 128), _C(768, 160), _C(768, 160), _C(768, 192)
    net.Mixed_7b, net.Mixed_7c = _E(1280, _avg_skip_pad), _E(2048, _max_same)
    if state_dict is not None:
        net.load_state_dict(state_dict)
    net.fc = None  # pool3 comes before it
    return Pool3(net).eval()
