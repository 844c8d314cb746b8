// One bench row each: our trainer on onnxruntime-node, and the PyTorch peer script, for a setup of
// bench/cases.ts. Shared by `npm run bench` (the setups beside PyTorch) and `npm run bench -- page` (the
// browser tab beside Node and TF.js).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { nodeRuntime } from '../runtime/node.ts';
import type { NodeEp } from '../runtime/runtime.ts';
import { Trainer } from '../training/trainer.ts';
import { benchSetup, type Bench } from './cases.ts';

export interface Row {
  name: string;
  /** Where it ran: an onnxruntime provider, 'cpu' for PyTorch, a browser backend for the tab's rows. */
  ep: string;
  threads: number;
  iters: number;
  seconds: number;
  steps_per_s: number;
  /** Peak resident memory of the processes that trained (MB; data-parallel rows: the sum over the row's process and its shards'). */
  peak_rss_mb: number | null;
}

export interface RowOptions {
  ep: NodeEp;
  warmup: number;
  iters: number;
  /** onnxruntime's CPU memory arena (default on). */
  arena?: boolean;
}

/** What a row's process is told: everything to rebuild the bench and run one row. */
export interface RowJob {
  bench: Bench['key'];
  o: RowOptions;
  threads: number;
  want: number;
  shards: number;
}

/**
 * One row in a process of its own, so that its peak memory is its own (bench/row.ts); progress lines of
 * slow iterations pass through on stderr.
 */
export function ours(bench: Bench, o: RowOptions, threads: number, want: number, shards = 1): Row {
  const job: RowJob = { bench: bench.key, o, threads, want, shards };
  const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./row.ts', import.meta.url)), JSON.stringify(job)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 });
  const last = r.stdout?.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !last.startsWith('{')) throw new Error(`bench row (${bench.title}, ${threads} threads, fuse ${want}${shards > 1 ? `, ${shards} shards` : ''}) failed: ${r.error?.message ?? `exit ${r.status ?? r.signal}`}`);
  return JSON.parse(last) as Row;
}

/** The row's process: rebuild the bench from its key and train. */
export async function runRow(job: RowJob): Promise<Row> {
  let shardsMb = 0;
  const row = await oursHere(benchSetup(job.bench.name, job.bench.options), job.o, job.threads, job.want, job.shards, () => (shardsMb = childrenPeakMb()));
  return { ...row, peak_rss_mb: peakRssMb() + shardsMb };
}

/** VmHWM of a /proc status text: the process's own peak resident memory (MB), its address space's high-water mark. */
const vmHwmMb = (status: string): number | null => {
  const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
  return hwm ? Number(hwm[1]) / 1024 : null;
};

/**
 * This process's peak resident memory (MB). Not ru_maxrss, which Linux carries over from the parent a child
 * was forked from (a row spawned by a 700 MB test runner read 742 MB).
 */
export function peakRssMb(): number {
  return (existsSync('/proc/self/status') && vmHwmMb(readFileSync('/proc/self/status', 'utf8'))) || process.resourceUsage().maxRSS / 1024;
}

/** The peak resident memory (MB) of every process now that `pick` chooses by its /proc status and command line (Linux; none elsewhere). */
export function processPeaks(pick: (status: string, cmdline: () => string) => boolean): Map<number, number> {
  const out = new Map<number, number>();
  if (!existsSync('/proc/self/status')) return out;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const status = readFileSync(`/proc/${d}/status`, 'utf8');
      const mb = vmHwmMb(status);
      if (mb !== null && pick(status, () => readFileSync(`/proc/${d}/cmdline`, 'utf8'))) out.set(Number(d), mb);
    } catch {
      // ended meanwhile
    }
  }
  return out;
}

/** The peak resident memory of this process's children now, summed. */
const childrenPeakMb = () => [...processPeaks((status) => Number(/PPid:\s+(\d+)/.exec(status)?.[1]) === process.pid).values()].reduce((a, b) => a + b, 0);

