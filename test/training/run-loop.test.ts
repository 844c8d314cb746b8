// training/run-loop.ts, the one loop every runner adapts: where blocks end, when it saves, how a stop
// lands and resumes exactly, and the divergence policy, on a real trainer with a store in memory.
import { expect } from 'chai';
import { dataset } from '../../data/mixtures.ts';
import { nodeRuntime } from '../../runtime/node.ts';
import { mlpGan } from '../../training/gan-pairs.ts';
import { DivergedError, runLoop, type CheckpointStore } from '../../training/run-loop.ts';
import { cloneState, Trainer, type TrainState } from '../../training/trainer.ts';

const make = (o: { lr?: number } = {}) => Trainer.create({ setup: mlpGan({ loss: 'ns', hidden: [16, 16], batch: 32, ...o }), runtime: nodeRuntime(), data: dataset('ring8'), seed: 7, nCritic: () => 1, threads: 1 });

function memoryStore(): CheckpointStore & { saved: TrainState[] } {
  const saved: TrainState[] = [];
  return {
    saved,
    save: (s) => (saved.push(cloneState(s)), `memory:${s.iteration}`),
    latest: () => (saved.length ? `memory:${saved[saved.length - 1].iteration}` : null),
  };
}

describe('training/run-loop', function () {
  this.timeout(60000);
  let t: Trainer;
  before(async () => (t = await make()));
  after(() => t.release());

  it('blocks end at every checkpoint and mark; it saves at each checkpoint and at the end', async () => {
    const store = memoryStore();
    const ends: number[] = [];
    const r = await runLoop({ trainer: t, state: t.initialState(), until: 20, fuse: 10, checkpointEvery: 7, marks: [5], store, afterBlock: (logs, s) => void ends.push(s.iteration) });
    expect(ends).to.deep.equal([5, 7, 10, 14, 15, 20]);
    expect(store.saved.map((s) => s.iteration)).to.deep.equal([7, 14, 20]);
    expect(r).to.include({ status: 'done', iteration: 20, checkpoint: 'memory:20', rollbacks: 0 });
    expect(Object.keys(r.last)).to.include.members(['D.loss', 'G.loss']);
  });

  it('a stop lands between blocks, is saved at once, and the resumed run ends where an unbroken one does', async () => {
    const whole = t.initialState();
    await runLoop({ trainer: t, state: whole, until: 12, fuse: 0, checkpointEvery: 100, store: memoryStore() });
    const store = memoryStore();
    const broken = t.initialState();
    const r = await runLoop({ trainer: t, state: broken, until: 12, fuse: 0, checkpointEvery: 100, store, stopRequested: () => broken.iteration >= 5 });
    expect(r).to.include({ status: 'interrupted', iteration: 5, checkpoint: 'memory:5' });
    const resumed = cloneState(store.saved[0]);
    await runLoop({ trainer: t, state: resumed, until: 12, fuse: 0, checkpointEvery: 100, store });
    expect(resumed.iteration).to.equal(12);
    for (const n of ['G', 'D'] as const) expect(Array.from(resumed[n].params), n).to.deep.equal(Array.from(whole[n].params));
  });

  it('divergence: rolls back to the last good state with lower learning rates, then stops naming the checkpoint', async () => {
    const wild = await make({ lr: 1e38 });
    try {
      const store = memoryStore();
      const state = wild.initialState();
      const messages: string[] = [];
      const run = runLoop({ trainer: wild, state, until: 10, fuse: 0, checkpointEvery: 100, store, divergence: { on: 'rollback', maxRollbacks: 2, lrScale: 0.5 }, onRollback: (m) => void messages.push(m) });
      const e = await run.then(() => null, (x: Error) => x);
      expect(e).to.be.instanceOf(DivergedError);
      expect(e!.message).to.match(/^training diverged at iteration 1: .*; no checkpoint was written yet \(after 2 rollbacks\)$/);
      expect(messages).to.have.length(2);
      expect(messages[0]).to.match(/rolled back to iteration 0, learning rates now G 5\.00e\+37, D 5\.00e\+37 \(rollback 1 of 2\)/);
      // The state handed back is the last good one, not the diverged one.
      expect(state.iteration).to.equal(0);
      expect(Array.from(state.D.params).every(Number.isFinite)).to.equal(true);
    } finally {
      await wild.release();
    }
  });
});
