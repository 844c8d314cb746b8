// Run directories and their lineage on disk. A run's checkpoints (checkpoints/ckpt-<iteration>) are its
// history: `train` and `continue` both append to it, `export` reads its newest, and no command replaces a
// checkpoint or an export with an older iteration.
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { decodeCheckpoint, encodeCheckpoint, peekCheckpoint, type CheckpointInfo } from '../training/checkpoint.ts';
import type { CheckpointStore } from '../training/run-loop.ts';
import type { TrainState } from '../training/trainer.ts';
import { isTempFile, writeFileAtomic } from './files.ts';

export const CKPT_DIR = 'checkpoints';
export const EXPORT_DIR = 'export';
export const ckptName = (it: number) => `ckpt-${String(it).padStart(9, '0')}.safetensors`;
const CKPT_RE = /^ckpt-(\d+)\.safetensors$/;

/** Checkpoint file names in a folder, newest iteration first. */
export function listCheckpoints(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => CKPT_RE.test(f))
    .sort((a, b) => Number(CKPT_RE.exec(b)![1]) - Number(CKPT_RE.exec(a)![1]));
}

/** The newest checkpoint in `dir` that loads; a corrupt or truncated one is reported and skipped. */
export function loadLatest(dir: string, info: CheckpointInfo, say: (m: string) => void, what = '--resume'): { state: TrainState; file: string } | null {
  const problems: string[] = [];
  for (const name of listCheckpoints(dir)) {
    const path = join(dir, name);
    try {
      const state = decodeCheckpoint(readFileSync(path), info, path);
      const verb = what === '--resume' ? 'resuming from' : `${what}: using`;
      if (problems.length) say(`${verb} ${path} at iteration ${state.iteration} (newer checkpoints unusable: ${problems.join('; ')})`);
      else if (what === '--resume') say(`${verb} ${path} at iteration ${state.iteration}`);
      return { state, file: path };
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  if (problems.length) throw new Error(`${what}: no usable checkpoint in ${dir}: ${problems.join('; ')}`);
  return null;
}

/** A checkpoint history in a folder: each save is a new file (atomic), the newest `keep` are kept. */
export function folderStore(dir: string, info: CheckpointInfo, keep: number, also?: (state: TrainState, bytes: Uint8Array) => void): CheckpointStore {
  return {
    save(state) {
      const bytes = encodeCheckpoint(state, info);
      const file = join(dir, ckptName(state.iteration));
      writeFileAtomic(file, bytes);
      for (const old of listCheckpoints(dir).slice(keep)) rmSync(join(dir, old), { force: true });
      also?.(state, bytes);
      return file;
    },
    latest() {
      const [newest] = listCheckpoints(dir);
      return newest ? join(dir, newest) : null;
    },
  };
}

/** A kill during an atomic write leaves its temp file behind; the target itself is intact. */
export function removeTempFiles(dir: string): void {
  if (existsSync(dir)) for (const f of readdirSync(dir)) if (isTempFile(f)) rmSync(join(dir, f), { force: true });
}

/** The run directory a file belongs to: <run>/checkpoints/x or <run>/export/training/x, if that run has a config.json. */
export function runOf(file: string): string | null {
  const dir = dirname(resolve(file));
  const candidates = basename(dir) === CKPT_DIR ? [dirname(dir)] : basename(dir) === 'training' && basename(dirname(dir)) === EXPORT_DIR ? [dirname(dirname(dir))] : [];
  return candidates.find((r) => existsSync(join(r, 'config.json'))) ?? null;
}

/** The iteration an existing checkpoint file holds, or null if there is none that reads. */
export function iterationOf(file: string): number | null {
  if (!existsSync(file)) return null;
  try {
    return peekCheckpoint(readFileSync(file), file).iteration;
  } catch {
    return null;
  }
}
