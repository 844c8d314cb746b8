// training/sampler.ts: sampling compiles the sampler alone, and gives what the trainer's own sampling gives
// for the same state; a class-conditional generator needs a class per latent vector.
import { expect } from 'chai';
import { dataset } from '../../data/mixtures.ts';
import { Rng } from '../../data/random.ts';
import { nodeRuntime } from '../../runtime/node.ts';
import { mlpGan } from '../../training/gan-pairs.ts';
import { Sampler } from '../../training/sampler.ts';
import { StepCompiler } from '../../training/step.ts';
import { Trainer } from '../../training/trainer.ts';

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
});
