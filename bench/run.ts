// npm run bench [-- --json] [--iters N] [--threads T]
// Trains the benchmark setup (G 16-128-128-2 ReLU, D 2-128-128-1 LeakyReLU 0.2, batch 256, WGAN-GP
// lambda 10, n_critic 5, Adam 1e-4 (0.5, 0.9)) and reports generator steps per second after a warm-up,
// side by side with the same training in PyTorch on the CPU when Debian's python3-torch is installed.
import { Command } from 'commander';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dataset } from '../harness/datasets.ts';
import { mlpGan } from '../harness/setups.ts';
import { nodeRuntime } from '../training/runtime-node.ts';
import { Trainer } from '../training/trainer.ts';

const cmd = new Command('bench')
  .option('--json', 'print one JSON object')
  .option('--iters <n>', 'timed generator steps', (v) => parseInt(v, 10), 300)
  .option('--warmup <n>', 'untimed generator steps first', (v) => parseInt(v, 10), 30)
  .option('--threads <n>', 'threads for both sides', (v) => parseInt(v, 10), 2)
  .option('--fuse <k>', 'iterations per session run in one ONNX Loop (0: one run per step)', (v) => parseInt(v, 10), 0)
  .option('--no-peer', 'skip the PyTorch peer');
cmd.parse(process.argv);
const o = cmd.opts<{ json?: boolean; iters: number; warmup: number; threads: number; fuse: number; peer: boolean }>();

async function ours() {
  const trainer = await Trainer.create({ setup: mlpGan({ loss: 'wgan-gp' }), runtime: nodeRuntime('cpu'), data: dataset('ring8'), seed: 0, nCritic: () => 5, threads: o.threads });
  const state = trainer.initialState();
  const step = async (n: number) => {
    if (o.fuse > 0) for (let i = 0; i < n; i += o.fuse) await trainer.fusedIterations(state, Math.min(o.fuse, n - i));
    else for (let i = 0; i < n; i++) await trainer.iteration(state);
  };
  await step(o.warmup);
  const t0 = performance.now();
  await step(o.iters);
  const seconds = (performance.now() - t0) / 1000;
  await trainer.release();
  return { runtime: 'onnxruntime-node cpu', threads: o.threads, fuse: o.fuse, iters: o.iters, seconds, steps_per_s: o.iters / seconds };
}

function peer() {
  const python = '/usr/bin/python3';
  const script = fileURLToPath(new URL('./torch_wgan_gp.py', import.meta.url));
  if (!o.peer || !existsSync(python)) return null;
  // OpenBLAS's own pthreads oversubscribe the cores under torch's OpenMP threads (11.8 vs 38 steps/s on
  // 2 cores, measured); one BLAS thread is PyTorch's fastest setting at every torch thread count.
  const r = spawnSync(python, [script, String(o.threads), String(o.warmup), String(Math.min(o.iters, 200))], {
    encoding: 'utf8',
    env: { ...process.env, OPENBLAS_NUM_THREADS: '1' },
  });
  if (r.status !== 0) {
    if (/No module named 'torch'/.test(r.stderr)) return null;
    throw new Error(`PyTorch peer failed: ${r.stderr.trim().split('\n').pop()}`);
  }
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

const a = await ours();
const b = peer();
const result = { benchmark: 'wgan-gp mlp ring8', ours: a, pytorch: b, ratio: b ? a.steps_per_s / b.steps_per_s : null };
if (o.json) console.log(JSON.stringify(result));
else {
  console.log(`onnx-gan (${a.runtime}, ${a.threads} threads${a.fuse ? `, fused x${a.fuse}` : ''}): ${a.steps_per_s.toFixed(1)} generator steps/s`);
  if (b) console.log(`PyTorch ${b.torch} (CPU, ${b.threads} threads):        ${b.steps_per_s.toFixed(1)} generator steps/s`);
  else console.log('PyTorch peer: not run (install Debian python3-torch and libopenblas0-pthread)');
  if (result.ratio) console.log(`ratio: ${result.ratio.toFixed(2)}x`);
}
