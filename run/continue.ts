// `onnx-gan continue <artifacts>`: keep training from a training-artifacts directory (what `export` writes
// into export/training/), running the stored step programs as they are: the browser page's code path, so
// both reach the same parameters from the same checkpoint. An adapter over the one run loop: it starts from
// the newest checkpoint of the run's lineage and appends to the run's checkpoint history.
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ARTIFACT_FILES, loadArtifacts, type LoadedArtifacts } from '../training/artifacts.ts';
import { nodeRuntime } from '../runtime/node.ts';
import type { NodeEp } from '../runtime/runtime.ts';
import { webRuntime } from '../runtime/web.ts';
import { runLoop, type RunOutcome } from '../training/run-loop.ts';
import { criticSchedule, Trainer } from '../training/trainer.ts';
import { parseConfig, type Config } from './config.ts';
import { ownDir, writeFileAtomic } from './files.ts';
import { withLock } from './lock.ts';
import { CKPT_DIR, folderStore, loadLatest, removeTempFiles, runOf } from './run-dir.ts';
import { openRun } from './open.ts';
import { runData } from './setup.ts';

export interface ContinueOptions {
  iterations: number;
  threads?: number;
  /** cpu, cuda or webgpu: onnxruntime-node; wasm: onnxruntime-web's WASM build, the browser page's kernels. */
  ep?: NodeEp | 'wasm';
  /** Default: the run's own settings (its config.json in the artifacts). */
  checkpointEvery?: number;
  keepCheckpoints?: number;
  onProgress?: (done: number, total: number, values: Record<string, number>) => void;
  log?: (msg: string) => void;
  stopRequested?: () => boolean;
}

export interface ContinueResult {
  status: RunOutcome['status'];
  /** The newest checkpoint written (in the run's checkpoints/, or the artifacts' own checkpoints/). */
  file: string | null;
  /** The run's checkpoint history this continue appended to. */
  history: string;
  /** The iteration it started from and the one it reached. */
  start: number;
  iteration: number;
  values: Record<string, number>;
}

export async function continueArtifacts(dir: string, opts: ContinueOptions): Promise<ContinueResult> {
  const root = resolve(dir);
  const say = opts.log ?? (() => {});
  const { manifest, plan, state: packed, config } = await loadArtifacts((f) => readFile(join(root, f)), root);
  // The lineage: the run these artifacts were exported from, else a checkpoints/ folder beside them.
  const run = runOf(join(root, ARTIFACT_FILES.checkpoint));
  const settings = parseConfig(config, join(root, ARTIFACT_FILES.config));
  const go = () => continueIn(root, run, settings, { manifest, plan, state: packed }, opts);
  return run ? openRun(run, 'continue').locked('onnx-gan continue', say, go) : withLock(root, 'onnx-gan continue', 'artifacts directory', say, go);
}

async function continueIn(root: string, run: string | null, config: Config, { manifest, plan, state: packed }: Omit<LoadedArtifacts, 'config'>, opts: ContinueOptions): Promise<ContinueResult> {
  const say = opts.log ?? (() => {});
  const history = ownDir(join(run ?? root, CKPT_DIR));
  removeTempFiles(history);
  const newest = loadLatest(history, manifest.checkpoint, say, 'continue');
  const state = newest && newest.state.iteration > packed.iteration ? newest.state : packed;
  say(`continuing from ${newest && state === newest.state ? newest.file : join(root, ARTIFACT_FILES.checkpoint)} at iteration ${state.iteration}`);
  const runtime = opts.ep === 'wasm' ? webRuntime() : nodeRuntime(opts.ep);
  const trainer = await Trainer.fromPlan(plan, { runtime, data: await runData({ ...config, data: manifest.data, seed: manifest.seed }, { onNote: say }), seed: manifest.seed, nCritic: criticSchedule(manifest.schedule), threads: opts.threads ?? 1 });
  const setting = (k: 'checkpointEvery' | 'keepCheckpoints') => opts[k] ?? config[k];
  // Each save also refreshes the artifacts' own checkpoint (always to a newer iteration), so the page and
  // the next `continue` start from the newest.
  const store = folderStore(history, manifest.checkpoint, setting('keepCheckpoints'), (_s, bytes) => writeFileAtomic(join(root, ARTIFACT_FILES.checkpoint), bytes));
  const start = state.iteration;
  try {
    const r = await runLoop({
      trainer,
      state,
      until: start + opts.iterations,
      fuse: 0,
      checkpointEvery: setting('checkpointEvery'),
      store,
      stopRequested: opts.stopRequested,
      afterBlock: (_logs, s) => opts.onProgress?.(s.iteration - start, opts.iterations, _logs[_logs.length - 1].values),
    });
    return { status: r.status, file: r.checkpoint, history, start, iteration: state.iteration, values: r.last };
  } finally {
    await trainer.release();
  }
}
