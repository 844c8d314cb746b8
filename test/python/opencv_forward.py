#!/usr/bin/python3
"""Load one ONNX model with OpenCV's DNN importer and run it on a float32 input.
Usage: /usr/bin/python3 opencv_forward.py MODEL INPUT_FILE INPUT_SHAPE_JSON OUTPUT_FILE
Writes the output (raw little-endian float32) and prints {"shape": [...]}, or prints {"refused": "..."}
when OpenCV cannot load or run it (the first line of its error)."""
import json, sys
import numpy as np
import cv2

model, inp, shape, out = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
x = np.fromfile(inp, dtype='<f4').reshape(shape)
try:
    net = cv2.dnn.readNetFromONNX(model)
    net.setInput(x)
    y = net.forward()
except cv2.error as e:
    print(json.dumps({'refused': str(e).strip().splitlines()[0]}))
    sys.exit(0)
y.astype('<f4').tofile(out)
print(json.dumps({'shape': list(y.shape)}))
