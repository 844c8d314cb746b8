// run/config.ts: the run configuration table's checks, as config files and flags meet them: an unknown key
// is named with the key it was probably meant to be.
import { expect } from 'chai';
import { identityDiff, parseConfig, suggestKey } from '../../run/config.ts';

describe('run/config', () => {
  it("suggests the key a misspelt or snake_case one was meant to be, and none for a stranger", () => {
    expect(() => parseConfig({ nCritc: 2 }, 'my.json')).to.throw(`my.json: 'nCritc': Unrecognized key: "nCritc" (did you mean 'nCritic'?)`);
    expect(() => parseConfig({ n_critic: 2 }, 'my.json')).to.throw("(did you mean 'nCritic'?)");
    expect(() => parseConfig({ iteratons: 5, checkpoint_every: 3 }, 'my.json')).to.throw("(did you mean 'iterations' for 'iteratons', 'checkpointEvery' for 'checkpoint_every'?)");
    expect(suggestKey('log-every')).to.equal('logEvery');
    expect(suggestKey('learning_rate')).to.equal(null);
    expect(() => parseConfig({ zzz: 1 }, 'my.json')).to.throw(/Unrecognized key: "zzz"$/);
  });

  it('names the first identity setting that differs, with its flag and both values', () => {
    const a = parseConfig({ loss: 'ns', lr: 1e-3 });
    expect(identityDiff(a, parseConfig({ loss: 'ns', lr: 1e-3, iterations: 9 }))).to.equal(null);
    expect(identityDiff(a, parseConfig({ loss: 'ns' }))).to.deep.equal({ key: 'lr', flag: '--lr', before: 1e-3, now: undefined });
  });
});
