// A sweep's grid and its runs: every loss x data set x packing degree x seed on the same architecture and
// budget, each run a child `onnx-gan train` process whose crash or divergence is recorded as its result.
// The local scheduler (local.ts) and the queue worker (queue-worker.ts) both start runs through here.
import { packageFile } from '../runtime/package-files.ts';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DIVERGENCES, isDivergence, isLoss, LOSSES } from '../losses/index.ts';
import { flagOf } from '../run/config.ts';
import { check, EvalScoresSchema, ImageMetricsFileSchema, isMixture, MixtureMetricsFileSchema, runKey, type EvalScores, type RunSpec } from './job-schema.ts';
import { PASSWORD_ENV } from './queue-access.ts';
import { readJsonObject } from '../run/files.ts';

/** What defines a sweep: every data set x loss x packing degree x seed, with the same budget. */
export interface SweepSpec {
  data: string[];
  /** Loss variants: registry names, or fgan-<divergence>. */
  losses: string[];
  seeds: number;
  iterations: number;
  /** PacGAN packing degrees (default [1]). */
  packs?: number[];
  /** A published setup's settings (run/config.ts PROTOCOLS) under every run. */
  protocol?: string;
  /** Image data: every image resized to this (--image-size). */
  imageSize?: number;
  /** Image runs: score each finished run with `onnx-gan eval` and this classifier (Fashion-MNIST). */
  classifier?: string;
  /** Image runs: generated images per score (default 2,000). */
  evalSamples?: number;
}

export interface SweepOptions extends SweepSpec {
  workers?: number;
  out: string;
  /** Skip finished runs, resume interrupted ones. */
  resume?: boolean;
  /** Replace an existing sweep directory. */
  force?: boolean;
  onRunDone?: (r: RunResult, done: number, total: number) => void;
  /** Checked before each run starts; once true, no run starts and the runs in flight are told to stop. */
  stopRequested?: () => boolean;
}


export interface RunResult {
  data: string;
  loss: string;
  seed: number;
  pack: number;
  status: 'ok' | 'diverged' | 'crashed' | 'interrupted';
  error?: string;
  seconds: number;
  modesCaptured?: number;
  modes?: number;
  highQualityPct?: number;
  reverseKL?: number | null;
  /** Image runs scored by eval: classifier-feature FID and KID. */
  fid?: number;
  kid?: number;
  kidStd?: number;
  /** Image runs scored by a build that reports them: precision and recall (k 3), density and coverage (k 5). */
  precision?: number;
  recall?: number;
  density?: number;
  coverage?: number;
  dir: string;
}

/** 'all' -> every registered loss, f-GAN once per divergence. */
export function expandLosses(spec: string): string[] {
  const names = spec === 'all' ? Object.keys(LOSSES) : spec.split(',').map((s) => s.trim());
  const out: string[] = [];
  for (const n of names) {
    if (n === 'fgan') out.push(...Object.keys(DIVERGENCES).map((d) => `fgan-${d}`));
    else if (n.startsWith('fgan-') && isDivergence(n.slice(5))) out.push(n);
    else if (isLoss(n)) out.push(n);
    else throw new Error(`unknown loss '${n}'; valid losses: all, ${Object.keys(LOSSES).join(', ')}, fgan-<${Object.keys(DIVERGENCES).join('|')}>`);
  }
  return out;
}

/** The runs of a sweep, in report order. */
export function runSpecs(o: SweepSpec): RunSpec[] {
  const out: RunSpec[] = [];
  for (const data of o.data)
    for (const loss of o.losses)
      for (const pack of o.packs ?? [1])
        for (let seed = 0; seed < o.seeds; seed++)
          out.push({ key: runKey({ data, loss, pack, seed }), data, loss, seed, pack, iterations: o.iterations, ...(o.protocol ? { protocol: o.protocol } : {}), ...(o.imageSize && !isMixture(data) ? { imageSize: o.imageSize } : {}) });
  return out;
}

const BIN = packageFile('bin/onnx-gan.js');

/** A run's `train` settings as config keys: the flags it is started with, and what its config.json holds. */
export function runSettings(r: RunSpec, threads = 1): Record<string, string | number> {
  const [loss, divergence] = r.loss.startsWith('fgan-') ? ['fgan', r.loss.slice(5)] : [r.loss, undefined];
  return {
    data: r.data, loss, ...(divergence ? { divergence } : {}), ...(r.protocol ? { protocol: r.protocol } : {}), ...(r.pack > 1 ? { pack: r.pack } : {}),
    ...(r.imageSize ? { imageSize: r.imageSize } : {}),
    seed: r.seed, iterations: r.iterations, logEvery: Math.max(25, Math.round(r.iterations / 200)), checkpointEvery: Math.max(50, Math.round(r.iterations / 20)), keepCheckpoints: 1, threads,
    // Image runs: one sample grid, at the end.
    ...(isMixture(r.data) ? {} : { sampleEvery: r.iterations }),
  };
}

/** The `onnx-gan train` arguments of a run (resumed from its checkpoint when `resume` and it has one). */
export function trainArgs(r: RunSpec, dir: string, resume: boolean, threads = 1): string[] {
  const mode = resume && existsSync(join(dir, 'config.json')) ? '--resume' : '--force';
  return ['train', ...Object.entries(runSettings(r, threads)).flatMap(([k, v]) => [flagOf(k), String(v)]), '--out', dir, mode, '--json'];
}

