#!/usr/bin/python3
"""Run an onnx-gan export in other frameworks: OpenCV's DNN importer on generator.onnx and critic.onnx, and
the exported model.py (PyTorch) on weights.safetensors. Inputs and outputs are raw little-endian float32.
Usage: /usr/bin/python3 interop.py EXPORT_DIR Z_FILE N_Z X_FILE N_X OUT_DIR SAMPLE_SHAPE [LABELS]
Writes OUT_DIR/{cv2,torch}_{generator,critic}.f32 and prints JSON with their shapes. With LABELS (a JSON list,
each sample's class) the networks are class-conditional: model.py only, as OpenCV's DNN takes float inputs."""
import json, os, sys
import numpy as np

export, zf, nz, xf, nx, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), sys.argv[6]
z = np.fromfile(zf, dtype='<f4').reshape(nz, -1)
x = np.fromfile(xf, dtype='<f4')
x = x.reshape((nx,) + tuple(json.loads(sys.argv[7])))
labels = json.loads(sys.argv[8]) if len(sys.argv) > 8 else None
shapes = {}

import cv2
for name, inp in (() if labels else (('generator', z), ('critic', x))):
    net = cv2.dnn.readNetFromONNX(os.path.join(export, f'{name}.onnx'))
    net.setInput(inp)
    y = net.forward()
    y.astype('<f4').tofile(os.path.join(out, f'cv2_{name}.f32'))
    shapes[f'cv2_{name}'] = list(y.shape)

import torch
sys.path.insert(0, export)
import model
with torch.no_grad():
    G = model.load_generator(os.path.join(export, 'weights.safetensors')).eval()
    D = model.load_critic(os.path.join(export, 'weights.safetensors')).eval()
    for name, m, inp in (('generator', G, z), ('critic', D, x)):
        y = (m(torch.from_numpy(inp), torch.tensor(labels)) if labels else m(torch.from_numpy(inp))).numpy()
        y.astype('<f4').tofile(os.path.join(out, f'torch_{name}.f32'))
        shapes[f'torch_{name}'] = list(y.shape)
print(json.dumps(shapes))
