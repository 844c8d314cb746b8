import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FASHION_MNIST_DIR } from '../data/paths.ts';
import { Graph, type TensorData, type Value } from '../graph/ir.ts';
import { toBytes } from '../graph/serialize.ts';
import { nodeRuntime } from '../runtime/node.ts';
import type { Feeds, Session } from '../runtime/runtime.ts';

export const rt = nodeRuntime('cpu');

/** The CLI entry point, run as a user runs it. */
export const BIN = new URL('../bin/onnx-gan.js', import.meta.url).pathname;

/** One CLI command (with `env` added to this process's): its exit code, stdout and stderr. */
export function cli(args: string[], env: Record<string, string> = {}): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Debian's dataset-fashion-mnist (or FASHION_MNIST_DIR) is there: the image tests that need it run. */
export const haveFashionMnist = existsSync(join(FASHION_MNIST_DIR, 'train-images-idx3-ubyte.gz'));

export function fixture<T = unknown>(name: string): T {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as T;
}

export async function session(g: Graph): Promise<Session> {
  return rt.createSession(toBytes(g), { threads: 1 });
}

export async function run(g: Graph, feeds: Feeds): Promise<Feeds> {
  const s = await session(g);
  try {
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}

/**
 * f over float inputs of the given shapes, built twice; `rewrite` changes one copy; both run on the CPU on
 * the same feeds (`data(size, i)` for input i). Outputs are y0, y1, ...
 */
export async function rewrittenRuns<R>(shapes: number[][], f: (...xs: Value[]) => Value | Value[], rewrite: (g: Graph) => R, data: (n: number, i: number) => Float32Array) {
  const make = () => {
    const g = new Graph('t');
    const xs = shapes.map((s, i) => g.input(`x${i}`, 'float32', s));
    [f(...xs)].flat().forEach((y, i) => g.output(y, `y${i}`));
    return g;
  };
  const plain = make();
  const graph = make();
  const result = rewrite(graph);
  const feeds: Feeds = Object.fromEntries(shapes.map((s, i) => [`x${i}`, { dtype: 'float32' as const, dims: s, data: data(s.reduce((a, b) => a * b, 1), i) }]));
  return { result, graph, before: await run(plain, feeds), after: await run(graph, feeds) };
}

export const arr = (t: TensorData): number[] => Array.from(t.data as ArrayLike<number>, Number);

/** |a - b| <= atol + rtol * |b| elementwise, with a message naming the worst element. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number, what: string): void {
  expect(actual.length, `${what}: length`).to.equal(expected.length);
  let worst = -1;
  let worstErr = 0;
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]) - (atol + rtol * Math.abs(expected[i]));
    if (!(err <= 0) && (worst < 0 || err > worstErr || Number.isNaN(err))) {
      worst = i;
      worstErr = err;
    }
  }
  if (worst >= 0) expect.fail(`${what}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} (rtol ${rtol}, atol ${atol})`);
}

export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / Math.max(den, 1e-30);
}

export type Builder = (...xs: Value[]) => Value;

import type { LossContext } from '../losses/loss.ts';
import * as ops from '../graph/ops.ts';

/** A loss context over fixed values: randoms and states are constants, state writes are recorded. */
export function fixedContext(
  D: (x: Value) => Value,
  real: Value,
  fake: Value,
  batch: number,
  constants: Record<string, { data: number[]; shape: number[] }> = {},
): LossContext & { writes: Map<string, Value> } {
  const g = real.graph;
  const writes = new Map<string, Value>();
  const constant = (name: string, shape: number[], fallback?: number[]) => {
    const c = constants[name] ?? (fallback ? { data: fallback, shape } : null);
    if (!c) throw new Error(`test context has no value for '${name}'`);
    return g.constant({ dtype: real.dtype, dims: c.shape, data: real.dtype === 'float64' ? Float64Array.from(c.data) : Float32Array.from(c.data) });
  };
  let dr: Value | null = null;
  let df: Value | null = null;
  return {
    D,
    real,
    fake,
    batch,
    get dReal() {
      return (dr ??= D(real));
    },
    get dFake() {
      return (df ??= D(fake));
    },
    random: (name, _dist, shape) => constant(name, shape),
    state: (name) => constant(name, []),
    setState: (name, v) => void writes.set(name, v),
    writes,
  };
}
export { ops };

/**
 * Parameters after training on WebGPU against the CPU's, relative to their scale. Float rounding differs
 * between the providers; where it flips a (Leaky)ReLU mask, that unit's gradient differs outright, and Adam,
 * which moves a parameter by about lr per update whatever its gradient, turns a gradient that differs
 * (or one near zero, where rounding decides its sign) into at most 2 lr per update. So: 99 % of the
 * parameters within 1e-4, every one within 2 lr per update.
 */
export function expectAgrees(ref: Float32Array, got: Float32Array, lr: number, updates: number, what: string): number {
  expect(got.length, what).to.equal(ref.length);
  const scale = Math.max(...ref.map(Math.abs));
  const d = Array.from(ref, (v, i) => Math.abs(v - got[i]) / scale).sort((a, b) => b - a);
  expect(d[Math.floor(d.length / 100)], `${what}: 99th percentile of |difference| / scale`).to.be.at.most(1e-4);
  expect(d[0], `${what}: largest |difference| / scale`).to.be.at.most((2 * lr * updates) / scale);
  return d[0];
}

export interface CliProcess {
  proc: import('node:child_process').ChildProcess;
  /** stdout and stderr so far, interleaved. */
  log(): string;
  exited: Promise<number | null>;
}

/** A CLI command started in the background (with `env` added), its output collected. */
export function startCli(args: string[], env: Record<string, string> = {}): CliProcess {
  const proc = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let log = '';
  proc.stdout!.on('data', (b) => (log += b));
  proc.stderr!.on('data', (b) => (log += b));
  return { proc, log: () => log, exited: new Promise((done) => proc.on('exit', (code) => done(code))) };
}

/** Wait until `cond` holds (polled every 100 ms): readiness, never a fixed sleep; fails naming `what` after `ms`. */
export async function until(what: string, cond: () => boolean, ms = 120000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A time limit scaled to a test's work rather than fixed: generator iterations of the small 2-D MLP (about
 * 3 ms each on one core, measured) and process starts (about 3 s each through tsx), `parallel` at a time,
 * with tenfold room so a second CPU-bound process on the same cores does not fail the test.
 */
export const timeFor = (o: { iterations: number; starts?: number; parallel?: number }): number => Math.ceil((10 * (o.iterations * 3 + (o.starts ?? 0) * 3000)) / (o.parallel ?? 1)) + 30000;

