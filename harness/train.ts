// `onnx-gan train`: a run directory with config.json, metrics.jsonl, checkpoints/, and at the end
// samples.csv, samples.svg and metrics.json. Resume continues exactly as an uninterrupted run would.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { lossEntry } from '../losses/index.ts';
import { importedModel, type Role } from '../models/imported.ts';
import { spectralNorm } from '../models/spectral.ts';
import { Rng } from '../models/random.ts';
import { decodeCheckpoint, encodeCheckpoint, type CheckpointInfo } from '../training/checkpoint.ts';
import { nodeRuntime } from '../training/runtime-node.ts';
import type { GanSetup, StepPlan } from '../training/step.ts';
import { checkDataShape, criticSchedule, Trainer, type CriticSchedule, type IterationLog, type TrainState } from '../training/trainer.ts';
import { modelIdentity, type Config } from './config.ts';
import { DATASETS, type Mixture } from './datasets.ts';
import { imageData, pngGrid, type ImageSet } from './images.ts';
import { writeFileAtomic } from './files.ts';
import { mixtureMetrics, type MixtureMetrics } from './metrics.ts';
import { renderSvg, scatterSpec } from './plot.ts';
import { dcganGan, mlpGan } from './setups.ts';

export interface TrainOptions {
  out: string;
  resume?: boolean;
  force?: boolean;
  /** Called after every iteration block, for progress bars. */
  onProgress?: (iteration: number, total: number, values: Record<string, number>) => void;
  /** Messages for a person (resume notes, fallbacks). */
  log?: (msg: string) => void;
}

export interface TrainResult {
  out: string;
  iterations: number;
  seconds: number;
  /** Mode coverage for 2-D mixtures; images are scored by `onnx-gan eval`. */
  metrics: MixtureMetrics | null;
}

/** Settings the loss's paper fixes when the config leaves them open. */
export type Data = Mixture | ImageSet;

/** A data set by name (ring8, grid25, fashion-mnist) or path (an IDX file, a folder of PNGs). */
export function loadData(spec: string): Data {
  if (DATASETS[spec]) return DATASETS[spec]();
  const images = imageData(spec);
  if (images) return images;
  throw new Error(`unknown data set '${spec}'; valid data sets: ${Object.keys(DATASETS).join(', ')}, fashion-mnist, an IDX file (.gz or not) or a folder of PNG images`);
}

export const isImage = (d: Data): d is ImageSet => 'images' in d;

