// npm run profile [-- mlp|dcgan|resnet] [--loss sngan|wgan-gp] [--no-arena] [--width N] [--batch N] [--threads N] [--iters N] [--warmup N] [--ep cpu|webgpu] [--json] [--peer]
// Where a training step's time goes: onnxruntime's profiler over the critic and generator step graphs
// (one session run per step), per op type and per heavy node, the achieved GFLOP/s of the convolutions and
// matrix products, the node count, the time run() spends outside the graph (feeds in, fetches out), and
// the minor page faults per run (a session's memory arena grows over its first runs, each new page faulted
// in: the ResNet generator step's first two runs fault ~350 MB and take 3x as long as the later ones).
// --peer adds PyTorch's profile of the same training (torch.profiler, per op) from the bench peer script.
// With --ep webgpu it lists every node onnxruntime placed on another provider (the CPU) and its cost.
import { Command, Option } from 'commander';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeRuntime } from '../runtime/node.ts';
import { NODE_EPS, type NodeEp } from '../runtime/runtime.ts';
import type { Runtime, Session } from '../runtime/runtime.ts';
import { Trainer } from '../training/trainer.ts';
import { benchSetup, BENCH_SETUPS } from './cases.ts';
import { peakRssMb } from './rows.ts';

const cmd = new Command('profile')
  .argument('[setup]', BENCH_SETUPS.join(' | '), 'dcgan')
  .option('--loss <name>', 'resnet: sngan or wgan-gp', 'sngan')
  .option('--width <n>', 'dcgan, resnet: block channels', (v) => parseInt(v, 10))
  .option('--batch <n>', 'dcgan, resnet: batch size (default 64)', (v) => parseInt(v, 10))
  .option('--threads <n>', 'intra-op threads', (v) => parseInt(v, 10), 1)
  .option('--iters <n>', 'profiled generator iterations (after the warm-up)', (v) => parseInt(v, 10), 3)
  .option('--warmup <n>', 'generator iterations first, cut from the profile (until the arenas stop growing)', (v) => parseInt(v, 10), 3)
  .option('--top <n>', 'heaviest nodes to list', (v) => parseInt(v, 10), 12)
  .addOption(new Option('--ep <name>', 'execution provider').choices(NODE_EPS).default('cpu'))
  .option('--peer', "add PyTorch's profile of the same training")
  .option('--no-arena', "without onnxruntime's CPU memory arena")
  .option('--json', 'print one JSON object');
cmd.parse(process.argv);
const o = cmd.opts<{ loss: string; width?: number; batch?: number; threads: number; iters: number; warmup: number; top: number; ep: NodeEp; peer?: boolean; json?: boolean; arena: boolean }>();
const bench = benchSetup(cmd.args[0] ?? 'dcgan', { loss: o.loss, width: o.width, batch: o.batch });

interface Shape { [dtype: string]: number[] }
interface Event { cat: string; name: string; ts: number; dur: number; args?: { op_name?: string; provider?: string; input_type_shape?: Shape[]; output_type_shape?: Shape[] } }
const dims = (s: Shape | undefined) => (s ? Object.values(s)[0] : []);
const prod = (a: number[]) => a.reduce((x, y) => x * y, 1);

/** Multiply-adds x 2 of the ops whose cost is arithmetic (ORT's fused variants included); 0 for the rest. */
function flops(op: string, ins: Shape[], outs: Shape[]): number {
  const x = dims(ins[0]), w = dims(ins[1]), y = dims(outs[0]);
  if (op === 'Conv' || op === 'FusedConv' || op === 'NhwcConv') return 2 * prod(y) * prod(w.slice(1));
  if (op === 'ConvTranspose') return 2 * prod(x) * prod(w.slice(1));
  if (op === 'MatMul' || op === 'FusedMatMul' || op === 'Gemm' || op === 'FusedGemm') {
    // MatMul contracts x's last axis; Gemm may transpose either side, but x [M,K] w [K,N] y [M,N] gives K^2.
    const k = op.endsWith('Gemm') ? Math.sqrt((prod(x) * prod(w)) / Math.max(prod(y), 1)) : x[x.length - 1];
    return 2 * prod(y) * k;
  }
  return 0;
}

interface OpRow { op: string; nodes: number; ms: number; share: number; gflops?: number }
interface Placed { node: string; op: string; provider: string; ms: number; shapes: string }
interface Report {
  program: string; nodes: number; runs: number; graphMs: number; runMs: number; outsideMs: number; faultsPerRun: number; grownMb: number; ops: OpRow[]; heavy: { node: string; op: string; ms: number; shapes: string }[];
  /** Nodes per execution provider, and every node not on the one asked for (copies between them included). */
  providers: Record<string, number>; elsewhere: Placed[];
}

