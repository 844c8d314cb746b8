// The compiled training steps: fused K-iteration Loop vs separate runs, Node CPU vs Web WASM, and the
// in-graph divergence flag.
import { expect } from 'chai';
import { dataset } from '../../data/mixtures.ts';
import { nodeRuntime } from '../../runtime/node.ts';
import { webRuntime } from '../../runtime/web.ts';
import type { Runtime } from '../../runtime/runtime.ts';
import { Trainer, type TrainState } from '../../training/trainer.ts';
import { relErr } from '../helpers.ts';
import { mlpGan } from '../../training/gan-pairs.ts';

const small = () => mlpGan({ loss: 'wgan-gp', hidden: [32, 32], batch: 64, lambda: 10 });
const make = (runtime: Runtime, nCritic = 3, setup = small()) => Trainer.create({ setup, runtime, data: dataset('ring8'), seed: 42, nCritic: () => nCritic, threads: 1 });

function expectStatesClose(a: TrainState, b: TrainState, tol: number) {
  expect(a.iteration).to.equal(b.iteration);
  for (const n of ['G', 'D'] as const) {
    expect(a[n].step, `${n} step count`).to.equal(b[n].step);
    const e = relErr(a[n].params, b[n].params);
    expect(e, `${n}.params relative difference`).to.be.lessThan(tol);
    a[n].slots.forEach((s, i) => expect(relErr(s, b[n].slots[i]), `${n} slot ${i}`).to.be.lessThan(tol));
  }
}

describe('training steps', () => {
  it('K fused iterations in one ONNX Loop give the parameters of K separate runs (1e-5 relative)', async () => {
    const t = await make(nodeRuntime());
    const a = t.initialState();
    const b = t.initialState();
    for (let i = 0; i < 8; i++) await t.iteration(a);
    const logs = [...(await t.fusedIterations(b, 5)), ...(await t.fusedIterations(b, 3))];
    expect(logs.map((l) => l.iteration)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(logs.every((l) => l.ok)).to.equal(true);
    expectStatesClose(a, b, 1e-5);
    // Training moved the parameters: the comparison is not between two untouched states.
    expect(relErr(a.D.params, t.initialState().D.params)).to.be.greaterThan(1e-3);
    await t.release();
  });

  it('20 iterations from one seed agree on Node CPU and Web WASM (1e-4 relative)', async () => {
    const tn = await make(nodeRuntime());
    const tw = await make(webRuntime());
    const a = tn.initialState();
    const b = tw.initialState();
    for (let i = 0; i < 20; i++) {
      await tn.iteration(a);
      await tw.iteration(b);
    }
    expectStatesClose(a, b, 1e-4);
    expect(relErr(a.G.params, tn.initialState().G.params)).to.be.greaterThan(1e-3);
    await tn.release();
    await tw.release();
  });

  it('flags a non-finite loss in the step where it appears', async () => {
    const setup = small();
    setup.optD = { ...setup.optD, lr: 1e30 };
    setup.optG = { ...setup.optG, lr: 1e30 };
    const t = await make(nodeRuntime(), 1, setup);
    const s = t.initialState();
    let first = -1;
    for (let i = 0; i < 10 && first < 0; i++) if (!(await t.iteration(s)).ok) first = s.iteration;
    expect(first, 'a diverging run is flagged').to.be.greaterThan(0);
    await t.release();
  });

  it('refuses a critic whose input does not match the generator output', () => {
    const setup = small();
    expect(() => mlpGan({ loss: 'wgan-gp', sampleDims: 3 })).to.not.throw();
    const bad = { ...setup, critic: mlpGan({ loss: 'wgan-gp', sampleDims: 3 }).critic };
    return make(nodeRuntime(), 1, bad).then(
      () => expect.fail('should refuse'),
      (e: Error) => expect(e.message).to.match(/generator output \[2\] does not match critic input \[3\]/),
    );
  });
});
