// run/protocols.ts: a published setup's settings become a run's defaults, and its published numbers
// appear beside exactly the runs that follow it (PacGAN's Table 1: ns under the pacgan protocol).
import { expect } from 'chai';
import { parseConfig } from '../../run/config.ts';
import { PROTOCOLS, publishedRow } from '../../run/protocols.ts';

describe('run/protocols', () => {
  it("the pacgan protocol's settings are defaults that flags override", () => {
    const c = parseConfig({ protocol: 'pacgan', pack: 2, lr: 5e-4 });
    expect(c).to.include({ arch: 'pacgan', loss: 'ns', batch: 100, dataSize: 100_000, iterations: 400_000, evalSamples: 2500, pack: 2, lr: 5e-4 });
    expect(c.betas).to.deep.equal([0.8, 0.999]);
    expect(Object.keys(PROTOCOLS)).to.deep.equal(['pacgan']);
  });

  it("gives PacGAN's published row to ns runs under its protocol only, and none for a degree it does not report", () => {
    expect(publishedRow('pacgan', { data: 'ring8', loss: 'ns', pack: 2 })).to.deep.equal({ source: 'PacGAN paper, PacGAN2 (400 epochs, 10 runs)', modes: 7.9, hq: 95.6, rkl: 0.07 });
    expect(publishedRow('pacgan', { data: 'grid25', loss: 'ns', pack: 1 })).to.include({ source: 'PacGAN paper, GAN (400 epochs, 10 runs)', modes: 17.3 });
    expect(publishedRow('pacgan', { data: 'ring8', loss: 'ns', pack: 3 })).to.equal(null);
    expect(publishedRow('pacgan', { data: 'ring8', loss: 'hinge', pack: 2 })).to.equal(null);
    expect(publishedRow(undefined, { data: 'ring8', loss: 'ns', pack: 2 })).to.equal(null);
  });
});