export function resolveSetup(cfg: Config, data: Data): { setup: GanSetup & { warnings: string[] }; schedule: CriticSchedule; nCritic: (it: number) => number } {
  const entry = lossEntry(cfg.loss);
  const toy = data.shape.length === 1 && data.shape[0] === 2 ? entry.toy2d : undefined;
  const settings = { ...cfg, lambda: cfg.lambda ?? toy?.lambda };
  // Both networks imported: any image size goes, so the built-in models (DCGAN's sizes) are not built;
  // mlpGan only supplies the loss and optimizers then, with the image batch default.
  const bothImported = !!(cfg.generator && cfg.critic);
  const setup = isImage(data) && !bothImported
    ? dcganGan({ ...settings, image: data.shape })
    : mlpGan({ ...settings, batch: settings.batch ?? (isImage(data) ? 64 : undefined), sampleDims: isImage(data) ? 1 : data.shape[0] });
  let freeze: RegExp | undefined;
  try {
    freeze = cfg.freeze ? new RegExp(cfg.freeze) : undefined;
  } catch {
    throw new Error(`--freeze: '${cfg.freeze}' is not a regular expression`);
  }
  const load = (path: string, role: Role, prefix: string) => {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(path);
    } catch (e) {
      throw new Error(`--${role}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    return importedModel(bytes, role, { prefix, freeze, source: path });
  };
  if (cfg.generator) setup.generator = load(cfg.generator, 'generator', 'G');
  if (cfg.critic) setup.critic = setup.spectralNorm ? spectralNorm(load(cfg.critic, 'critic', 'D')) : load(cfg.critic, 'critic', 'D');
  const schedule = { base: cfg.nCritic ?? entry.defaults.nCritic, wgan: cfg.wganSchedule };
  return { setup, schedule, nCritic: criticSchedule(schedule) };
}

/** What identifies a run's checkpoints: its settings, optimizer slots and carried states. */
export function checkpointInfo(cfg: Config, plan: StepPlan): CheckpointInfo {
  return {
    config: modelIdentity(cfg),
    slots: { G: plan.nets.G.slots, D: plan.nets.D.slots },
    states: plan.states.map((s) => ({ name: s.name, size: s.shape.reduce((a, b) => a * b, 1) })),
  };
}

export class DivergedError extends Error {}

const CKPT_DIR = 'checkpoints';
const ckptName = (it: number) => `ckpt-${String(it).padStart(9, '0')}.safetensors`;

export async function train(cfg: Config, opts: TrainOptions): Promise<TrainResult> {
  const out = resolve(opts.out);
  const say = opts.log ?? (() => {});
  const data = loadData(cfg.data);
  const { setup, nCritic } = resolveSetup(cfg, data);
  checkDataShape(data, setup.critic.inputShape);
  const resume = prepareRunDir(out, cfg, opts);

  for (const w of setup.warnings) say(`warning: ${w}`);
  const trainer = await Trainer.create({ setup, runtime: nodeRuntime(cfg.ep), data, seed: cfg.seed, nCritic, threads: cfg.threads });
  const info = checkpointInfo(cfg, trainer.plan);
  const state = resume ? loadLatest(out, info, say) ?? trainer.initialState() : trainer.initialState();
  // Images: grids from one fixed noise batch, so they compare across steps and runs.
  const gridZ = Rng.stream(0, 'grid').fillNormal(new Float32Array(64 * setup.generator.inputShape[0]));
  const writeGrid = async (file: string) => writeFileAtomic(join(out, file), pngGrid(await trainer.generate(state, gridZ), data.shape, 8));
  // What a rollback returns to: the state of the last checkpoint written (or loaded, or the start).
  let lastGood = cloneState(state);
  let rollbacks = 0;
  if (resume) trimLog(join(out, 'metrics.jsonl'), state.iteration);

  const t0 = performance.now();
  try {
    while (state.iteration < cfg.iterations) {
      // Blocks end at log and checkpoint boundaries so both land on the same iterations in every mode.
      const next = Math.min(cfg.iterations, nextMultiple(state.iteration, cfg.logEvery), nextMultiple(state.iteration, cfg.checkpointEvery), isImage(data) ? nextMultiple(state.iteration, cfg.sampleEvery) : Infinity);
      const logs = cfg.fuse > 1 ? await fusedBlock(trainer, state, next, cfg.fuse, nCritic) : [await trainer.iteration(state)];
      const last = logs[logs.length - 1];
      const bad = logs.find((l) => !l.ok);
      if (bad) {
        const err = diverged(bad, out);
        if (cfg.onDivergence !== 'rollback' || rollbacks >= cfg.maxRollbacks)
          throw rollbacks ? new DivergedError(`${err.message} (after ${rollbacks} rollback${rollbacks > 1 ? 's' : ''})`) : err;
        rollbacks++;
        const [lrG, lrD] = [state.G.lr, state.D.lr];
        Object.assign(state, cloneState(lastGood));
        state.G.lr = lrG * cfg.rollbackLrScale;
        state.D.lr = lrD * cfg.rollbackLrScale;
        trimLog(join(out, 'metrics.jsonl'), state.iteration);
        say(`${err.message.split(';')[0]}; rolled back to iteration ${state.iteration}, learning rates now G ${state.G.lr.toExponential(2)}, D ${state.D.lr.toExponential(2)} (rollback ${rollbacks} of ${cfg.maxRollbacks})`);
        continue;
      }
      if (state.iteration % cfg.logEvery === 0 || state.iteration === cfg.iterations) appendLog(out, last);
      if (isImage(data) && state.iteration % cfg.sampleEvery === 0) await writeGrid(join('samples', `step-${String(state.iteration).padStart(9, '0')}.png`));
      if (state.iteration % cfg.checkpointEvery === 0 || state.iteration === cfg.iterations) {
        saveCheckpoint(out, state, info, cfg.keepCheckpoints);
        lastGood = cloneState(state);
      }
      opts.onProgress?.(state.iteration, cfg.iterations, last.values);
    }
    const seconds = (performance.now() - t0) / 1000;
    if (isImage(data)) {
      await writeGrid('samples.png');
      writeFileAtomic(join(out, 'metrics.json'), JSON.stringify({ iterations: state.iteration }, null, 2) + '\n');
      return { out, iterations: state.iteration, seconds, metrics: null };
    }
    const z = Rng.stream(cfg.seed, 'eval').fillNormal(new Float32Array(cfg.evalSamples * trainer.plan.latent));
    const xy = await trainer.generate(state, z);
    const metrics = mixtureMetrics(data, xy);
    writeFileAtomic(join(out, 'samples.csv'), csv(xy));
    writeFileAtomic(join(out, 'samples.svg'), await renderSvg(scatterSpec(xy, data.centers, `${cfg.loss} on ${cfg.data}, ${state.iteration} iterations, seed ${cfg.seed}`)));
    writeFileAtomic(join(out, 'metrics.json'), JSON.stringify({ iterations: state.iteration, ...metrics }, null, 2) + '\n');
    return { out, iterations: state.iteration, seconds, metrics };
  } finally {
    await trainer.release();
  }
}

/** Iterations up to `until` in Loop blocks of at most k with a constant n_critic; single runs elsewhere. */
function cloneState(s: TrainState): TrainState {
  const net = (n: TrainState['G']) => ({ ...n, params: n.params.slice(), slots: n.slots.map((x) => x.slice()) });
  return { iteration: s.iteration, G: net(s.G), D: net(s.D), extra: Object.fromEntries(Object.entries(s.extra).map(([k, v]) => [k, v.slice()])) };
}

async function fusedBlock(trainer: Trainer, state: TrainState, until: number, k: number, nCritic: (it: number) => number): Promise<IterationLog[]> {
  const logs: IterationLog[] = [];
  while (state.iteration < until) {
    let n = 1;
    while (n < k && state.iteration + n < until && nCritic(state.iteration + n) === nCritic(state.iteration)) n++;
    logs.push(...(n > 1 ? await trainer.fusedIterations(state, n) : [await trainer.iteration(state)]));
  }
  return logs;
}

const nextMultiple = (x: number, m: number) => (Math.floor(x / m) + 1) * m;

function diverged(l: IterationLog, out: string): DivergedError {
  const bad = Object.entries(l.values).filter(([, v]) => !Number.isFinite(v));
  const what = bad.length ? bad.map(([k, v]) => `${k} = ${v}`).join(', ') : 'a parameter became non-finite';
  const ckpts = listCheckpoints(out);
  const kept = ckpts.length ? `the last good checkpoint is ${join(out, CKPT_DIR, ckpts[0])}` : 'no checkpoint was written yet';
  return new DivergedError(`training diverged at iteration ${l.iteration}: ${what}; ${kept}`);
}

/** Returns whether there is a run to resume. */
function prepareRunDir(out: string, cfg: Config, opts: TrainOptions): boolean {
  const say = opts.log ?? (() => {});
  let resume = !!opts.resume;
  if (existsSync(out) && !resume) {
    const entries = readdirSync(out);
    if (entries.length && !opts.force) throw new Error(`run directory ${out} already exists; pass --resume to continue it or --force to overwrite it`);
    for (const e of ['config.json', 'metrics.jsonl', 'metrics.json', 'samples.csv', 'samples.svg', 'samples.png', 'samples', CKPT_DIR]) rmSync(join(out, e), { recursive: true, force: true });
  }
  if (resume && !existsSync(join(out, 'config.json'))) {
    // A run killed during start-up leaves at most an empty checkpoints/ and temp files: start it afresh.
    const left = existsSync(out) ? readdirSync(out).filter((f) => !/\.tmp-\d+$/.test(f)) : [];
    const empty = left.every((f) => f === CKPT_DIR && readdirSync(join(out, f)).every((g) => /\.tmp-\d+$/.test(g)));
    if (!empty) throw new Error(`--resume: ${out} is not a run directory (no config.json)`);
    say(`--resume: nothing to resume in ${out}; starting the run`);
    resume = false;
  }
  if (resume) {
    const before = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    let prior: string;
    try {
      prior = modelIdentity(before);
    } catch {
      throw new Error(`--resume: ${join(out, 'config.json')} is not a valid config`);
    }
    if (prior !== modelIdentity(cfg)) throw new Error(`--resume: the settings differ from the run's config.json (only iterations, checkpoint, log and thread settings may change)`);
  }
  mkdirSync(join(out, CKPT_DIR), { recursive: true });
  // A kill during an atomic write leaves its temp file behind; the target itself is intact.
  for (const dir of [out, join(out, CKPT_DIR)]) for (const f of readdirSync(dir)) if (/^\..*\.tmp-\d+$/.test(f)) rmSync(join(dir, f), { force: true });
  writeFileAtomic(join(out, 'config.json'), JSON.stringify(cfg, null, 2) + '\n');
  return resume;
}

export function listCheckpoints(out: string): string[] {
  const dir = join(out, CKPT_DIR);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /^ckpt-\d+\.safetensors$/.test(f))
    .sort()
    .reverse();
}

