"""Shared by the PyTorch peers of `npm run bench`: time `iteration` after a warm-up, print one JSON line."""
import json, time
import torch


def report(iteration, threads, warmup, iters):
    for _ in range(warmup):
        iteration()
    t = time.perf_counter()
    for _ in range(iters):
        iteration()
    dt = time.perf_counter() - t
    print(json.dumps({'peer': 'pytorch', 'torch': torch.__version__, 'threads': threads, 'iters': iters, 'seconds': dt, 'steps_per_s': iters / dt}))
