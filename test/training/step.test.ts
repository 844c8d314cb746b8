// The compiled training steps: fused K-iteration Loop vs separate runs, Node CPU vs Web WASM, the
// in-graph divergence flag, the generator's weight average and the critic's input augmentation.
import { expect } from 'chai';
import { dataset } from '../../data/mixtures.ts';
import { nodeRuntime } from '../../runtime/node.ts';
import { webRuntime } from '../../runtime/web.ts';
import type { Runtime } from '../../runtime/runtime.ts';
import { Trainer, type TrainState } from '../../training/trainer.ts';
import { relErr } from '../helpers.ts';
import { dcganGan, mlpGan } from '../../training/gan-pairs.ts';
import { imageSet } from '../../data/images.ts';
import { Rng } from '../../data/random.ts';
import { Sampler } from '../../training/sampler.ts';
import { StepCompiler, type GanSetup } from '../../training/step.ts';
import type { ProgramState } from '../../training/signature.ts';
import type { Augment } from '../../models/augment.ts';

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

describe('generator weight averaging (--ema) and augmentation (--augment) in the step programs', () => {
  const images = imageSet('noise', [1, 16, 16], Uint8Array.from({ length: 64 * 256 }, (_, i) => (i * 7919) % 256));
  const pair = (extra: Partial<GanSetup>, loss = 'wgan-gp') => ({ ...dcganGan({ loss, image: [1, 16, 16], width: 4, latent: 8, batch: 8 }), ...extra });
  const open = (setup: GanSetup, nCritic = 2) => Trainer.create({ setup, runtime: nodeRuntime(), data: images, seed: 3, nCritic: () => nCritic, threads: 1 });

  it('the average follows avg <- beta avg + (1 - beta) w with the warm-up, equal to the host formula (1e-5), and copies w until --ema-start', async () => {
    const decay = 0.9;
    const start = 2;
    // A large step size, so that the weights move far more than the tolerance between updates.
    const setup = pair({ ema: { decay, start } });
    const t = await open({ ...setup, optG: { ...setup.optG, lr: 0.02 } });
    const s = t.initialState();
    const avg = Float64Array.from(s.G.params);
    expect(s.states['G.params.ema']).to.deep.equal(s.G.params);
    const bn = Object.keys(s.states).find((k) => k.endsWith('running_mean') && k.startsWith('G.'))!;
    const bnAvg = Float64Array.from(s.states[bn]);
    for (let it = 1; it <= 6; it++) {
      await t.iteration(s);
      const since = it - start;
      const beta = since > 0 ? Math.min(decay, (1 + since) / (10 + since)) : 0;
      avg.forEach((v, i) => (avg[i] = beta * v + (1 - beta) * s.G.params[i]));
      bnAvg.forEach((v, i) => (bnAvg[i] = beta * v + (1 - beta) * s.states[bn][i]));
      if (it <= start) expect(relErr(s.states['G.params.ema'], s.G.params), `update ${it}: a copy`).to.be.below(1e-7);
    }
    expect(relErr(s.states['G.params.ema'], Float32Array.from(avg)), 'weights').to.be.below(1e-5);
    expect(relErr(s.states[`${bn}.ema`], Float32Array.from(bnAvg)), 'running statistics, averaged alongside').to.be.below(1e-5);
    expect(relErr(s.states['G.params.ema'], s.G.params), 'an average, not the weights').to.be.above(1e-3);
    await t.release();
  });

  it('samples come from the average by default; the raw sampler (ema: false) on generatorWeights gives the same samples', async () => {
    const t = await open(pair({ ema: { decay: 0.9, start: 0 } }));
    const s = t.initialState();
    for (let i = 0; i < 3; i++) await t.iteration(s);
    const z = Rng.stream(1, 'z').fillNormal(new Float32Array(4 * 8));
    const averaged = await t.generate(s, z);
    const raw = new Sampler({ latent: 8, classes: 0, sampler: t.compiler!.sampler({ ema: false }) }, nodeRuntime().createSession(t.compiler!.sampler({ ema: false }).model, { threads: 1 }));
    const w = t.compiler!.generatorWeights(s);
    const viaWeights = await raw.generate({ G: { ...s.G, params: w.params }, D: s.D, states: w.states } as unknown as ProgramState, z);
    expect(relErr(viaWeights, averaged)).to.be.below(1e-6);
    expect(relErr(await raw.generate(s, z), averaged), 'the trained weights sample differently').to.be.above(1e-4);
    await raw.release();
    await t.release();
    expect(() => new StepCompiler(pair({})).sampler({ ema: true })).to.throw('the run keeps no average of the generator (train with --ema DECAY)');
  });

  for (const loss of ['wgan-gp', 'r1'])
    it(`${loss}: augmented critic inputs (color, translation, cutout; penalty through the augmentation): fused runs equal separate ones, finite`, async () => {
      const t = await open(pair({ augment: { kinds: ['color', 'translation', 'cutout'], p: 1, target: 0.6 } }, loss));
      const [a, b] = [t.initialState(), t.initialState()];
      for (let i = 0; i < 4; i++) await t.iteration(a);
      const logs = await t.fusedIterations(b, 4);
      expect(logs.every((l) => l.ok)).to.equal(true);
      expectStatesClose(a, b, 1e-5);
      await t.release();
    });

  it('augmentation changes the training (the draws reach the critic); the same seed repeats it exactly', async () => {
    const run = async (extra: Partial<GanSetup>) => {
      const t = await open(pair(extra));
      const s = t.initialState();
      for (let i = 0; i < 2; i++) await t.iteration(s);
      await t.release();
      return s.D.params;
    };
    const aug = { augment: { kinds: ['translation'] as Augment[], p: 1, target: 0.6 } };
    const [plain, once, again] = [await run({}), await run(aug), await run(aug)];
    expect(relErr(once, plain)).to.be.above(1e-4);
    expect(Array.from(again)).to.deep.equal(Array.from(once));
  });

  it("'auto' probability: starts at 0, moves by batch / 500k per critic step toward E[sign D(real)] = target, logged", async () => {
    const t = await open(pair({ augment: { kinds: ['color'], p: 'auto', target: 0.6 } }, 'ns'), 1);
    const s = t.initialState();
    expect(s.states['augment.p'][0]).to.equal(0);
    const seen: number[] = [];
    for (let i = 0; i < 6; i++) seen.push((await t.iteration(s)).values['D.augment_p']);
    const p = s.states['augment.p'][0];
    const r = s.states['augment.r'][0];
    expect(seen[0]).to.equal(0);
    // p never leaves [0, 1], and each step moves it by exactly 8 / 500000 (or clips at 0).
    for (let i = 1; i < seen.length; i++) expect(Math.abs(seen[i] - seen[i - 1]) === 0 || Math.abs(Math.abs(seen[i] - seen[i - 1]) - 8 / 500000) < 1e-9, `step ${i}`).to.equal(true);
    expect(p).to.be.within(0, 6 * 8 / 500000 + 1e-9);
    expect(r).to.be.within(-1, 1);
    await t.release();
  });

  it('data parallel: the generator\'s apply program carries the average (and only the generator\'s does)', () => {
    const c = new StepCompiler({ ...small(), ema: { decay: 0.9, start: 0 } });
    const carried = (n: 'G' | 'D') => {
      const sig = c.applyProgram(n, 2).signature;
      return [sig.inputs, sig.outputs].map((l) => l.filter((t) => t.role === 'state').map((t) => t.state));
    };
    expect(carried('G')).to.deep.equal([['G.params.ema'], ['G.params.ema']]);
    expect(carried('D')).to.deep.equal([[], []]);
  });

  it('refuses augmentation of 2-D points, and an average with a decay outside (0, 1)', () => {
    expect(() => new StepCompiler({ ...small(), augment: { kinds: ['color'], p: 1, target: 0.6 } })).to.throw('augmentation (color) works on images; these samples have shape [2]');
    expect(() => new StepCompiler({ ...small(), ema: { decay: 1, start: 0 } })).to.throw('ema decay must be in (0, 1), got 1');
  });
});

