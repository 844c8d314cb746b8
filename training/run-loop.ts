// The one training loop. `train`, `continue`, the sweep's runs and the browser page are adapters over it:
// they bring a trainer and a state, a checkpoint store (files, or the page's memory), hooks for logs and
// samples, and a stop flag (signals, the Pause button). Blocks of iterations end at checkpoints and marks,
// so every mode sees the same iterations; a stop lands between blocks and is saved at once.
import { cloneState, type IterationLog, type TrainState, type Trainer } from './trainer.ts';

export interface CheckpointStore {
  /** Keep this state (atomically, where that means something); returns where it went. */
  save(state: TrainState): Promise<string> | string;
  /** Where the newest good state is kept, for messages; null when there is none yet. */
  latest(): string | null;
}

export interface DivergencePolicy {
  /** A non-finite loss or parameter: stop, or go back to the last checkpoint with lower learning rates. */
  on: 'stop' | 'rollback';
  maxRollbacks: number;
  lrScale: number;
}

export interface RunLoopOptions {
  trainer: Trainer;
  state: TrainState;
  /** Train until this iteration. */
  until: number;
  /** Iterations per fused run (one ONNX Loop); 0 or 1 runs each step on its own. */
  fuse: number;
  checkpointEvery: number;
  store: CheckpointStore;
  /** Periods at which blocks end too, so `afterBlock` sees those iterations (log lines, sample grids). */
  marks?: number[];
  afterBlock?(logs: IterationLog[], state: TrainState): Promise<void> | void;
  onRollback?(message: string, state: TrainState): Promise<void> | void;
  divergence?: DivergencePolicy;
  /** Checked between blocks: true saves a checkpoint and ends the loop as 'interrupted'. */
  stopRequested?(): boolean;
  /** Seconds, for the outcome's wall time. */
  clock?(): number;
}

export interface RunOutcome {
  status: 'done' | 'interrupted';
  iteration: number;
  /** Where this loop last saved the state (null when it ran nothing). */
  checkpoint: string | null;
  seconds: number;
  rollbacks: number;
  /** The last iteration's logged scalars. */
  last: Record<string, number>;
}

export class DivergedError extends Error {}

const nextMultiple = (x: number, m: number) => (Math.floor(x / m) + 1) * m;

export async function runLoop(o: RunLoopOptions): Promise<RunOutcome> {
  const { trainer, state } = o;
  const clock = o.clock ?? (() => performance.now() / 1000);
  const policy = o.divergence ?? { on: 'stop', maxRollbacks: 0, lrScale: 1 };
  const nCritic = trainer.opts.nCritic;
  const fuse = trainer.canFuse && o.fuse > 1 ? o.fuse : 1;
  const t0 = clock();
  let lastGood = cloneState(state);
  let checkpoint: string | null = null;
  let rollbacks = 0;
  let last: Record<string, number> = {};
  const save = async () => {
    await trainer.pull(state);
    checkpoint = await o.store.save(state);
    lastGood = cloneState(state);
  };
  // Whoever gets the state back reads it on the host.
  const outcome = async (status: RunOutcome['status']): Promise<RunOutcome> => {
    await trainer.pull(state);
    return { status, iteration: state.iteration, checkpoint, seconds: clock() - t0, rollbacks, last };
  };

  while (state.iteration < o.until) {
    if (o.stopRequested?.()) {
      if (lastGood.iteration !== state.iteration || !checkpoint) await save();
      return outcome('interrupted');
    }
    const end = Math.min(o.until, ...[o.checkpointEvery, ...(o.marks ?? [])].map((m) => nextMultiple(state.iteration, m)));
    let n = 1;
    const most = Math.min(fuse, trainer.fuseLimit(nCritic(state.iteration)));
    while (n < most && state.iteration + n < end && nCritic(state.iteration + n) === nCritic(state.iteration)) n++;
    const logs = fuse > 1 ? await trainer.fusedIterations(state, n) : [await trainer.iteration(state)];
    const bad = logs.find((l) => !l.ok);
    if (bad) {
      const what = Object.entries(bad.values).filter(([, v]) => !Number.isFinite(v)).map(([k, v]) => `${k} = ${v}`).join(', ') || 'a parameter became non-finite';
      const where = o.store.latest();
      const msg = `training diverged at iteration ${bad.iteration}: ${what}`;
      if (policy.on !== 'rollback' || rollbacks >= policy.maxRollbacks) {
        Object.assign(state, cloneState(lastGood));
        const after = rollbacks ? ` (after ${rollbacks} rollback${rollbacks > 1 ? 's' : ''})` : '';
        throw new DivergedError(`${msg}; ${where ? `the last good checkpoint is ${where}` : 'no checkpoint was written yet'}${after}`);
      }
      rollbacks++;
      const lr = { G: state.G.lr * policy.lrScale, D: state.D.lr * policy.lrScale };
      Object.assign(state, cloneState(lastGood));
      state.G.lr = lr.G;
      state.D.lr = lr.D;
      await o.onRollback?.(`${msg}; rolled back to iteration ${state.iteration}, learning rates now G ${lr.G.toExponential(2)}, D ${lr.D.toExponential(2)} (rollback ${rollbacks} of ${policy.maxRollbacks})`, state);
      continue;
    }
    last = logs[logs.length - 1].values;
    await o.afterBlock?.(logs, state);
    if (state.iteration % o.checkpointEvery === 0 || state.iteration === o.until) await save();
  }
  return outcome('done');
}