/**
 * Generator steps per second after a warm-up; fuse 0: one session run per step, K: K iterations per run
 * (one ONNX Loop, or unrolled where the provider has no Loop, K then cut to the trainer's limit).
 */
async function oursHere(bench: Bench, o: RowOptions, threads: number, want: number, shards: number, beforeRelease: () => void): Promise<Omit<Row, 'peak_rss_mb'>> {
  const runtime = nodeRuntime(o.ep, { arena: o.arena });
  // Data parallel: `shards` processes of one intra-op thread each (threads counts the cores used).
  const trainer = await Trainer.create({ setup: bench.setup, runtime, data: bench.data, seed: 0, nCritic: () => bench.nCritic, threads: shards > 1 ? 1 : threads, shards });
  const fuse = Math.min(want, trainer.fuseLimit(bench.nCritic));
  const state = trainer.initialState();
  // Where an iteration takes seconds (a software GPU, SwiftShader), a line per block shows it is alive.
  let done = 0;
  const block = async (k: number) => {
    const t = performance.now();
    if (fuse > 0) await trainer.fusedIterations(state, k);
    else await trainer.iteration(state);
    done += k;
    const s = (performance.now() - t) / 1000;
    if (s > 2) process.stderr.write(`  ${bench.title}, ${o.ep}: iteration ${done} of ${o.warmup + o.iters} took ${s.toFixed(1)} s\n`);
  };
  const step = async (n: number) => {
    const k = Math.max(1, fuse);
    for (let i = 0; i < n; i += k) await block(Math.min(k, n - i));
  };
  await step(o.warmup);
  const t0 = performance.now();
  await step(o.iters);
  const seconds = (performance.now() - t0) / 1000;
  beforeRelease();
  await trainer.release();
  const fused = runtime.loops ? `fused x${fuse}` : `unrolled x${fuse}`;
  const how = shards > 1 ? `${shards} shards (processes)` : fuse ? fused : 'one run per step';
  return { name: `onnx-gan, ${how}${o.arena === false ? ', no arena' : ''}`, ep: o.ep, threads, iters: o.iters, seconds, steps_per_s: o.iters / seconds };
}

/** The PyTorch peer on the CPU; null where Debian's python3-torch is missing. */
export function pytorch(bench: Bench, o: RowOptions, threads: number): Row | null {
  const python = '/usr/bin/python3';
  if (!existsSync(python)) return null;
  const script = fileURLToPath(new URL(`./${bench.peer.script}`, import.meta.url));
  // OpenBLAS's own pthreads oversubscribe the cores under torch's OpenMP threads (11.8 vs 38 steps/s on
  // 2 cores, measured); one BLAS thread is PyTorch's fastest setting at every torch thread count.
  const r = spawnSync(python, [script, String(threads), String(o.warmup), String(Math.min(o.iters, 200)), ...bench.peer.args], { encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } });
  if (r.status !== 0) {
    if (/No module named 'torch'/.test(r.stderr)) return null;
    throw new Error(`PyTorch peer failed: ${r.stderr.trim().split('\n').pop()}`);
  }
  const j = JSON.parse(r.stdout.trim().split('\n').pop()!);
  return { name: `PyTorch ${j.torch} CPU`, ep: 'cpu', threads, iters: j.iters, seconds: j.seconds, steps_per_s: j.steps_per_s as number, peak_rss_mb: j.peak_rss_mb as number };
}

/** The fastest of some rows (null for none). */
export const fastest = (rs: Row[]) => (rs.length ? rs.reduce((a, b) => (b.steps_per_s > a.steps_per_s ? b : a)) : null);

/** A row as a line of the human table. */
export const rowLine = (r: Row) =>
  `  ${`${r.name} (${r.ep})`.padEnd(40)} ${String(r.threads).padStart(2)} thread${r.threads > 1 ? 's' : ' '}  ${r.steps_per_s.toFixed(r.steps_per_s < 10 ? 3 : 1).padStart(7)} generator steps/s  ${r.peak_rss_mb == null ? '' : `peak ${r.peak_rss_mb.toFixed(0).padStart(5)} MB`}`;
