// npm run bench [-- mlp|dcgan|resnet] [--loss sngan|wgan-gp] [--json] [--iters N] [--warmup N] [--threads 1,2] [--ep cpu|cuda|webgpu]
// Trains a setup from bench/cases.ts and reports generator steps per second (each with its critic steps)
// after a warm-up, side by side in the same run with the same training in PyTorch on the CPU (Debian's
// python3-torch, the peer scripts in bench/), every row at 1 and 2 intra-op threads, and at 2 as two
// data-parallel shards of one thread each (training/shards.ts). Ratios: best onnx-gan row over best PyTorch row (each side at its fastest setting, named), and at equal threads. With --ep
// webgpu or cuda our rows run on that provider (threads then only size the CPU fallback's pool; the
// PyTorch peer stays on the CPU, as Debian's torch has no GPU build): the command for a GPU machine.
//   mlp:    WGAN-GP MLP on ring8, batch 256, n_critic 5
//   dcgan:  the 28x28 DCGAN (width 32, batch 64, non-saturating, layer-norm critic) on uint8 images
//   resnet: the SNGAN-layout ResNet-32 (width 64, batch 64, n_critic 5) under hinge + spectral norm and
//           under WGAN-GP (--loss picks one)
import { Command, Option } from 'commander';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { nodeRuntime } from '../runtime/node.ts';
import { NODE_EPS, type NodeEp } from '../runtime/runtime.ts';
import { Trainer } from '../training/trainer.ts';
import { benchSetup, BENCH_SETUPS, type Bench } from './cases.ts';

const DEFAULTS: Record<string, { iters: number; warmup: number; fuse: number }> = {
  mlp: { iters: 300, warmup: 30, fuse: 10 },
  dcgan: { iters: 60, warmup: 5, fuse: 5 },
  // Three warm-up iterations: the generator step's arena grows over its first two runs (page faults, 3x slower).
  resnet: { iters: 3, warmup: 3, fuse: 1 },
};

const cmd = new Command('bench')
  .argument('[setup]', BENCH_SETUPS.join(' | '), 'mlp')
  .option('--json', 'print one JSON object per benchmark')
  .option('--iters <n>', 'timed generator steps (default: 300 mlp, 60 dcgan, 3 resnet)', (v) => parseInt(v, 10))
  .option('--warmup <n>', 'untimed generator steps first (default: 30 mlp, 5 dcgan, 3 resnet)', (v) => parseInt(v, 10))
  .option('--width <n>', 'dcgan, resnet: block channels', (v) => parseInt(v, 10))
  .option('--loss <name>', 'resnet: sngan or wgan-gp (default: both)')
  .option('--threads <list>', 'intra-op thread counts to run each side at', '1,2')
  .addOption(new Option('--ep <name>', 'execution provider of our rows').choices(NODE_EPS).default('cpu'))
  .option('--no-peer', 'skip the PyTorch peer');
cmd.parse(process.argv);
const which = cmd.args[0] ?? 'mlp';
if (!(BENCH_SETUPS as readonly string[]).includes(which)) {
  console.error(`bench: unknown setup '${which}'; choose ${BENCH_SETUPS.join(', ')}`);
  process.exit(1);
}
const opts = cmd.opts<{ json?: boolean; iters?: number; warmup?: number; width?: number; loss?: string; threads: string; ep: NodeEp; peer: boolean }>();
const d = DEFAULTS[which];
const o = { ...opts, iters: opts.iters ?? d.iters, warmup: opts.warmup ?? d.warmup };
const threadList = o.threads.split(',').map((t) => parseInt(t, 10));
if (threadList.some((t) => !Number.isInteger(t) || t < 1)) {
  console.error(`bench: --threads must list positive integers, got '${o.threads}'`);
  process.exit(1);
}

interface Row {
  name: string;
  /** Where it ran: an onnxruntime provider, or 'cpu' for PyTorch. */
  ep: string;
  threads: number;
  iters: number;
  seconds: number;
  steps_per_s: number;
}

/**
 * Generator steps per second after a warm-up; fuse 0: one session run per step, K: K iterations per run
 * (one ONNX Loop, or unrolled where the provider has no Loop, K then cut to the trainer's limit).
 */
