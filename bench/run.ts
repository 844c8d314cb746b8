// npm run bench [-- --json] [--iters N]
// Trains the benchmark setup (G 16-128-128-2 ReLU, D 2-128-128-1 LeakyReLU 0.2, batch 256, WGAN-GP
// lambda 10, n_critic 5, Adam 1e-4 (0.5, 0.9)) and reports generator steps per second (each with its 5
// critic steps) after a warm-up, side by side in the same run with the same training in PyTorch on the
// CPU when Debian's python3-torch is installed. The ratio is taken against PyTorch's faster thread setting.
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
  .option('--no-peer', 'skip the PyTorch peer');
cmd.parse(process.argv);
const o = cmd.opts<{ json?: boolean; iters: number; warmup: number; peer: boolean }>();

/** fuse 0: one session run per step; fuse K: K iterations per run in one ONNX Loop. */
async function ours(fuse: number) {
  // One intra-op thread: measured fastest for these graphs (more threads add a sync per small node);
  // the host draws the next block's noise on the other core meanwhile.
  const trainer = await Trainer.create({ setup: mlpGan({ loss: 'wgan-gp' }), runtime: nodeRuntime('cpu'), data: dataset('ring8'), seed: 0, nCritic: () => 5, threads: 1 });
  const state = trainer.initialState();
  const step = async (n: number) => {
    if (fuse > 0) for (let i = 0; i < n; i += fuse) await trainer.fusedIterations(state, Math.min(fuse, n - i));
    else for (let i = 0; i < n; i++) await trainer.iteration(state);
  };
  await step(o.warmup);
  const t0 = performance.now();
  await step(o.iters);
  const seconds = (performance.now() - t0) / 1000;
  await trainer.release();
  return { name: fuse ? `onnx-gan, fused x${fuse}` : 'onnx-gan, one run per step', threads: 1, iters: o.iters, seconds, steps_per_s: o.iters / seconds };
}

function pytorch(threads: number) {
  const python = '/usr/bin/python3';
  if (!o.peer || !existsSync(python)) return null;
  const script = fileURLToPath(new URL('./torch_wgan_gp.py', import.meta.url));
  // OpenBLAS's own pthreads oversubscribe the cores under torch's OpenMP threads (11.8 vs 38 steps/s on
  // 2 cores, measured); one BLAS thread is PyTorch's fastest setting at every torch thread count.
  const r = spawnSync(python, [script, String(threads), String(o.warmup), String(Math.min(o.iters, 200))], { encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } });
  if (r.status !== 0) {
    if (/No module named 'torch'/.test(r.stderr)) return null;
    throw new Error(`PyTorch peer failed: ${r.stderr.trim().split('\n').pop()}`);
  }
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!);
  return { name: `PyTorch ${j.torch} CPU`, threads, iters: j.iters, seconds: j.seconds, steps_per_s: j.steps_per_s as number };
}

const rows = [await ours(10), await ours(0), pytorch(2), pytorch(1)].filter((r) => r !== null);
const peers = rows.filter((r) => r.name.startsWith('PyTorch'));
const best = peers.length ? Math.max(...peers.map((p) => p.steps_per_s)) : null;
const result = { benchmark: 'WGAN-GP, MLP 2-D, batch 256, n_critic 5', rows, ratio_vs_best_pytorch: best ? rows[0].steps_per_s / best : null };
if (o.json) console.log(JSON.stringify(result));
else {
  console.log(result.benchmark);
  for (const r of rows) console.log(`  ${r.name.padEnd(28)} ${String(r.threads).padStart(2)} thread${r.threads > 1 ? 's' : ' '}  ${r.steps_per_s.toFixed(1).padStart(6)} generator steps/s`);
  if (best) console.log(`ratio (fused vs best PyTorch): ${result.ratio_vs_best_pytorch!.toFixed(2)}x`);
  else console.log('PyTorch peer not run: install Debian python3-torch and libopenblas0-pthread');
}
