// run/setup.ts: a run's config resolved into its pair of networks, refusing settings the data cannot serve.
import { expect } from 'chai';
import { imageSet } from '../../data/images.ts';
import { runMixture } from '../../data/mixtures.ts';
import { parseConfig } from '../../run/config.ts';
import { checkBatch, checkpointInfo, resolveSetup } from '../../run/setup.ts';
import { StepCompiler } from '../../training/step.ts';

describe('run/setup', () => {
  it('a batch larger than the data set is refused naming both sizes', () => {
    const tiny = imageSet('tiny', [1, 28, 28], new Uint8Array(3 * 784));
    const tinyCfg = parseConfig({ data: 'tiny', loss: 'ns' });
    expect(() => checkBatch(tinyCfg, tiny, resolveSetup(tinyCfg, tiny).setup.batch)).to.throw("--batch 64: more samples per step than the data set 'tiny' holds (3 images)");
    const packed = parseConfig({ loss: 'ns', dataSize: 150, batch: 100, pack: 2 });
    expect(() => checkBatch(packed, runMixture('ring8', 150, 0), 100)).to.throw("--batch 100 x --pack 2: more samples per step than the data set 'ring8' holds (150 points)");
    expect(() => checkBatch({ ...packed, dataSize: 200 }, runMixture('ring8', 200, 0), 100)).to.not.throw();
  });

  it("resolves the loss's paper defaults and the checkpoint identity a run carries", () => {
    const cfg = parseConfig({ loss: 'wgan' });
    const { setup, schedule } = resolveSetup(cfg, runMixture('ring8', undefined, 0));
    expect(setup.optD).to.include({ name: 'rmsprop', clip: 0.01 });
    expect(schedule).to.deep.equal({ base: 5, wgan: false });
    const info = checkpointInfo(cfg, new StepCompiler(setup).shape());
    expect(JSON.parse(info.config)).to.include({ loss: 'wgan', seed: 0 });
    expect(info.slots.D).to.deep.equal(['sq']);
  });
});
