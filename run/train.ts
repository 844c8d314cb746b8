// `onnx-gan train`: a run directory with config.json, metrics.jsonl, checkpoints/, and at the end
// losses.svg, samples.csv and samples.svg (2-D) or samples.png (images), and metrics.json. An adapter over the one run loop
// (training/run-loop.ts): it brings the run directory as checkpoint store, the log and sample hooks, and
// the signal flag. Resume continues exactly as an uninterrupted run would.
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { Rng } from '../data/random.ts';
import { nodeRuntime } from '../runtime/node.ts';
import { DivergedError, runLoop, type RunOutcome } from '../training/run-loop.ts';
import { checkDataShape, gridInputs, Trainer } from '../training/trainer.ts';
import { defaultOut, parseConfig, type Config } from './config.ts';
import { appendFile, dropLink, isTempFile, ownDir, writeFileAtomic } from './files.ts';
import { LOCK_FILE, withLock } from './lock.ts';
import { pngScatter, sampleGridPng } from '../data/image-files.ts';
import { mixtureMetrics, type MixtureMetrics } from '../eval/mixture-metrics.ts';
import { renderSvg, scatterSpec, lossCurveSpec, lossRows } from '../eval/plot.ts';
import { CKPT_DIR, EXPORT_DIR, folderStore, removeTempFiles } from './run-dir.ts';
import { checkpointInfo, resolveSetup, runData, type ResolvedSetup, checkBatch } from './setup.ts';
import { checkFits, estimateMemory, gib } from '../training/memory.ts';
import { StepCompiler } from '../training/step.ts';
import { type Data, isImage } from '../data/load.ts';
import { CONFIG_FILE, isRun, openRun, type Run } from './open.ts';
import { EVENT_FILE_PREFIX, eventWriter } from './tfevents.ts';
import { ClassifierScorer, generateForScoring, scoreScalars } from './evaluate.ts';
import type { ImageSet } from '../data/images.ts';
export { DivergedError } from '../training/run-loop.ts';

export interface TrainOptions {
  resume?: boolean;
  force?: boolean;
  /** Called while an image folder is decoded (the first run on it), for a progress bar. */
  onDataProgress?: (done: number, total: number) => void;
  /** Called after every block of iterations, for progress bars. */
  onProgress?: (iteration: number, total: number, values: Record<string, number>) => void;
  /** Messages for a person (resume notes, warnings, rollbacks). */
  log?: (msg: string) => void;
  /** Checked between blocks: true saves a checkpoint and returns as interrupted. */
  stopRequested?: () => boolean;
}

export interface TrainResult {
  out: string;
  iterations: number;
  seconds: number;
  status: RunOutcome['status'];
  /** The last checkpoint written. */
  checkpoint: string | null;
  /** Mode coverage for 2-D mixtures (null for images, scored by `onnx-gan eval`, and for interrupted runs). */
  metrics: MixtureMetrics | null;
}

/** What a run directory holds; --force removes exactly these. */
const RUN_OUTPUTS = ['config.json', 'metrics.jsonl', 'evals.jsonl', 'metrics.json', 'losses.svg', 'samples.csv', 'samples.svg', 'samples.png', 'samples', CKPT_DIR, EXPORT_DIR];

export async function train(cfg: Config, opts: TrainOptions = {}): Promise<TrainResult> {
  const out = resolve(cfg.out ?? defaultOut(cfg));
  const say = opts.log ?? (() => {});
  const data = await runData(cfg, { onProgress: opts.onDataProgress, onNote: say });
  const resolved = resolveSetup(cfg, data);
  const { setup, nCritic } = resolved;
  checkDataShape(data, setup.generator.outputShape, setup.generator.classes);
  if (cfg.evalEvery !== undefined && !cfg.classifier) throw new Error(`--eval-every ${cfg.evalEvery}: scores with a classifier; give --classifier FILE (onnx-gan train-classifier makes one)`);
  if (cfg.classifier && cfg.evalEvery === undefined) throw new Error(`--classifier ${cfg.classifier}: used by --eval-every N, which is not given (onnx-gan eval scores a finished run)`);
  if (cfg.evalEvery !== undefined && !isImage(data)) throw new Error(`--eval-every ${cfg.evalEvery}: scores image runs; a 2-D run is scored at its end (metrics.json)`);
  checkBatch(cfg, data, setup.batch);
  // The step programs first (shapes only, nothing allocated): the memory estimate reads them.
  const compiler = new StepCompiler(setup);
  const arena = memoryArena(compiler, cfg, nCritic(0), say);
  const used = cfg.threads * cfg.shards;
  if (used > cpus().length) say(`warning: ${cfg.shards > 1 ? `--shards ${cfg.shards} x ` : ''}--threads ${cfg.threads} is more than this machine's ${cpus().length} cores; the threads will compete (slower, not faster)`);
  if (existsSync(out) && !statSync(out).isDirectory()) throw new Error(`--out: ${out} is a file, not a run directory`);
  return withLock(out, 'onnx-gan train', 'run directory', say, () => trainIn(out, cfg, opts, { data, ...resolved, compiler, arena }));
}

