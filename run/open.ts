// One way to open a run directory: its config.json (validated), the identity its checkpoints must carry,
// its checkpoint history (the lineage `train`, `continue` and `export` append to and read), and its lock.
// Every command that works on an existing run (train --resume, continue, eval, export, the page's server)
// comes through here.
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CheckpointInfo } from '../training/checkpoint.ts';
import type { TrainState } from '../training/trainer.ts';
import { identityDiff, parseConfig, type Config } from './config.ts';
import { readJsonObject } from './files.ts';
import { withLock } from './lock.ts';
import { CKPT_DIR, EXPORT_DIR, loadLatest } from './run-dir.ts';

export const CONFIG_FILE = 'config.json';

export interface Run {
  dir: string;
  config: Config;
  /** Where its checkpoints (its lineage) and its export go. */
  checkpoints: string;
  exports: string;
  /** Refuse settings another model would have (`what` names the command); only iterations, logging and the like may change. */
  checkIdentity(now: Config, what: string): void;
  /** The newest checkpoint that loads as `info`; an unusable newer one is reported through `say`. */
  latest(info: CheckpointInfo, say: (m: string) => void, what: string): { state: TrainState; file: string } | null;
  /** `fn` with this run locked against every other command of any process. */
  locked<T>(command: string, say: ((m: string) => void) | undefined, fn: () => Promise<T> | T): Promise<T>;
}

/** Whether `dir` holds a run (its config.json). */
export const isRun = (dir: string): boolean => existsSync(join(resolve(dir), CONFIG_FILE));

/** An existing run directory; `what` (the command) starts every error, which names what is missing or wrong. */
export function openRun(dir: string, what: string): Run {
  const root = resolve(dir);
  if (!existsSync(root)) throw new Error(`${what}: ${root} does not exist`);
  if (!statSync(root).isDirectory()) throw new Error(`${what}: ${root} is a file, not a run directory`);
  if (!isRun(root)) throw new Error(`${what}: ${root} is not a run directory (no ${CONFIG_FILE})`);
  const file = join(root, CONFIG_FILE);
  const config = parseConfig(readJsonObject(file), file);
  const checkpoints = join(root, CKPT_DIR);
  return {
    dir: root,
    config,
    checkpoints,
    exports: join(root, EXPORT_DIR),
    checkIdentity(now, cmd) {
      const d = identityDiff(config, now);
      if (d) throw new Error(`${cmd}: ${d.flag} is ${JSON.stringify(d.now) ?? 'unset'}, the run's ${file} has ${JSON.stringify(d.before) ?? 'unset'} (only iterations, checkpoint, log, sample, divergence and thread settings may change)`);
    },
    latest: (info, say, cmd) => loadLatest(checkpoints, info, say, cmd),
    locked: (command, say, fn) => withLock(root, command, 'run directory', say, fn),
  };
}