/** The newest checkpoint that loads; a corrupt or truncated one is reported and skipped. */
export function loadLatest(out: string, info: CheckpointInfo, say: (m: string) => void, what = '--resume'): TrainState | null {
  const names = listCheckpoints(out);
  const problems: string[] = [];
  for (const name of names) {
    const path = join(out, CKPT_DIR, name);
    try {
      const state = decodeCheckpoint(readFileSync(path), info, path);
      const verb = what === '--resume' ? 'resuming from' : `${what}: using`;
      if (problems.length) say(`${verb} ${path} (newer checkpoints unusable: ${problems.join('; ')})`);
      else say(`${verb} ${path} at iteration ${state.iteration}`);
      return state;
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  if (problems.length) throw new Error(`${what}: no usable checkpoint in ${join(out, CKPT_DIR)}: ${problems.join('; ')}`);
  say('no checkpoint yet; starting from iteration 0');
  return null;
}

function saveCheckpoint(out: string, state: TrainState, info: CheckpointInfo, keep: number): void {
  writeFileAtomic(join(out, CKPT_DIR, ckptName(state.iteration)), encodeCheckpoint(state, info));
  for (const old of listCheckpoints(out).slice(keep)) rmSync(join(out, CKPT_DIR, old), { force: true });
}

function appendLog(out: string, l: IterationLog): void {
  writeFileSync(join(out, 'metrics.jsonl'), JSON.stringify({ iteration: l.iteration, ...l.values }) + '\n', { flag: 'a' });
}

/** After a resume, drop log lines past the checkpoint so the log reads as one uninterrupted run. */
function trimLog(path: string, iteration: number): void {
  if (!existsSync(path)) return;
  const keep = readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => {
      if (!line.trim()) return false;
      try {
        return JSON.parse(line).iteration <= iteration;
      } catch {
        return false; // a line cut by a crash
      }
    });
  writeFileAtomic(path, keep.map((l) => l + '\n').join(''));
}

function csv(xy: Float32Array): string {
  const lines = ['x,y'];
  for (let i = 0; i < xy.length; i += 2) lines.push(`${xy[i]},${xy[i + 1]}`);
  return lines.join('\n') + '\n';
}
