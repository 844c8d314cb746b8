// One bench row each: our trainer on onnxruntime-node, and the PyTorch peer script, for a setup of
// bench/cases.ts. Shared by `npm run bench` (the setups beside PyTorch) and `npm run bench -- page` (the
// browser tab beside Node and TF.js).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { nodeRuntime } from '../runtime/node.ts';
import type { NodeEp } from '../runtime/runtime.ts';
import { Trainer } from '../training/trainer.ts';
import type { Bench } from './cases.ts';

export interface Row {
  name: string;
  /** Where it ran: an onnxruntime provider, 'cpu' for PyTorch, a browser backend for the tab's rows. */
  ep: string;
  threads: number;
  iters: number;
  seconds: number;
  steps_per_s: number;
}

export interface RowOptions {
  ep: NodeEp;
  warmup: number;
  iters: number;
}

/**
 * Generator steps per second after a warm-up; fuse 0: one session run per step, K: K iterations per run
 * (one ONNX Loop, or unrolled where the provider has no Loop, K then cut to the trainer's limit).
 */
export async function ours(bench: Bench, o: RowOptions, threads: number, want: number, shards = 1): Promise<Row> {
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
  return { name: `PyTorch ${j.torch} CPU`, ep: 'cpu', threads, iters: j.iters, seconds: j.seconds, steps_per_s: j.steps_per_s as number };
}

/** The fastest of some rows (null for none). */
export const fastest = (rs: Row[]) => (rs.length ? rs.reduce((a, b) => (b.steps_per_s > a.steps_per_s ? b : a)) : null);

/** A row as a line of the human table. */
export const rowLine = (r: Row) =>
  `  ${`${r.name} (${r.ep})`.padEnd(40)} ${String(r.threads).padStart(2)} thread${r.threads > 1 ? 's' : ' '}  ${r.steps_per_s.toFixed(r.steps_per_s < 10 ? 3 : 1).padStart(7)} generator steps/s`;
