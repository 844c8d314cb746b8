// npm run bench [-- mlp|dcgan] [--json] [--iters N]
// mlp (the default) trains the benchmark setup (G 16-128-128-2 ReLU, D 2-128-128-1 LeakyReLU 0.2, batch 256, WGAN-GP
// lambda 10, n_critic 5, Adam 1e-4 (0.5, 0.9)) and reports generator steps per second (each with its 5
// critic steps) after a warm-up, side by side in the same run with the same training in PyTorch on the
// CPU when Debian's python3-torch is installed. The ratio is taken against PyTorch's faster thread setting.
// dcgan trains the 28x28 DCGAN (models/dcgan.ts, width 32, batch 64, non-saturating loss, Adam 2e-4
// (0.5, 0.999), layer-norm critic) on uint8 images, against bench/torch_dcgan.py, at 1 and 2 threads each;
// ratios at equal threads.
import { Command } from 'commander';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dataset } from '../data/mixtures.ts';
import { imageSet } from '../harness/images.ts';
import { dcganGan, mlpGan } from '../harness/setups.ts';
import { Rng } from '../data/random.ts';
import { nodeRuntime } from '../training/runtime-node.ts';
import { Trainer } from '../training/trainer.ts';

const cmd = new Command('bench')
  .argument('[setup]', 'mlp | dcgan', 'mlp')
  .option('--json', 'print one JSON object')
  .option('--iters <n>', 'timed generator steps (default: 300 mlp, 60 dcgan)', (v) => parseInt(v, 10))
  .option('--warmup <n>', 'untimed generator steps first (default: 30 mlp, 5 dcgan)', (v) => parseInt(v, 10))
  .option('--width <n>', 'dcgan: channels next to the image', (v) => parseInt(v, 10), 32)
  .option('--no-peer', 'skip the PyTorch peer');
cmd.parse(process.argv);
const which = cmd.args[0] ?? 'mlp';
if (which !== 'mlp' && which !== 'dcgan') {
  console.error(`bench: unknown setup '${which}'; choose mlp or dcgan`);
  process.exit(1);
}
const opts = cmd.opts<{ json?: boolean; iters?: number; warmup?: number; width: number; peer: boolean }>();
const o = { ...opts, iters: opts.iters ?? (which === 'mlp' ? 300 : 60), warmup: opts.warmup ?? (which === 'mlp' ? 30 : 5) };

/** Generator steps per second after a warm-up; fuse 0: one session run per step, K: K iterations per run in one ONNX Loop. */
async function timed(trainer: Trainer, threads: number, fuse: number): Promise<Row> {
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
  return { name: fuse ? `onnx-gan, fused x${fuse}` : 'onnx-gan, one run per step', threads, iters: o.iters, seconds, steps_per_s: o.iters / seconds };
}

async function ours(fuse: number) {
  // One intra-op thread: measured fastest for these graphs (more threads add a sync per small node);
  // the host draws the next block's noise on the other core meanwhile.
  const trainer = await Trainer.create({ setup: mlpGan({ loss: 'wgan-gp' }), runtime: nodeRuntime('cpu'), data: dataset('ring8'), seed: 0, nCritic: () => 5, threads: 1 });
  return timed(trainer, 1, fuse);
}

const pytorch = (threads: number) => torchPeer('torch_wgan_gp.py', threads);

/** The DCGAN at `threads` intra-op threads, on uint8 noise images (the content does not change the speed). */
async function oursDcgan(threads: number, fuse: number): Promise<Row> {
  const rng = Rng.stream(0, 'bench-images');
  const data = imageSet('uint8 noise images', [1, 28, 28], Uint8Array.from({ length: 10000 * 784 }, () => rng.int(256)));
  const setup = dcganGan({ loss: 'ns', image: data.shape, width: o.width, batch: 64 });
  return timed(await Trainer.create({ setup, runtime: nodeRuntime('cpu'), data, seed: 0, nCritic: () => 1, threads }), threads, fuse);
}

function torchPeer(file: string, threads: number, extra: string[] = []) {
  const python = '/usr/bin/python3';
  if (!o.peer || !existsSync(python)) return null;
  const script = fileURLToPath(new URL(`./${file}`, import.meta.url));
  // OpenBLAS's own pthreads oversubscribe the cores under torch's OpenMP threads (11.8 vs 38 steps/s on
  // 2 cores, measured); one BLAS thread is PyTorch's fastest setting at every torch thread count.
  const r = spawnSync(python, [script, String(threads), String(o.warmup), String(Math.min(o.iters, 200)), ...extra], { encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } });
  if (r.status !== 0) {
    if (/No module named 'torch'/.test(r.stderr)) return null;
    throw new Error(`PyTorch peer failed: ${r.stderr.trim().split('\n').pop()}`);
  }
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!);
  return { name: `PyTorch ${j.torch} CPU`, threads, iters: j.iters, seconds: j.seconds, steps_per_s: j.steps_per_s as number };
}

interface Row {
  name: string;
  threads: number;
  iters: number;
  seconds: number;
  steps_per_s: number;
}

function print(result: { benchmark: string; rows: Row[] }, ratios: [string, number | null][]) {
  if (o.json) return console.log(JSON.stringify({ ...result, ratios: Object.fromEntries(ratios) }));
  console.log(result.benchmark);
  for (const r of result.rows) console.log(`  ${r.name.padEnd(28)} ${String(r.threads).padStart(2)} thread${r.threads > 1 ? 's' : ' '}  ${r.steps_per_s.toFixed(1).padStart(6)} generator steps/s`);
  if (!result.rows.some((r) => r.name.startsWith('PyTorch'))) return console.log(o.peer ? 'PyTorch peer not run: install Debian python3-torch and libopenblas0-pthread' : 'PyTorch peer skipped (--no-peer)');
  for (const [what, x] of ratios) if (x !== null) console.log(`ratio (${what}): ${x.toFixed(2)}x`);
}

if (which === 'mlp') {
  const rows = [await ours(10), await ours(0), pytorch(2), pytorch(1)].filter((r) => r !== null);
  const peers = rows.filter((r) => r.name.startsWith('PyTorch'));
  const best = peers.length ? Math.max(...peers.map((p) => p.steps_per_s)) : null;
  print({ benchmark: 'WGAN-GP, MLP 2-D, batch 256, n_critic 5', rows }, [['fused vs best PyTorch', best ? rows[0].steps_per_s / best : null]]);
} else {
  const rows: Row[] = [];
  for (const threads of [1, 2]) {
    rows.push(await oursDcgan(threads, 5));
    rows.push(await oursDcgan(threads, 0));
    const peer = torchPeer('torch_dcgan.py', threads, [String(o.width)]);
    if (peer) rows.push(peer);
  }
  const at = (t: number, pre: string) => rows.find((r) => r.threads === t && r.name.startsWith(pre));
  const ratio = (t: number, pre: string) => ((a, b) => (a && b ? a.steps_per_s / b.steps_per_s : null))(at(t, pre), at(t, 'PyTorch'));
  print({ benchmark: `DCGAN 28x28, width ${o.width}, batch 64, non-saturating, layer-norm critic`, rows }, [
    ['1 thread each, fused', ratio(1, 'onnx-gan, fused')],
    ['1 thread each, one run per step', ratio(1, 'onnx-gan, one')],
    ['2 threads each, fused', ratio(2, 'onnx-gan, fused')],
    ['2 threads each, one run per step', ratio(2, 'onnx-gan, one')],
  ]);
}
