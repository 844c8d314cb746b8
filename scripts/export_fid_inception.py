#!/usr/bin/env python3
"""pytorch-fid's InceptionV3 (pool3, 2048 features) as an ONNX feature network for onnx-gan, so that
`onnx-gan eval RUN --features pt_inception.onnx` and `onnx-gan fid A B --features pt_inception.onnx` give the
FID pytorch-fid gives.

Run where PyTorch can download pytorch-fid's weights (pip install pytorch-fid):
    python3 scripts/export_fid_inception.py pt_inception.onnx

onnx-gan feeds the network RGB in [0, 1] already resized to 299 x 299 by ONNX Resize (linear, half_pixel:
F.interpolate(mode='bilinear', align_corners=False), pytorch-fid's own resize), so the model is exported
with resize_input=False and keeps pytorch-fid's normalize_input=True (x * 2 - 1 inside the network).
"""
import sys

import torch
from pytorch_fid.inception import InceptionV3


class Pool3(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[2048]], resize_input=False, normalize_input=True)

    def forward(self, x):
        return self.net(x)[0].flatten(1)


def main(out):
    model = Pool3().eval()
    torch.onnx.export(model, torch.zeros(1, 3, 299, 299), out, input_names=['images'], output_names=['pool3'],
                      dynamic_axes={'images': {0: 'N'}, 'pool3': {0: 'N'}}, opset_version=17)
    print('wrote', out)


if __name__ == '__main__':
    main(sys.argv[1] if len(sys.argv) > 1 else 'pt_inception.onnx')
