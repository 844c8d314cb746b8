// docs/cli.md, made from the commands themselves: the same commander objects print --help, so the
// reference and --help cannot disagree (test/cli/reference.test.ts checks the file is current).
//   npm run docs:cli        rewrites docs/cli.md
import type { Command, Option } from 'commander';
import { writeFileAtomic } from '../run/files.ts';
import { program } from './main.ts';

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function optionRow(o: Option): string {
  // Choices the description does not already list.
  const choices = o.argChoices && !o.argChoices.every((c) => o.description.includes(c)) ? ` One of: ${o.argChoices.map((c) => `\`${c}\``).join(', ')}.` : '';
  const dflt = o.defaultValue !== undefined && !/\(default: /.test(o.description) ? ` Default: \`${JSON.stringify(o.defaultValue)}\`.` : '';
  const required = o.mandatory ? ' Required.' : '';
  const text = `${o.description}${required}${choices}${dflt}`.replace(/\)( One of|$)/, ').$1').replace(/([^.)])( One of| Default| Required)/g, '$1.$2');
  return `| \`${cell(o.flags)}\` | ${cell(text)} |`;
}

function commandSection(c: Command): string {
  const args = c.registeredArguments.map((a) => (a.required ? `<${a.name()}>` : `[${a.name()}]`)).join(' ');
  const lines = [`## \`onnx-gan ${c.name()}${args ? ` ${args}` : ''}\``, '', `${c.description()}.`, ''];
  if (c.options.length) lines.push('| flag | what it does |', '|---|---|', ...c.options.map(optionRow), '');
  return lines.join('\n');
}

const PREAMBLE = `# Command line reference

Generated from the commands' own definitions by \`npm run docs:cli\` (the flags of \`train\` come from the run
configuration table, run/config.ts); \`onnx-gan <command> --help\` prints the same. A \`train\` config file
(\`--config\`) is a JSON object with the same keys in camelCase (\`nCritic\`, \`checkpointEvery\`, ...); flags
override it, and an unknown key is named with the key it was probably meant to be. \`--json\` prints a
command's result as one JSON object; otherwise a short summary, after a progress bar with an ETA on a
terminal, or a plain progress line every 30 s (\`ONNX_GAN_PROGRESS_SECONDS\`) where stderr is a log.

Bad input stops with one line on stderr naming what is at fault and a non-zero exit; nothing already written
is lost or half-written (files are written to a temporary name and renamed). Ctrl-C or SIGTERM during
\`train\`, \`continue\` or \`sweep\` finishes the step in flight, writes a checkpoint and exits with code 130,
printing the command that goes on from there; a second signal quits at once.

`;

/** The whole reference, in command order. */
export function cliReference(cli: Command = program()): string {
  return PREAMBLE + cli.commands.map(commandSection).join('\n');
}

if (process.argv[1]?.endsWith('cli/reference.ts')) {
  const file = new URL('../docs/cli.md', import.meta.url).pathname;
  writeFileAtomic(file, cliReference());
  console.log(`wrote ${file}`);
}