async function ours(bench: Bench, threads: number, want: number, shards = 1): Promise<Row> {
  const runtime = nodeRuntime(o.ep);
  // Data parallel: `shards` processes of one intra-op thread each (threads counts the cores used).
  const trainer = await Trainer.create({ setup: bench.setup, runtime, data: bench.data, seed: 0, nCritic: () => bench.nCritic, threads: shards > 1 ? 1 : threads, shards });
  const fuse = Math.min(want, trainer.fuseLimit(bench.nCritic));
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
  const fused = runtime.loops ? `fused x${fuse}` : `unrolled x${fuse}`;
  const how = shards > 1 ? `${shards} shards (processes)` : fuse ? fused : 'one run per step';
  return { name: `onnx-gan, ${how}`, ep: o.ep, threads, iters: o.iters, seconds, steps_per_s: o.iters / seconds };
}

function pytorch(bench: Bench, threads: number): Row | null {
  const python = '/usr/bin/python3';
  if (!o.peer || !existsSync(python)) return null;
  const script = fileURLToPath(new URL(`./${bench.peer.script}`, import.meta.url));
  // OpenBLAS's own pthreads oversubscribe the cores under torch's OpenMP threads (11.8 vs 38 steps/s on
  // 2 cores, measured); one BLAS thread is PyTorch's fastest setting at every torch thread count.
  const r = spawnSync(python, [script, String(threads), String(o.warmup), String(Math.min(o.iters, 200)), ...bench.peer.args], { encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } });
  if (r.status !== 0) {
    if (/No module named 'torch'/.test(r.stderr)) return null;
    throw new Error(`PyTorch peer failed: ${r.stderr.trim().split('\n').pop()}`);
  }
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!);
  return { name: `PyTorch ${j.torch} CPU`, ep: 'cpu', threads, iters: j.iters, seconds: j.seconds, steps_per_s: j.steps_per_s as number };
}

async function run(bench: Bench) {
  const rows: Row[] = [];
  for (const threads of threadList) {
    rows.push(await ours(bench, threads, d.fuse));
    rows.push(await ours(bench, threads, 0));
    // Data parallel runs on the CPU only.
    if (threads > 1 && o.ep === 'cpu') rows.push(await ours(bench, threads, 0, threads));
    const peer = pytorch(bench, threads);
    if (peer) rows.push(peer);
  }
  const isPeer = (r: Row) => r.name.startsWith('PyTorch');
  const best = (rs: Row[]) => (rs.length ? rs.reduce((a, b) => (b.steps_per_s > a.steps_per_s ? b : a)) : null);
  const bestOurs = best(rows.filter((r) => !isPeer(r)))!;
  const bestPeer = best(rows.filter(isPeer));
  const ratios: Record<string, number | null> = { best_vs_best: bestPeer ? bestOurs.steps_per_s / bestPeer.steps_per_s : null };
  for (const t of threadList) {
    const a = best(rows.filter((r) => !isPeer(r) && r.threads === t));
    const b = rows.find((r) => isPeer(r) && r.threads === t);
    ratios[`threads_${t}`] = a && b ? a.steps_per_s / b.steps_per_s : null;
  }
  const result = { benchmark: bench.title, ep: o.ep, rows, best: { onnx_gan: bestOurs, pytorch: bestPeer }, ratios };
  if (o.json) return console.log(JSON.stringify(result));
  console.log(`${bench.title}${o.ep === 'cpu' ? '' : `; onnx-gan on ${o.ep}`}`);
  for (const r of rows) console.log(`  ${`${r.name} (${r.ep})`.padEnd(36)} ${String(r.threads).padStart(2)} thread${r.threads > 1 ? 's' : ' '}  ${r.steps_per_s.toFixed(r.steps_per_s < 10 ? 3 : 1).padStart(7)} generator steps/s`);
  if (!bestPeer) return console.log(o.peer ? 'PyTorch peer not run: install Debian python3-torch and libopenblas0-pthread' : 'PyTorch peer skipped (--no-peer)');
  const at = (r: Row) => `${r.name}, ${r.threads} thread${r.threads > 1 ? 's' : ''}`;
  console.log(`best vs best: ${ratios.best_vs_best!.toFixed(2)}x (${at(bestOurs)} / ${at(bestPeer)})`);
  for (const t of threadList) if (ratios[`threads_${t}`] != null) console.log(`at ${t} thread${t > 1 ? 's' : ''} each: ${ratios[`threads_${t}`]!.toFixed(2)}x`);
}

const losses = which === 'resnet' ? (o.loss ? [o.loss] : ['sngan', 'wgan-gp']) : [undefined];
for (const loss of losses) await run(benchSetup(which, { width: o.width, loss }));