/** The memory this process may use: the machine's, or a container's limit (cgroup v2) where lower. */
export function availableMemory(): number {
  const limitFile = '/sys/fs/cgroup/memory.max';
  const limit = existsSync(limitFile) ? Number(readFileSync(limitFile, 'utf8').trim()) : NaN;
  return Number.isFinite(limit) && limit > 0 ? Math.min(limit, totalmem()) : totalmem();
}

/**
 * onnxruntime's memory arenas where the run fits with them (faster: the ResNet-32 0.149 against 0.128 steps/s
 * without); without them where only that fits (half the peak there: 762 against 1,461 MB); else refused.
 */
function memoryArena(compiler: StepCompiler, cfg: Config, nCritic: number, say: (m: string) => void): boolean {
  const plan = compiler.plan();
  const available = availableMemory();
  const o = { fuse: cfg.fuse, nCritic };
  const withArena = estimateMemory(plan, o);
  if (withArena.total <= available) return true;
  checkFits(plan, { ...o, arena: false }, available);
  say(`note: onnxruntime's memory arenas off: with them this run needs about ${gib(withArena.total)}, this machine has ${gib(available)} (without them: a little slower)`);
  return false;
}

/** The run itself, once its directory is locked. */
async function trainIn(out: string, cfg: Config, opts: TrainOptions, { data, setup, nCritic, compiler, arena }: { data: Data; compiler: StepCompiler; arena: boolean } & ResolvedSetup): Promise<TrainResult> {
  const say = opts.log ?? (() => {});
  const resumed = prepareRunDir(out, cfg, opts);
  const resume = resumed !== null;

  for (const w of setup.warnings) say(`warning: ${w}`);
  const trainer = await Trainer.create({ setup, compiler, runtime: nodeRuntime(cfg.ep, { arena }), data, seed: cfg.seed, nCritic, threads: cfg.threads, shards: cfg.shards });
  // Only a run that could start leaves a run directory: a provider that refuses (no GPU adapter) leaves
  // nothing that a plain retry would have to --force.
  try {
    startRunDir(out, cfg);
  } catch (e) {
    await trainer.release();
    throw e;
  }
  const info = checkpointInfo(cfg, trainer.plan);
  const ckpts = join(out, CKPT_DIR);
  const loaded = resumed?.latest(info, say, '--resume') ?? null;
  if (resume && !loaded) say('no checkpoint yet; starting from iteration 0');
  const state = loaded?.state ?? trainer.initialState();
  const logFile = join(out, 'metrics.jsonl');
  if (resume) trimLog(logFile, state.iteration);
  // TensorBoard's view of the same run: what metrics.jsonl logs, learning rates, speed, sample images.
  const events = eventWriter(out, { resumedAt: resume ? state.iteration : undefined });
  if (!resume) events.text(0, 'config', `\`\`\`json\n${JSON.stringify(cfg, null, 2)}\n\`\`\``);
  let lastLog = { iteration: state.iteration, at: performance.now() };
  // Images: grids from one fixed noise batch, so they compare across steps and runs; one row per class.
  const grid = gridInputs(trainer.plan, trainer.plan.classes ? 10 : 8);
  const writeGrid = async (file: string) => {
    const png = await sampleGridPng(await trainer.generate(state, grid.z, grid.labels), data.shape, grid.cols, { rowLabels: trainer.plan.classes ? (isImage(data) && data.classes) || undefined : undefined });
    writeFileAtomic(join(out, file), png);
    events.image(state.iteration, 'samples', png);
  };

  // --eval-every: the classifier's scores as the run goes (the averaged generator where there is one).
  let scorer: ClassifierScorer | null = null;
  const evalFile = join(out, 'evals.jsonl');
  if (resume) trimLog(evalFile, state.iteration);
  // Training time at each score, the scoring itself left out: what time-to-target compares across recipes.
  // A resumed run goes on from its last score's (the time between that score and the interruption is lost).
  const trainClock = { from: performance.now(), before: resume ? (readLog(evalFile).at(-1)?.seconds ?? 0) : 0, scoring: 0 };
  const trainSeconds = () => trainClock.before + (performance.now() - trainClock.from - trainClock.scoring) / 1000;
  const scoreNow = async () => {
    const seconds = trainSeconds();
    const t = performance.now();
    const { images, perClass } = await generateForScoring((z, labels) => trainer.generate(state, z, labels), trainer.plan.latent, trainer.plan.classes, cfg.evalSamples, Rng.stream(cfg.seed, 'eval-images'));
    const s = await scorer!.score(images, cfg.seed, trainer.plan.classes ? { classes: trainer.plan.classes, perClass } : undefined);
    const scalars = scoreScalars(s);
    events.scalars(state.iteration, scalars);
    trainClock.scoring += performance.now() - t;
    appendFile(evalFile, JSON.stringify({ iteration: state.iteration, seconds: Number(seconds.toFixed(3)), samples: s.samples, ...Object.fromEntries(Object.entries(scalars).map(([k, v]) => [k.replace(/^eval\//, ''), v])) }) + '\n');
    say(`iteration ${state.iteration}: classifier-FID ${s.fid.toFixed(2)}, precision ${s.manifold!.precision.toFixed(3)}, recall ${s.manifold!.recall.toFixed(3)} (${s.samples} samples)`);
  };

  const store = folderStore(ckpts, info, cfg.keepCheckpoints);
  try {
    if (cfg.evalEvery) scorer = await ClassifierScorer.open(cfg.classifier!, cfg, data as ImageSet, nodeRuntime(cfg.ep), cfg.threads, '--eval-every');
    trainClock.from = performance.now();
    const run = await runLoop({
      trainer,
      state,
      until: cfg.iterations,
      fuse: cfg.fuse,
      checkpointEvery: cfg.checkpointEvery,
      store,
      marks: isImage(data) ? [cfg.logEvery, cfg.sampleEvery, ...(cfg.evalEvery ? [cfg.evalEvery] : [])] : [cfg.logEvery],
      divergence: { on: cfg.onDivergence, maxRollbacks: cfg.maxRollbacks, lrScale: cfg.rollbackLrScale },
      stopRequested: opts.stopRequested,
      async afterBlock(logs, s) {
        const last = logs[logs.length - 1];
        if (s.iteration % cfg.logEvery === 0 || s.iteration === cfg.iterations) {
          appendFile(logFile, JSON.stringify({ iteration: last.iteration, ...last.values }) + '\n');
          const now = performance.now();
          const speed = ((s.iteration - lastLog.iteration) * 1000) / Math.max(1, now - lastLog.at);
          lastLog = { iteration: s.iteration, at: now };
          events.scalars(last.iteration, { ...last.values, 'lr/G': s.G.lr, 'lr/D': s.D.lr, 'speed/iterations_per_s': speed });
        }
        if (isImage(data) && s.iteration % cfg.sampleEvery === 0) await writeGrid(join('samples', `step-${String(s.iteration).padStart(9, '0')}.png`));
        if (scorer && s.iteration % cfg.evalEvery! === 0) await scoreNow();
        opts.onProgress?.(s.iteration, cfg.iterations, last.values);
      },
      onRollback(msg, s) {
        trimLog(logFile, s.iteration);
        trimLog(evalFile, s.iteration);
        events.restart(s.iteration, 'rolled back');
        say(msg);
      },
    });
    const result = { out, iterations: state.iteration, seconds: run.seconds, status: run.status, checkpoint: run.checkpoint ?? loaded?.file ?? null };
    if (run.status === 'interrupted') return { ...result, metrics: null };
    writeFileAtomic(join(out, 'losses.svg'), await renderSvg(lossCurveSpec({ rows: lossRows(readLog(logFile)), title: `${cfg.loss} on ${cfg.data}, seed ${cfg.seed}`, width: 480, height: 260 })));
    if (isImage(data)) {
      await writeGrid('samples.png');
      writeFileAtomic(join(out, 'metrics.json'), JSON.stringify({ iterations: state.iteration, seconds: run.seconds }, null, 2) + '\n');
      return { ...result, metrics: null };
    }
    const z = Rng.stream(cfg.seed, 'eval').fillNormal(new Float32Array(cfg.evalSamples * trainer.plan.latent));
    const xy = await trainer.generate(state, z);
    const metrics = mixtureMetrics(data, xy);
    events.image(state.iteration, 'samples', pngScatter(xy, data.centers));
    events.scalars(state.iteration, { 'eval/modes_captured': metrics.modesCaptured, 'eval/high_quality_pct': metrics.highQualityPct, 'eval/reverse_kl': metrics.reverseKL ?? NaN });
    writeFileAtomic(join(out, 'samples.csv'), csv(xy));
    writeFileAtomic(join(out, 'samples.svg'), await renderSvg(scatterSpec(xy, data.centers, `${cfg.loss} on ${cfg.data}, ${state.iteration} iterations, seed ${cfg.seed}`)));
    writeFileAtomic(join(out, 'metrics.json'), JSON.stringify({ iterations: state.iteration, seconds: run.seconds, ...metrics }, null, 2) + '\n');
    return { ...result, metrics };
  } catch (e) {
    // A diverged run names its last good checkpoint itself; any other failure (a lost shard process, a
    // full disk) leaves the checkpoints written so far, and says how to go on from them.
    if (e instanceof DivergedError) throw e;
    const latest = store.latest();
    throw new Error(`${(e as Error).message}; ${latest ? `the last checkpoint is ${latest}: resume with onnx-gan train --resume --out ${out}` : 'no checkpoint was written yet'}`);
  } finally {
    await trainer.release();
    await scorer?.release();
  }
}

/**
 * The settings `train --resume` runs under: the run's own config.json, with what the caller gives on top
 * (a config file, flags); a directory without a run yet takes the given settings as they are.
 */
export function resumeConfig(out: string, given: Record<string, unknown>, source: string): Config {
  return isRun(out) ? parseConfig({ ...openRun(out, '--resume').config, ...given }, `${join(resolve(out), CONFIG_FILE)} + ${source}`) : parseConfig(given, source);
}

/** The run to resume (its identity checked), or null to start one. Nothing is written before every check has passed. */
function prepareRunDir(out: string, cfg: Config, opts: TrainOptions): Run | null {
  const say = opts.log ?? (() => {});
  let resume = !!opts.resume;
  if (existsSync(out) && !resume) {
    const ours = readdirSync(out).filter((e) => RUN_OUTPUTS.includes(e) || e.startsWith(EVENT_FILE_PREFIX));
    if (ours.length && !opts.force) throw new Error(`run directory ${out} already exists; pass --resume to continue it or --force to replace it (its checkpoints and export too)`);
    for (const e of ours) rmSync(join(out, e), { recursive: true, force: true });
  }
  if (resume && !isRun(out)) {
    // A run killed during start-up leaves at most an empty checkpoints/ and temp files: start it afresh.
    const left = existsSync(out) ? readdirSync(out).filter((f) => !isTempFile(f) && f !== LOCK_FILE) : [];
    const empty = left.every((f) => f === CKPT_DIR && readdirSync(join(out, f)).every(isTempFile));
    if (!empty) throw new Error(`--resume: ${out} is not a run directory (no config.json)`);
    say(`--resume: nothing to resume in ${out}; starting the run`);
    resume = false;
  }
  if (!resume) return null;
  const run = openRun(out, '--resume');
  run.checkIdentity(cfg, '--resume');
  return run;
}

/** The run directory made ready for the run that starts now: temp files gone, checkpoints/, config.json. */
function startRunDir(out: string, cfg: Config): void {
  removeTempFiles(out);
  removeTempFiles(ownDir(join(out, CKPT_DIR)));
  writeFileAtomic(join(out, CONFIG_FILE), JSON.stringify({ ...cfg, out: cfg.out ?? defaultOut(cfg) }, null, 2) + '\n');
}

/** metrics.jsonl's lines as objects; a line cut by a crash is skipped. */
function readLog(path: string): Record<string, number>[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .flatMap((line) => {
      if (!line.trim()) return [];
      try {
        return [JSON.parse(line) as Record<string, number>];
      } catch {
        return []; // a line cut by a crash
      }
    });
}

/** After a resume or rollback, drop log lines past the checkpoint so the log reads as one uninterrupted run. */
function trimLog(path: string, iteration: number): void {
  dropLink(path);
  if (existsSync(path)) writeFileAtomic(path, readLog(path).filter((l) => l.iteration <= iteration).map((l) => JSON.stringify(l) + '\n').join(''));
}

function csv(xy: Float32Array): string {
  const lines = ['x,y'];
  for (let i = 0; i < xy.length; i += 2) lines.push(`${xy[i]},${xy[i + 1]}`);
  return lines.join('\n') + '\n';
}