const PROVIDER: Record<NodeEp, string> = { cpu: 'CPUExecutionProvider', cuda: 'CUDAExecutionProvider', webgpu: 'WebGpuExecutionProvider' };

/** The profile of the runs after the first `warm` (ORT profiles from session start; warm-up runs allocate). */
function analyse(program: string, file: string, warm: number, runs: number, wallMs: number, faults: number, grownMb: number): Report {
  const all = JSON.parse(readFileSync(file, 'utf8')) as Event[];
  const modelRuns = all.filter((e) => e.cat === 'Session' && e.name === 'model_run').sort((a, b) => a.ts - b.ts);
  const cutoff = warm > 0 ? modelRuns[warm - 1].ts + modelRuns[warm - 1].dur : -Infinity;
  const events = all.filter((e) => e.ts >= cutoff);
  const kernels = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
  const runsUs = modelRuns.filter((e) => e.ts >= cutoff).reduce((a, e) => a + e.dur, 0);
  const byOp = new Map<string, { us: number; flops: number; nodes: Set<string> }>();
  const byNode = new Map<string, { op: string; provider: string; us: number; shapes: string }>();
  for (const e of kernels) {
    const op = e.args?.op_name ?? '?';
    const node = e.name.slice(0, -'_kernel_time'.length);
    const r = byOp.get(op) ?? { us: 0, flops: 0, nodes: new Set() };
    r.us += e.dur;
    r.flops += flops(op, e.args?.input_type_shape ?? [], e.args?.output_type_shape ?? []);
    r.nodes.add(node);
    byOp.set(op, r);
    const n = byNode.get(node) ?? { op, provider: e.args?.provider ?? '?', us: 0, shapes: (e.args?.input_type_shape ?? []).map((s) => `[${dims(s)}]`).join(' ') };
    n.us += e.dur;
    byNode.set(node, n);
  }
  const total = [...byOp.values()].reduce((a, r) => a + r.us, 0);
  const ops = [...byOp.entries()].map(([op, r]) => ({ op, nodes: r.nodes.size, ms: r.us / 1000 / runs, share: r.us / total, ...(r.flops ? { gflops: r.flops / r.us / 1000 } : {}) })).sort((a, b) => b.ms - a.ms);
  const heavy = [...byNode.entries()].sort((a, b) => b[1].us - a[1].us).slice(0, o.top).map(([node, n]) => ({ node, op: n.op, ms: n.us / 1000 / runs, shapes: n.shapes }));
  const graphMs = runsUs / 1000 / runs;
  const providers: Record<string, number> = {};
  for (const n of byNode.values()) providers[n.provider] = (providers[n.provider] ?? 0) + 1;
  const elsewhere = [...byNode.entries()].filter(([, n]) => n.provider !== PROVIDER[o.ep]).map(([node, n]) => ({ node, op: n.op, provider: n.provider, ms: n.us / 1000 / runs, shapes: n.shapes }));
  return { program, nodes: byNode.size, runs, graphMs, runMs: wallMs / runs, outsideMs: wallMs / runs - graphMs, faultsPerRun: faults / runs, grownMb, ops, heavy, providers, elsewhere };
}

// Sessions open in the trainer's order (critic step, then generator step); each writes its own profile and
// times its run() calls from JavaScript, so the time outside the graph is run() minus the graph's own.
const dir = mkdtempSync(join(tmpdir(), 'onnx-gan-profile-'));
const programs = ['critic_step', 'generator_step'];
const opened: { name: string; session: Session; wallMs: number; runs: number; faults: number; grownMb: number }[] = [];
let names = 0;
const base = nodeRuntime(o.ep, { arena: o.arena });
const runtime: Runtime = {
  ...base,
  async createSession(model, so) {
    const name = programs[names++] ?? `program${names}`;
    const session = await base.createSession(model, { ...so, profile: join(dir, name) });
    const rec = { name, session, wallMs: 0, runs: 0, faults: 0, grownMb: 0 };
    opened.push(rec);
    return {
      ...session,
      async runKeeping(feeds) {
        const [t, f, m] = [performance.now(), process.resourceUsage().minorPageFault, process.memoryUsage.rss()];
        const r = await session.runKeeping(feeds);
        rec.wallMs += performance.now() - t;
        rec.faults += process.resourceUsage().minorPageFault - f;
        // Resident memory this graph's runs added, warm-up included: its arena (and outputs kept) growing.
        rec.grownMb += (process.memoryUsage.rss() - m) / 2 ** 20;
        rec.runs++;
        return r;
      },
    };
  },
};

