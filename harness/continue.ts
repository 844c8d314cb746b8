// `onnx-gan continue <artifacts>`: keep training from a training-artifacts directory (what `export` writes
// into export/training/), running the stored step graphs as they are: the same code path as the browser
// page, so both reach the same parameters from the same checkpoint.
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ARTIFACT_FILES, loadArtifacts } from '../training/artifacts.ts';
import { encodeCheckpoint } from '../training/checkpoint.ts';
import { nodeRuntime, type NodeEp } from '../training/runtime-node.ts';
import { webRuntime } from '../training/runtime-web.ts';
import { criticSchedule, Trainer } from '../training/trainer.ts';
import { writeFileAtomic } from './files.ts';
import { loadData } from './train.ts';

export interface ContinueOptions {
  iterations: number;
  /** Where the new checkpoint goes; default: the artifacts' own checkpoint.safetensors, replaced atomically. */
  out?: string;
  threads?: number;
  /** cpu or cuda: onnxruntime-node; wasm: onnxruntime-web's WASM build, the browser page's kernels. */
  ep?: NodeEp | 'wasm';
  onProgress?: (done: number, total: number, values: Record<string, number>) => void;
}

export async function continueArtifacts(dir: string, opts: ContinueOptions): Promise<{ file: string; iteration: number; values: Record<string, number> }> {
  const root = resolve(dir);
  const { manifest, plan, state } = await loadArtifacts((f) => readFile(join(root, f)), root);
  const runtime = opts.ep === 'wasm' ? webRuntime() : nodeRuntime(opts.ep);
  const trainer = await Trainer.fromPlan(plan, { runtime, data: loadData(manifest.data), seed: manifest.seed, nCritic: criticSchedule(manifest.schedule), threads: opts.threads ?? 1 });
  let values: Record<string, number> = {};
  try {
    for (let i = 0; i < opts.iterations; i++) {
      const log = await trainer.iteration(state);
      if (!log.ok) throw new Error(`training diverged at iteration ${log.iteration}; the artifacts' checkpoint is unchanged`);
      values = log.values;
      opts.onProgress?.(i + 1, opts.iterations, values);
    }
  } finally {
    await trainer.release();
  }
  const file = resolve(opts.out ?? join(root, ARTIFACT_FILES.checkpoint));
  writeFileAtomic(file, encodeCheckpoint(state, manifest.checkpoint));
  return { file, iteration: state.iteration, values };
}
