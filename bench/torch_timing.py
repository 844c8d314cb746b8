"""Shared by the PyTorch peers of `npm run bench`: time `iteration` after a warm-up, print one JSON line.
With PEER_PROFILE set, profile the timed iterations instead (torch.profiler, CPU) and print where the time
went per op, the peer of onnx-gan's `npm run profile`."""
import json, os, resource, time
import torch


def update(opt, loss):
    """One optimizer step on `loss`, gradients cleared first (as every peer steps its networks)."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def report(iteration, threads, warmup, iters):
    for _ in range(warmup):
        iteration()
    if os.environ.get('PEER_PROFILE'):
        return profile(iteration, threads, iters)
    t = time.perf_counter()
    for _ in range(iters):
        iteration()
    dt = time.perf_counter() - t
    print(json.dumps({'peer': 'pytorch', 'torch': torch.__version__, 'threads': threads, 'iters': iters, 'seconds': dt, 'steps_per_s': iters / dt, 'peak_rss_mb': peak_rss_mb()}))


def peak_rss_mb():
    """This process's peak resident memory (MB): VmHWM, as the bench rows read theirs (ru_maxrss carries the
    parent's over a fork)."""
    try:
        with open('/proc/self/status') as f:
            return next(int(l.split()[1]) for l in f if l.startswith('VmHWM:')) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def profile(iteration, threads, iters):
    from torch.profiler import profile as prof, ProfilerActivity
    with prof(activities=[ProfilerActivity.CPU], with_flops=True) as p:
        t = time.perf_counter()
        for _ in range(iters):
            iteration()
        dt = time.perf_counter() - t
    ops = [{'op': e.key, 'calls': e.count, 'self_us': e.self_cpu_time_total, 'flops': e.flops}
           for e in p.key_averages() if e.self_cpu_time_total > 0]
    ops.sort(key=lambda o: -o['self_us'])
    print(json.dumps({'peer': 'pytorch', 'torch': torch.__version__, 'threads': threads, 'iters': iters, 'seconds': dt, 'peak_rss_mb': peak_rss_mb(), 'ops': ops}))