const trainer = await Trainer.create({ setup: bench.setup, runtime, data: bench.data, seed: 0, nCritic: () => bench.nCritic, threads: o.threads });
const state = trainer.initialState();
for (let i = 0; i < o.warmup; i++) await trainer.iteration(state);
const warm = opened.map((r) => r.runs);
for (const r of opened) (r.wallMs = 0), (r.runs = 0), (r.faults = 0);
const t0 = performance.now();
for (let i = 0; i < o.iters; i++) await trainer.iteration(state);
const seconds = (performance.now() - t0) / 1000;
const reports = opened.map((r, i) => {
  r.session.endProfiling!();
  const file = readdirSync(dir).find((f) => f.startsWith(r.name) && f.endsWith('.json'))!;
  return analyse(r.name, join(dir, file), warm[i], r.runs, r.wallMs, r.faults, r.grownMb);
});
await trainer.release();
rmSync(dir, { recursive: true, force: true });

let peer: unknown = null;
if (o.peer) {
  const script = fileURLToPath(new URL(`./${bench.peer.script}`, import.meta.url));
  const r = spawnSync('/usr/bin/python3', [script, String(o.threads), String(o.warmup), String(o.iters), ...bench.peer.args], { encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '1', PEER_PROFILE: '1' } });
  if (r.status !== 0) throw new Error(`PyTorch peer failed: ${r.stderr.trim().split('\n').pop()}`);
  peer = JSON.parse(r.stdout.trim().split('\n').pop()!);
}

if (o.json) {
  console.log(JSON.stringify({ benchmark: bench.title, ep: o.ep, threads: o.threads, iters: o.iters, warmup: o.warmup, seconds_per_iteration: seconds / o.iters, peak_rss_mb: peakRssMb(), programs: reports, pytorch: peer }));
} else {
  console.log(`${bench.title}: ${(seconds / o.iters).toFixed(3)} s per generator iteration, ${o.ep}, ${o.threads} thread(s), after ${o.warmup} warm-up iteration(s), profiler on; peak resident memory ${peakRssMb().toFixed(0)} MB`);
  for (const r of reports) {
    console.log(`\n${r.program}: ${r.nodes} nodes, ${r.graphMs.toFixed(2)} ms in the graph per run, ${r.outsideMs.toFixed(2)} ms outside it (feeds, fetches; ${r.runs} runs), ${Math.round(r.faultsPerRun)} page faults per run`);
    console.log(`  resident memory grown during its runs (its arena, warm-up included): ${r.grownMb.toFixed(1)} MB`);
    console.log(`  placed: ${Object.entries(r.providers).map(([p, n]) => `${n} on ${p}`).join(', ')}`);
    for (const x of r.elsewhere) console.log(`    not on ${PROVIDER[o.ep]}: ${x.op} ${x.node} on ${x.provider}, ${x.ms.toFixed(3)} ms/run ${x.shapes}`);
    console.log('  op type                 nodes      ms/run  share  GFLOP/s');
    for (const x of r.ops.filter((x) => x.share > 0.005)) console.log(`  ${x.op.padEnd(22)} ${String(x.nodes).padStart(6)} ${x.ms.toFixed(2).padStart(11)} ${(100 * x.share).toFixed(1).padStart(5)}%  ${x.gflops ? x.gflops.toFixed(1).padStart(7) : ''}`);
    console.log('  heaviest nodes:');
    for (const h of r.heavy) console.log(`    ${h.ms.toFixed(2).padStart(8)} ms  ${h.op.padEnd(14)} ${h.shapes}`);
  }
  if (peer) {
    const p = peer as { seconds: number; iters: number; peak_rss_mb: number; ops: { op: string; calls: number; self_us: number; flops: number }[] };
    const total = p.ops.reduce((a, x) => a + x.self_us, 0);
    console.log(`\nPyTorch (${(p.seconds / p.iters).toFixed(3)} s per generator iteration under its profiler; peak resident memory ${p.peak_rss_mb.toFixed(0)} MB): self time per op per iteration`);
    for (const x of p.ops.filter((x) => x.self_us / total > 0.005)) console.log(`  ${x.op.padEnd(40)} ${String(Math.round(x.calls / p.iters)).padStart(6)} calls ${(x.self_us / 1000 / p.iters).toFixed(2).padStart(10)} ms ${(100 * x.self_us / total).toFixed(1).padStart(5)}%${x.flops ? `  ${(x.flops / x.self_us / 1000).toFixed(1)} GFLOP/s` : ''}`);
  }
}
