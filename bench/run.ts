// npm run bench [-- mlp|dcgan|resnet|page] [--loss sngan|wgan-gp] [--json] [--iters N] [--warmup N] [--threads 1,2] [--ep cpu|cuda|webgpu]
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
//   page:   the MLP in the browser tab beside Node and TF.js (bench/page.ts)
import { Command, Option } from 'commander';
import { NODE_EPS, type NodeEp } from '../runtime/runtime.ts';
import { benchSetup, BENCH_SETUPS, type Bench } from './cases.ts';
import { fastest, ours, pytorch, rowLine, type Row } from './rows.ts';

const DEFAULTS: Record<string, { iters: number; warmup: number; fuse: number }> = {
  mlp: { iters: 300, warmup: 30, fuse: 10 },
  dcgan: { iters: 60, warmup: 5, fuse: 5 },
  // Three warm-up iterations: the generator step's arena grows over its first two runs (page faults, 3x slower).
  resnet: { iters: 3, warmup: 3, fuse: 1 },
};

const cmd = new Command('bench')
  .argument('[setup]', [...BENCH_SETUPS, 'page'].join(' | '), 'mlp')
  .option('--json', 'print one JSON object per benchmark')
  .option('--iters <n>', 'timed generator steps (default: 300 mlp, 60 dcgan, 3 resnet, 200 page)', (v) => parseInt(v, 10))
  .option('--warmup <n>', 'untimed generator steps first (default: 30 mlp, 5 dcgan, 3 resnet, 20 page)', (v) => parseInt(v, 10))
  .option('--width <n>', 'dcgan, resnet: block channels', (v) => parseInt(v, 10))
  .option('--loss <name>', 'resnet: sngan or wgan-gp (default: both)')
  .option('--threads <list>', 'intra-op thread counts to run each side at', '1,2')
  .addOption(new Option('--ep <name>', 'execution provider of our rows').choices(NODE_EPS).default('cpu'))
  .option('--no-peer', 'skip the PyTorch peer')
  .option('--no-arena', "our rows without onnxruntime's CPU memory arena (measured against it: docs/performance.md)");
cmd.parse(process.argv);
const which = cmd.args[0] ?? 'mlp';
if (which !== 'page' && !(BENCH_SETUPS as readonly string[]).includes(which)) {
  console.error(`bench: unknown setup '${which}'; choose ${BENCH_SETUPS.join(', ')}`);
  process.exit(1);
}
const opts = cmd.opts<{ json?: boolean; iters?: number; warmup?: number; width?: number; loss?: string; threads: string; ep: NodeEp; peer: boolean; arena: boolean }>();
const threadList = opts.threads.split(',').map((t) => parseInt(t, 10));
if (threadList.some((t) => !Number.isInteger(t) || t < 1)) {
  console.error(`bench: --threads must list positive integers, got '${opts.threads}'`);
  process.exit(1);
}
if (which === 'page') {
  // The browser tab beside Node and TF.js (bench/page.ts).
  const { pageBench } = await import('./page.ts');
  await pageBench({ json: opts.json, iters: opts.iters ?? 200, warmup: opts.warmup ?? 20, threads: threadList });
  process.exit(0);
}
const d = DEFAULTS[which];
const o = { ...opts, iters: opts.iters ?? d.iters, warmup: opts.warmup ?? d.warmup };

async function run(bench: Bench) {
  const rows: Row[] = [];
  for (const threads of threadList) {
    rows.push(await ours(bench, o, threads, d.fuse));
    rows.push(await ours(bench, o, threads, 0));
    // Data parallel runs on the CPU only.
    if (threads > 1 && o.ep === 'cpu') rows.push(await ours(bench, o, threads, 0, threads));
    const peer = o.peer ? pytorch(bench, o, threads) : null;
    if (peer) rows.push(peer);
  }
  const isPeer = (r: Row) => r.name.startsWith('PyTorch');
  const best = fastest;
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
  for (const r of rows) console.log(rowLine(r));
  if (!bestPeer) return console.log(o.peer ? 'PyTorch peer not run: install Debian python3-torch and libopenblas0-pthread' : 'PyTorch peer skipped (--no-peer)');
  const at = (r: Row) => `${r.name}, ${r.threads} thread${r.threads > 1 ? 's' : ''}`;
  console.log(`best vs best: ${ratios.best_vs_best!.toFixed(2)}x (${at(bestOurs)} / ${at(bestPeer)})`);
  for (const t of threadList) if (ratios[`threads_${t}`] != null) console.log(`at ${t} thread${t > 1 ? 's' : ''} each: ${ratios[`threads_${t}`]!.toFixed(2)}x`);
}

const losses = which === 'resnet' ? (o.loss ? [o.loss] : ['sngan', 'wgan-gp']) : [undefined];
for (const loss of losses) await run(benchSetup(which, { width: o.width, loss }));
