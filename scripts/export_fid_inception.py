#!/usr/bin/env python3
"""pytorch-fid's InceptionV3 (pool3, 2,048 features, its FID weights) as an ONNX feature network for onnx-gan,
so that `onnx-gan eval RUN --features pt_inception.onnx` and `onnx-gan fid A B --features pt_inception.onnx`
give the FID pytorch-fid gives.

Needs PyTorch and torchvision (Debian: python3-torch python3-torchvision; or pip), and pytorch-fid's weights:
downloaded from its release page, or a file already downloaded:
    python3 scripts/export_fid_inception.py pt_inception.onnx
    python3 scripts/export_fid_inception.py pt_inception.onnx --weights pt_inception-2015-12-05-6726825d.pth

onnx-gan feeds the network RGB in [0, 1] already resized to 299 x 299 by ONNX Resize (linear, half_pixel:
F.interpolate(mode='bilinear', align_corners=False), pytorch-fid's own resize), so the network here has no
resize and scales to [-1, 1] itself. The architecture is scripts/fid_inception.py, which the test suite checks
with random weights against torch + scipy (test/run/feature-scores.test.ts).
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fid_inception import fid_inception_pool3  # noqa: E402

FID_WEIGHTS_URL = 'https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth'


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('out', nargs='?', default='pt_inception.onnx')
    ap.add_argument('--weights', help="pytorch-fid's weights file (default: download it)")
    a = ap.parse_args()
    state = torch.load(a.weights, map_location='cpu') if a.weights else torch.hub.load_state_dict_from_url(FID_WEIGHTS_URL, progress=True)
    model = fid_inception_pool3(state)
    tmp = a.out + '.tmp'
    torch.onnx.export(model, torch.zeros(1, 3, 299, 299), tmp, input_names=['images'], output_names=['pool3'],
                      dynamic_axes={'images': {0: 'N'}, 'pool3': {0: 'N'}}, opset_version=17)
    os.replace(tmp, a.out)
    print('wrote', a.out)


if __name__ == '__main__':
    main()
