// The library: what `import { train } from 'onnx-gan'` gives a Node program. The same settings as the
// CLI's flags (one config type, from run/config.ts's table), progress by callback or async iterator,
// cancellation by an AbortSignal (a checkpoint is saved, as Ctrl-C does). The CLI is a user of these.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { z } from 'zod';
import { nodeRuntime } from '../runtime/node.ts';
import type { NodeEp } from '../runtime/runtime.ts';
import { openGenerator, type ExportedGenerator } from '../training/exported-generator.ts';
import { defaultOut, parseConfig, type Config, type ConfigSchema } from '../run/config.ts';
import { evalFeaturesRun, evalRun, type EvalResult, type FeatureEvalResult } from '../run/evaluate.ts';
import { fidOfSets, type FeatureScores } from '../run/feature-scores.ts';
import { exportRun as exportOne, type ExportResult } from '../run/export.ts';
import { EXPORT_DIR } from '../run/run-dir.ts';
import { resumeConfig, train as trainRun, type TrainResult } from '../run/train.ts';

export { CONFIG_KEYS, parseConfig, type Config, type ConfigKey } from '../run/config.ts';
export type { TrainResult, EvalResult, ExportResult, ExportedGenerator };

/** A run's settings as a program writes them: every key of the config table, each optional where it has a default. */
export type Settings = z.input<typeof ConfigSchema>;

/** After every block of iterations (the fused block, 10 by default; one with fuse 0). */
export interface IterationEvent {
  iteration: number;
  total: number;
  /** The losses and penalty terms of the block's last iteration (D.loss, G.loss, ...). */
  values: Record<string, number>;
}

export interface TrainOptions {
  /** Replace an existing run directory. */
  force?: boolean;
  /** Aborting saves a checkpoint and resolves with status 'interrupted' (resume() goes on from it). */
  signal?: AbortSignal;
  onIteration?: (e: IterationEvent) => void;
  /** Messages for a person: notes, warnings, resumes, rollbacks. */
  onLog?: (message: string) => void;
  /** While an image folder is decoded (its first run only; later runs read the cache). */
  onDataProgress?: (done: number, total: number) => void;
}

const settingsOf = (s: Settings | Config, source: string): Config => parseConfig(s, source);

function runWith(cfg: Config, o: TrainOptions, resume: boolean): Promise<TrainResult> {
  if (o.signal?.aborted) return Promise.reject(new Error('train: the signal was already aborted'));
  return trainRun(cfg, {
    resume,
    force: o.force,
    log: o.onLog,
    onDataProgress: o.onDataProgress,
    stopRequested: () => !!o.signal?.aborted,
    onProgress: (iteration, total, values) => o.onIteration?.({ iteration, total, values }),
  });
}

/**
 * Train one run into `settings.out` (default runs/<data>-<loss>-s<seed>): checkpoints, metrics.jsonl,
 * TensorBoard events, samples. Settings are checked first; the error names the key at fault.
 */
export async function train(settings: Settings, o: TrainOptions = {}): Promise<TrainResult> {
  return runWith(settingsOf(settings, 'train settings'), o, false);
}

/** Continue the run in `out` from its newest good checkpoint; `overrides` may change what is not its identity (iterations, logging). */
export async function resume(out: string, overrides: Settings = {}, o: TrainOptions = {}): Promise<TrainResult> {
  return runWith(resumeConfig(out, { ...overrides, out }, 'resume overrides'), o, true);
}

/**
 * Train as an async iterator of iteration events; `result` settles when the run ends (breaking out of
 * the loop does not stop the run: abort its signal for that).
 */
export function trainEvents(settings: Settings, o: TrainOptions = {}): AsyncIterable<IterationEvent> & { result: Promise<TrainResult> } {
  const queue: IterationEvent[] = [];
  let wake: (() => void) | null = null;
  let done = false;
  const result = train(settings, { ...o, onIteration: (e) => (o.onIteration?.(e), queue.push(e), wake?.()) }).finally(() => ((done = true), wake?.()));
  result.catch(() => {}); // the iterator rethrows; an unobserved rejection must not end the process first
  return {
    result,
    async *[Symbol.asyncIterator]() {
      for (;;) {
        while (queue.length) yield queue.shift()!;
        if (done) break;
        await new Promise<void>((r) => (wake = r));
        wake = null;
      }
      await result;
    },
  };
}

/** Export a run (or a checkpoint file): generator.onnx, critic.onnx, weights.safetensors, model.py, training artifacts. */
export async function exportRun(run: string, o: { out?: string; uint8?: boolean; ema?: boolean; onLog?: (message: string) => void } = {}): Promise<ExportResult> {
  return exportOne(run, { out: o.out, uint8: o.uint8, ema: o.ema, log: o.onLog });
}

/** Score an image run with the scoring classifier (onnx-gan train-classifier makes it): classifier-feature FID, KID, class scores. */
export async function evaluate(run: string, o: { classifier?: string; samples?: number; seed?: number; truncation?: number; truncationAt?: string; ema?: boolean; threads?: number; ep?: NodeEp; onLog?: (message: string) => void } = {}): Promise<EvalResult> {
  return evalRun(run, { classifier: o.classifier ?? 'classifier.onnx', samples: o.samples ?? 10000, seed: o.seed ?? 0, truncation: o.truncation, truncationAt: o.truncationAt, ema: o.ema, threads: o.threads, ep: o.ep, log: o.onLog });
}

/** Score an image run on any ONNX network's features (InceptionV3 for the FID papers report) against real images: FID, KID, precision/recall, density/coverage. */
export async function evaluateFeatures(run: string, o: { features: string; featuresSize?: number; featuresOutput?: string; real?: string; samples?: number; seed?: number; truncation?: number; truncationAt?: string; ema?: boolean; threads?: number; ep?: NodeEp; onLog?: (message: string) => void }): Promise<FeatureEvalResult> {
  return evalFeaturesRun(run, { ...o, samples: o.samples ?? 10000, seed: o.seed ?? 0, log: o.onLog });
}

/** Two image sets (folders, IDX files, fashion-mnist, fashion-mnist-test) compared on a feature network's (or the classifier's) features, as pytorch-fid compares two paths. */
export async function fidBetween(a: string, b: string, o: { features?: string; featuresSize?: number; featuresOutput?: string; classifier?: string; imageSize?: number; samples?: number; seed?: number; threads?: number; ep?: NodeEp } = {}): Promise<FeatureScores> {
  return fidOfSets(a, b, { ...o, seed: o.seed ?? 0 });
}

/**
 * An exported generator, ready to sample: a generator.onnx file, an export folder, or a run directory
 * whose export/ holds one (onnx-gan export makes it).
 */
export async function loadGenerator(path: string, o: { ep?: NodeEp; threads?: number } = {}): Promise<ExportedGenerator> {
  const candidates = [path, join(path, 'generator.onnx'), join(path, EXPORT_DIR, 'generator.onnx')].map((p) => resolve(p));
  const file = candidates.find((p) => existsSync(p) && statSync(p).isFile());
  if (!file) throw new Error(`loadGenerator: no generator at ${path} (a generator.onnx, an export folder, or a run directory exported with onnx-gan export)`);
  const runtime = nodeRuntime(o.ep ?? 'cpu');
  return openGenerator(new Uint8Array(readFileSync(file)), file, (bytes) => runtime.createSession(bytes, { threads: o.threads }));
}

/** Where a run with these settings goes when `out` is not given. */
export function runDirectory(settings: Settings): string {
  const cfg = settingsOf(settings, 'settings');
  return resolve(cfg.out ?? defaultOut(cfg));
}
