// training/sampler.ts: sampling compiles the sampler alone, and gives what the trainer's own sampling gives
// for the same state; a class-conditional generator needs a class per latent vector; mean-latent truncation
// on an imported generator's mapping output gives what PyTorch's w_avg + psi (w - w_avg) gives.
import { expect } from 'chai';
import { dataset } from '../../data/mixtures.ts';
import { Rng } from '../../data/random.ts';
import { nodeRuntime } from '../../runtime/node.ts';
import { mlpGan } from '../../training/gan-pairs.ts';
import { Sampler } from '../../training/sampler.ts';
import { StepCompiler } from '../../training/step.ts';
import { Trainer } from '../../training/trainer.ts';
import { readFileSync } from 'node:fs';
import { importedModel } from '../../models/imported.ts';
import { initParams } from '../../models/model.ts';
import { dcganGan } from '../../training/gan-pairs.ts';
import type { ProgramState } from '../../training/signature.ts';
import { expectClose, fixture } from '../helpers.ts';

describe('training/sampler', function () {
  this.timeout(60000);
  it('samples from a trained state exactly as the trainer does, without compiling a step program', async () => {
    const setup = mlpGan({ loss: 'ns', hidden: [16, 16], batch: 32 });
    const trainer = await Trainer.create({ setup, runtime: nodeRuntime(), data: dataset('ring8'), seed: 3, nCritic: () => 1, threads: 1 });
    const sampler = Sampler.compile(new StepCompiler(setup), nodeRuntime());
    try {
      const state = trainer.initialState();
      for (let i = 0; i < 5; i++) await trainer.iteration(state);
      const z = Rng.stream(1, 'z').fillNormal(new Float32Array(10 * 16));
      const mine = await sampler.generate(state, z);
      expect(mine.length).to.equal(20);
      expect(Array.from(mine)).to.deep.equal(Array.from(await trainer.generate(state, z)));
    } finally {
      await sampler.release();
      await trainer.release();
    }
  });

  it("mean-latent truncation at an imported generator's mapping output: w_avg and the samples match PyTorch (1e-5); psi 1 is no truncation; a tensor it lacks is refused by name", async () => {
    const fx = fixture<{ tensor: string; z_avg: number[]; z: number[]; psi: number; w_avg: number[]; plain: number[]; truncated: number[] }>('import/mapping_truncation.json');
    const G = importedModel(readFileSync(new URL('../fixtures/import/mapping_g.onnx', import.meta.url)), 'generator', { prefix: 'G' });
    const setup = { ...dcganGan({ loss: 'hinge', image: [1, 28, 28], width: 8, latent: 16 }), generator: G };
    const compiler = new StepCompiler(setup);
    const state = { G: { params: initParams(G, Rng.stream(0, 'unused')), slots: [], step: 0, lr: 0 }, states: {} } as unknown as ProgramState;
    const sampler = Sampler.compile(compiler, nodeRuntime(), 1, { truncateAt: fx.tensor });
    try {
      const mean = await sampler.meanLatent(state, Float32Array.from(fx.z_avg));
      expectClose(mean, fx.w_avg, 1e-5, 1e-6, 'w_avg');
      const z = Float32Array.from(fx.z);
      expectClose(await sampler.generate(state, z, undefined, { psi: fx.psi, mean }), fx.truncated, 1e-5, 1e-5, 'truncated samples');
      expectClose(await sampler.generate(state, z, undefined, { psi: 1, mean }), fx.plain, 1e-5, 1e-5, 'psi 1');
      expectClose(await sampler.generate(state, z), fx.plain, 1e-5, 1e-5, 'no truncation');
      const same = await sampler.generate(state, z, undefined, { psi: 0, mean });
      expect(Array.from(same.subarray(0, 784))).to.deep.equal(Array.from(same.subarray(784, 1568)));
    } finally {
      await sampler.release();
    }
    expect(() => compiler.sampler({ truncateAt: 'w' })).to.throw("truncation at 'w': the generator has no such tensor (mean-latent truncation rewrites a tensor of an imported generator, named as in its ONNX graph)");
  });
});
