// docs/cli.md and --help come from one source: the commands' commander definitions, whose `train` flags
// come from the run config table. The committed reference must be current, and list every flag.
import { expect } from 'chai';
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { continueCommand } from '../../cli/commands/continue.ts';
import { evalCommand } from '../../cli/commands/eval.ts';
import { exportLossCommand } from '../../cli/commands/export-loss.ts';
import { exportCommand } from '../../cli/commands/export.ts';
import { sweepCommand } from '../../cli/commands/sweep.ts';
import { trainClassifierCommand } from '../../cli/commands/train-classifier.ts';
import { fidCommand } from '../../cli/commands/fid.ts';
import { trainCommand } from '../../cli/commands/train.ts';
import { workerCommand } from '../../cli/commands/worker.ts';
import { program } from '../../cli/main.ts';
import { cliReference } from '../../cli/reference.ts';
import { CONFIG_KEYS, flagOf } from '../../run/config.ts';

const DOC = new URL('../../docs/cli.md', import.meta.url);

describe('cli/reference: docs/cli.md', () => {
  it('is what the commands generate now (npm run docs:cli rewrites it)', () => {
    expect(readFileSync(DOC, 'utf8'), 'docs/cli.md is stale: run npm run docs:cli').to.equal(cliReference());
  });

  it('lists every flag each command --help prints, and every config key as a train flag', () => {
    const doc = readFileSync(DOC, 'utf8');
    const cli = program();
    for (const c of cli.commands) for (const o of c.options) expect(doc, `${c.name()} ${o.flags}`).to.include(`\`${o.flags}\``);
    const help = cli.commands.find((c) => c.name() === 'train')!.helpInformation();
    for (const k of Object.keys(CONFIG_KEYS)) {
      expect(help, k).to.include(flagOf(k));
      expect(doc, k).to.include(`\`${flagOf(k)}`);
    }
  });

  it('main registers every command module, in the order the reference shows', () => {
    const own = new Command('onnx-gan');
    for (const register of [trainCommand, sweepCommand, workerCommand, exportCommand, continueCommand, trainClassifierCommand, evalCommand, fidCommand, exportLossCommand]) register(own);
    expect(cliReference(program())).to.equal(cliReference(own));
  });
});