describe('lazy regularization (--penalty-every k)', function () {
  this.timeout(60000);
  const rt = nodeRuntime('cpu');
  const lazySetup = (every: number, lambda = 10) => {
    const s = mlpGan({ loss: 'ns', penalty: 'r1', lambda, hidden: [16, 16], batch: 32 });
    if (every > 1) s.penaltyEvery = every;
    return s;
  };
  const copy = (s: TrainState): TrainState => ({ iteration: s.iteration, G: { ...s.G, params: s.G.params.slice(), slots: s.G.slots.map((x) => x.slice()) }, D: { ...s.D, params: s.D.params.slice(), slots: s.D.slots.map((x) => x.slice()) }, states: { ...s.states } });

  it('emits a second critic program without the penalty: no double backward, no penalty log', () => {
    const plan = new StepCompiler(lazySetup(4)).plan();
    expect(plan.lazy?.every).to.equal(4);
    const logs = (p: { signature: { outputs: { role: string; log?: string }[] } }) => p.signature.outputs.filter((o) => o.role === 'log').map((o) => o.log);
    expect(logs(plan.critic)).to.include('D.r1');
    expect(logs(plan.lazy!.critic)).to.not.include('D.r1');
    expect(plan.lazy!.critic.model.length).to.be.below(plan.critic.model.length * 0.8);
    expect(() => new StepCompiler(lazySetup(4)).fusedProgram(2, 1)).to.throw(/lazy regularization runs one step per run/);
  });

  it('every k-th critic update takes the penalty at k times its weight, the others none: equal to those two runs', async () => {
    const data = dataset('ring8');
    const opts = { runtime: rt, data, seed: 3, nCritic: () => 1 };
    const lazy = await Trainer.create({ ...opts, setup: lazySetup(2) });
    expect(lazy.canFuse).to.equal(false);
    // The references: the penalty at twice its weight every update, and no penalty at all.
    const doubled = await Trainer.create({ ...opts, setup: lazySetup(1, 20) });
    const none = await Trainer.create({ ...opts, setup: mlpGan({ loss: 'ns', penalty: 'none', hidden: [16, 16], batch: 32 }) });
    const start = lazy.initialState();
    const a = copy(start);
    const logs = [await lazy.iteration(a), await lazy.iteration(a)]; // critic updates 0 (penalty) and 1 (none)
    const b = copy(start);
    await doubled.iteration(b);
    await none.iteration(b);
    for (const n of ['G', 'D'] as const) expect(relErr(a[n].params, b[n].params), `${n}.params`).to.be.below(1e-6);
    expect(logs[0].values).to.have.property('D.r1');
    expect(logs[1].values).to.not.have.property('D.r1');
    for (const t of [lazy, doubled, none]) await t.release();
  });

  it('the schedule follows the saved state: 1 iteration, a new trainer on a copy of the state, 2 more equal 3 straight', async () => {
    const opts = { runtime: rt, data: dataset('ring8'), seed: 5, nCritic: () => 2, setup: lazySetup(3) };
    const straight = await Trainer.create(opts);
    const a = straight.initialState();
    const b = copy(a);
    for (let i = 0; i < 3; i++) await straight.iteration(a);
    const first = await Trainer.create(opts);
    await first.iteration(b);
    const resumed = await Trainer.create(opts);
    const c = copy(b);
    for (let i = 0; i < 2; i++) await resumed.iteration(c);
    for (const n of ['G', 'D'] as const) expect(Buffer.from(c[n].params.buffer).equals(Buffer.from(a[n].params.buffer)), `${n}.params`).to.equal(true);
    for (const t of [straight, first, resumed]) await t.release();
  });
});
