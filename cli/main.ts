// The onnx-gan command line: one file per command in commands/. Every failure is one line on stderr and
// a non-zero exit.
import { Command } from 'commander';
import { Interrupted } from './interrupt.ts';
import { trainCommand } from './commands/train.ts';
import { sweepCommand } from './commands/sweep.ts';
import { workerCommand } from './commands/worker.ts';
import { exportCommand } from './commands/export.ts';
import { continueCommand } from './commands/continue.ts';
import { trainClassifierCommand } from './commands/train-classifier.ts';
import { evalCommand } from './commands/eval.ts';
import { fidCommand } from './commands/fid.ts';
import { exportLossCommand } from './commands/export-loss.ts';
import { VERSION } from '../run/export.ts';

export function program(): Command {
  const cli = new Command('onnx-gan').description('Train GANs as plain ONNX graphs on onnxruntime').version(VERSION).showHelpAfterError(false).exitOverride();
  trainCommand(cli);
  sweepCommand(cli);
  workerCommand(cli);
  exportCommand(cli);
  continueCommand(cli);
  trainClassifierCommand(cli);
  evalCommand(cli);
  fidCommand(cli);
  exportLossCommand(cli);
  // commander compares `--name=value` whole with the known flags, so a misspelt flag given that way got no
  // suggestion: compare its name alone.
  type Unknown = { unknownOption(flag: string): never };
  const original = (Command.prototype as unknown as Unknown).unknownOption;
  for (const c of cli.commands) (c as unknown as Unknown).unknownOption = (flag) => original.call(c, flag.split('=')[0]);
  return cli;
}
/** An error as one line a person can read: its first line, cut at 1,000 characters. */
const oneLine = (m: string) => {
  const line = m.split('\n')[0];
  return line.length > 1000 ? `${line.slice(0, 1000)}... (${line.length - 1000} more characters)` : line;
};

export async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    const err = e as Error & { code?: string; exitCode?: number };
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
    // commander already printed its own one-line message for usage errors.
    if (e instanceof Interrupted) process.stderr.write(`${err.message}\n`);
    else if (!err.code?.startsWith('commander.')) process.stderr.write(`onnx-gan: ${oneLine(err.message)}\n`);
    return err.exitCode && err.exitCode !== 0 ? err.exitCode : 1;
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('/cli/main.ts')) {
  process.exitCode = await main(process.argv.slice(2));
}