/** A run a previous sweep (or a worker) finished: its metrics.json, checked, or null with the reason. */
export function readFinished(r: RunSpec, dir: string, scored = false): { result: RunResult | null; problem: string } {
  const file = join(dir, 'metrics.json');
  try {
    if (!isMixture(r.data)) {
      const m = check(ImageMetricsFileSchema, readJsonObject(file), file);
      if (m.iterations !== r.iterations) return { result: null, problem: `${file}: 'iterations' is ${m.iterations}, the run has ${r.iterations}` };
      if (scored && !m.eval) return { result: null, problem: `${file}: not scored yet` };
      return { result: { ...resultBase(r, dir), status: 'ok', seconds: m.seconds, ...(m.eval ? imageScores(m.eval) : {}) }, problem: '' };
    }
    const m = check(MixtureMetricsFileSchema, readJsonObject(file), file);
    if (m.iterations !== r.iterations) return { result: null, problem: `${file}: 'iterations' is ${m.iterations}, the run has ${r.iterations}` };
    return { result: { ...resultBase(r, dir), status: 'ok', seconds: m.seconds, modesCaptured: m.modesCaptured, modes: m.modes, highQualityPct: m.highQualityPct, reverseKL: m.reverseKL }, problem: '' };
  } catch (e) {
    return { result: null, problem: (e as NodeJS.ErrnoException).code === 'ENOENT' ? `${file} is missing` : (e as Error).message.split('\n')[0] };
  }
}

/** The scores a sweep keeps of an eval report. */
const imageScores = (e: EvalScores) => ({ fid: e.fid, kid: e.kid, kidStd: e.kidStd, ...(e.manifold ? { precision: e.manifold.precision, recall: e.manifold.recall, density: e.manifold.density, coverage: e.manifold.coverage } : {}) });

export const finished = (r: RunSpec, dir: string, scored = false): RunResult | null => readFinished(r, dir, scored).result;

/** A run's place in the grid, before any result: what every RunResult of it starts from. */
export const resultBase = (r: RunSpec, dir: string) => ({ data: r.data, loss: r.loss, seed: r.seed, pack: r.pack, seconds: 0, dir });

export interface RunProcess {
  result: Promise<RunResult>;
  /** Ask the run to stop: it checkpoints and ends as 'interrupted'. */
  stop(): void;
}

/** One run as a child `onnx-gan train` process, then, for an image run with `score`, `onnx-gan eval`. */
export function startRun(r: RunSpec, dir: string, o: { resume: boolean; threads?: number; onMessage?: (line: string) => void; score?: { classifier: string; samples: number } }): RunProcess {
  let current = command(trainArgs(r, dir, o.resume, o.threads), o.onMessage);
  const t0 = performance.now();
  const base = () => ({ ...resultBase(r, dir), seconds: (performance.now() - t0) / 1000 });
  const result = current.done.then(async ({ code, signal, out, err }): Promise<RunResult> => {
    if (code === 0) {
      let j: { seconds: number; modesCaptured?: number; modes?: number; highQualityPct?: number; reverseKL?: number | null };
      try {
        j = JSON.parse(out.trim().split('\n').pop()!);
      } catch {
        return { ...base(), status: 'crashed', error: 'no JSON result' };
      }
      const ok: RunResult = { ...base(), status: 'ok', seconds: j.seconds, modesCaptured: j.modesCaptured, modes: j.modes, highQualityPct: j.highQualityPct, reverseKL: j.reverseKL };
      if (isMixture(r.data) || !o.score) return ok;
      // An image run is scored by eval, which adds its scores to the run's metrics.json.
      current = command(['eval', dir, '--classifier', o.score.classifier, '--samples', String(o.score.samples), '--threads', String(o.threads ?? 1), '--json'], o.onMessage);
      const e = await current.done;
      if (e.code !== 0) return { ...ok, error: `eval: ${(e.err.trim().split('\n').pop() ?? '').replace(/^onnx-gan: /, '')}` };
      try {
        const s = JSON.parse(e.out.trim().split('\n').pop()!);
        return { ...ok, ...imageScores(check(EvalScoresSchema, s, 'eval --json')) };
      } catch {
        return { ...ok, error: 'eval: no JSON result' };
      }
    }
    const msg = err.trim().split('\n').pop() ?? '';
    if (code === 130) return { ...base(), status: 'interrupted', error: msg };
    return { ...base(), status: /diverged/.test(msg) ? 'diverged' : 'crashed', error: signal ? `killed by ${signal}` : msg.replace(/^onnx-gan: /, '') };
  });
  return { result, stop: () => current.stop() };
}

/**
 * One `onnx-gan` command as a child process in its own process group: a terminal's Ctrl-C reaches the
 * sweep or worker, which passes one signal on (a second one would make the run quit without its checkpoint).
 */
function command(args: string[], onMessage?: (line: string) => void) {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'], detached: true, env: { ...process.env, [PASSWORD_ENV]: undefined, ONNX_GAN_STOP_WITH_PARENT: '1' } });
  let out = '';
  let err = '';
  child.stdout.on('data', (b) => (out += b));
  let seen = 0;
  child.stderr.on('data', (b) => {
    err += b;
    const end = err.lastIndexOf('\n');
    if (end < seen) return;
    for (const line of err.slice(seen, end).split('\n')) if (line.trim()) onMessage?.(line);
    seen = end + 1;
  });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, out, err })));
  return { done, stop: () => void (child.exitCode === null && !child.killed && child.kill('SIGINT')) };
}
