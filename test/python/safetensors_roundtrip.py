#!/usr/bin/python3
"""Load a .safetensors file into PyTorch tensors by the format's spec (8-byte little-endian header length,
JSON header, raw little-endian data), report each tensor's shape and sum, and write the tensors back out
with torch's own bytes. Debian has no python3-safetensors, so this follows the spec directly.
Usage: /usr/bin/python3 safetensors_roundtrip.py IN OUT   -> prints JSON {name: [shape, sum]}"""
import json, struct, sys
import torch

DT = {'F32': torch.float32, 'F64': torch.float64, 'I64': torch.int64}
src, dst = sys.argv[1], sys.argv[2]
raw = open(src, 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
header = json.loads(raw[8:8 + n])
meta = header.pop('__metadata__', {})
body = raw[8 + n:]
tensors = {}
for name, e in header.items():
    b, end = e['data_offsets']
    t = torch.frombuffer(bytearray(body[b:end]), dtype=DT[e['dtype']]).reshape(e['shape'])
    tensors[name] = t
out_header, chunks, off = {}, [], 0
for name, t in tensors.items():
    data = t.contiguous().numpy().tobytes()
    out_header[name] = {'dtype': 'F32', 'shape': list(t.shape), 'data_offsets': [off, off + len(data)]}
    chunks.append(data)
    off += len(data)
out_header['__metadata__'] = {k: v for k, v in meta.items() if k != 'crc32'}
h = json.dumps(out_header).encode()
with open(dst, 'wb') as f:
    f.write(struct.pack('<Q', len(h)) + h + b''.join(chunks))
print(json.dumps({k: [list(t.shape), float(t.double().sum())] for k, t in tensors.items()}))
