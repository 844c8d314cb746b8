// cli/options.ts: flags made from the config table parse into config keys (numbers, lists, choices), and
// the shared checks name the flag at fault.
import { expect } from 'chai';
import { Command } from 'commander';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addConfigOptions, configFromOptions, loadConfigFile, lossFlags, positiveInts } from '../../cli/options.ts';

const parse = (cmd: Command, args: string[]) => (cmd.exitOverride().configureOutput({ writeErr: () => {} }).parse(args, { from: 'user' }), cmd.opts());

describe('cli/options', () => {
  it("the table's flags parse to its keys: numbers, lists, choices, switches", () => {
    const o = parse(addConfigOptions(new Command('t')), ['--n-critic', '5', '--betas', '0.5,0.9', '--loss', 'hinge', '--spectral-norm', '--out', 'runs/x']);
    expect(configFromOptions(o)).to.deep.equal({ nCritic: 5, betas: [0.5, 0.9], loss: 'hinge', spectralNorm: true, out: 'runs/x' });
    expect(() => parse(addConfigOptions(new Command('t')), ['--lr', 'fast'])).to.throw("'fast' is not a number");
    expect(() => parse(addConfigOptions(new Command('t')), ['--loss', 'nope'])).to.throw(/Allowed choices are ns, minimax/);
  });

  it('loss flags are the config keys of a loss, only those', () => {
    const names = lossFlags(new Command('t')).options.map((o) => o.long);
    expect(names).to.deep.equal(['--lambda', '--penalty', '--ls', '--divergence', '--rho']);
  });

  it('positiveInts and loadConfigFile name the flag and the file', () => {
    expect(() => positiveInts({ keepCheckpoints: 0 }, ['keepCheckpoints'])).to.throw('--keep-checkpoints: must be a positive integer, got 0');
    expect(() => positiveInts({ seeds: 2.5 }, ['seeds'])).to.throw('--seeds: must be a positive integer, got 2.5');
    const tmp = mkdtempSync(join(tmpdir(), 'onnx-gan-options-'));
    try {
      writeFileSync(join(tmp, 'c.json'), '{"loss": ');
      expect(() => loadConfigFile(join(tmp, 'c.json'))).to.throw(/^--config: .*c\.json is not JSON: /);
      expect(() => loadConfigFile(join(tmp, 'none.json'))).to.throw(/^--config: cannot read .*none\.json: ENOENT$/);
      writeFileSync(join(tmp, 'c.json'), '{"loss": "ns"}');
      expect(loadConfigFile(join(tmp, 'c.json'))).to.deep.equal({ loss: 'ns' });
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
