// How much memory a training run needs, estimated from its compiled step programs before anything is
// allocated, so that settings which cannot fit are refused in one line instead of swapping or dying.
// onnxruntime keeps one memory arena per session, sized by the most its graph holds at once; each arena
// stays at its high-water mark. The constants are measured (docs/performance.md "Memory"). Pure code:
// the tab's worker estimates with it too.
import type { Graph, Value } from '../graph/ir.ts';
import { fromBytes } from '../graph/serialize.ts';
import type { StepPlan } from './step.ts';

/** Node, onnxruntime and this project loaded, before any model: the MLP's whole run peaks at 157 MB. */
export const RUNTIME_BYTES = 150 * 2 ** 20;
/**
 * A session's arena over the most its graph's values hold at once in node order (peakLiveBytes): 2.7,
 * fitted on the three bench setups with the arena on (MLP 2.1, DCGAN 3.8, ResNet-32 2.6 measured).
 */
export const ARENA_FACTOR = 2.7;

const DTYPE_BYTES: Record<string, number> = { float64: 8, int64: 8, float32: 4, int32: 4, bool: 1, uint8: 1 };
const sizeOf = (v: Value) => (v.shape?.every((d) => typeof d === 'number') ? (DTYPE_BYTES[v.dtype] ?? 4) * (v.shape as number[]).reduce((a, b) => a * b, 1) : 0);

/**
 * The most bytes a graph's intermediate values hold at once when its nodes run in the order listed, each
 * value freed after its last reader (a memory planner's view); graph inputs are the caller's, not counted.
 */
export function peakLiveBytes(g: Graph): number {
  const lastRead = new Map<Value, number>();
  g.nodes.forEach((n, i) => n.inputs.forEach((v) => v && lastRead.set(v, i)));
  const outputs = new Set(g.outputs);
  let live = 0;
  let peak = 0;
  g.nodes.forEach((n, i) => {
    for (const v of n.outputs) live += sizeOf(v);
    peak = Math.max(peak, live);
    for (const v of new Set(n.inputs)) if (v?.producer && lastRead.get(v) === i && !outputs.has(v)) live -= sizeOf(v);
    for (const v of n.outputs) if (!lastRead.has(v) && !outputs.has(v)) live -= sizeOf(v);
  });
  return peak;
}

/** A program's peak live bytes, parsed once per program (estimates with and without arenas share it). */
const liveBytes = new WeakMap<Uint8Array, number>();
function liveBytesOf(p: { model: Uint8Array }): number {
  let b = liveBytes.get(p.model);
  if (b === undefined) liveBytes.set(p.model, (b = peakLiveBytes(fromBytes(p.model).graph)));
  return b;
}

export interface MemoryEstimate {
  /** Bytes, by what holds them. */
  parts: { runtime: number; parameters: number; activations: number; draws: number };
  total: number;
}

export interface EstimateOptions {
  /** Iterations per fused run (a third session, a Loop over both steps); 0 or 1 for none. */
  fuse: number;
  nCritic: number;
  /** onnxruntime's CPU memory arena (default on): off, only the running session's memory is held. */
  arena?: boolean;
  /** What the process holds before any model (RUNTIME_BYTES in Node; a tab's WASM heap starts smaller). */
  runtime?: number;
}

/** The peak resident memory of a training run of these step programs, estimated. */
export function estimateMemory(plan: StepPlan, o: EstimateOptions): MemoryEstimate {
  const live = [plan.critic, plan.generator].map(liveBytesOf);
  // Each session's arena keeps its high-water mark; without arenas only the largest is held at a time.
  // A fused run's Loop body runs both steps in turn: its arena adds about the larger step's live values.
  const sessions = o.arena === false ? Math.max(...live) : live[0] + live[1];
  const activations = ARENA_FACTOR * sessions + (o.fuse > 1 ? Math.max(...live) : 0);
  const params = plan.nets.G.size + plan.nets.D.size;
  const slots = Math.max(plan.nets.G.slots.length, plan.nets.D.slots.length);
  // Host state, the feeds and the updated outputs: parameters and their optimizer slots about three times over.
  const parameters = 4 * params * (1 + slots) * 3;
  const sample = plan.sampleShape.reduce((a, b) => a * b, 1);
  const block = o.fuse > 1 ? o.fuse * (o.nCritic + 1) : 1;
  // This block's draws and the next one's, made while it runs.
  const draws = 4 * 2 * block * plan.batch * (plan.latent + sample);
  const parts = { runtime: o.runtime ?? RUNTIME_BYTES, parameters, activations, draws };
  return { parts, total: parts.runtime + parameters + activations + draws };
}

export const gib = (b: number) => `${(b / 2 ** 30).toFixed(b < 2 ** 33 ? 1 : 0)} GiB`;

/** Settings whose estimated peak exceeds `available` bytes are refused, naming the parts and the settings. */
export function checkFits(plan: StepPlan, o: EstimateOptions, available: number, where = 'this machine has'): MemoryEstimate {
  const e = estimateMemory(plan, o);
  if (e.total <= available) return e;
  const parts = Object.entries(e.parts).map(([k, v]) => `${k} ${gib(v)}`).join(', ');
  const params = plan.nets.G.size + plan.nets.D.size;
  throw new Error(`these settings do not fit: training needs about ${gib(e.total)} (${parts}; batch ${plan.batch}, latent ${plan.latent}, ${params.toLocaleString('en')} parameters), ${where} ${gib(available)}`);
}
