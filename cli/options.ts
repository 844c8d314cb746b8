// Flags from the run config table (run/config.ts): each key's flag, argument, choices and default come
// from its entry there, so --help, docs/cli.md and config files cannot disagree; and the checks every
// command shares.
import { Command, InvalidArgumentError, Option } from 'commander';
import { z } from 'zod';
import { CONFIG_KEYS, flagOf, type Config, type ConfigKey, type KeyDef } from '../run/config.ts';
import { readJsonObject } from '../run/files.ts';

const KEYS = Object.keys(CONFIG_KEYS) as ConfigKey[];

export const num = (v: string) => {
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x)) throw new InvalidArgumentError(`'${v}' is not a number`);
  return x;
};
export const numList = (v: string) => v.split(',').map(num);
const names = (v: string) => v.split(',').map((s) => s.trim());

function unwrap(s: z.ZodType): { type: string; schema: z.ZodType } {
  let cur = s as z.ZodType & { def: { type: string; innerType?: z.ZodType } };
  while (cur.def.type === 'default' || cur.def.type === 'optional') cur = cur.def.innerType as typeof cur;
  return { type: cur.def.type, schema: cur };
}

/** One option per key (all of them, or the ones named), with the schema's default in the help text. */
export function addConfigOptions(cmd: Command, only?: ConfigKey[]): Command {
  for (const k of only ?? KEYS) {
    const def = CONFIG_KEYS[k] as KeyDef;
    const { type, schema } = unwrap(def.schema);
    const dflt = (def.schema as z.ZodType & { def: { type: string; defaultValue?: unknown } }).def;
    const shown = dflt.type === 'default' ? ` (default: ${JSON.stringify(dflt.defaultValue)})` : '';
    const opt = new Option(type === 'boolean' ? flagOf(k) : `${flagOf(k)} ${def.arg ?? '<value>'}`, def.help + shown);
    if (type === 'enum') opt.choices((schema as unknown as { options: string[] }).options);
    else if (type === 'number') opt.argParser(num);
    else if (type === 'array') opt.argParser<unknown>(unwrap((schema as unknown as { def: { element: z.ZodType } }).def.element).type === 'enum' ? names : numList);
    else if (type === 'tuple') opt.argParser(numList);
    // A number or a word ('auto'): the schema says which are valid.
    else if (type === 'union') opt.argParser((v) => (v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v));
    cmd.addOption(opt);
  }
  return cmd;
}

/** The config keys a command's parsed options set (commander names them in camelCase, as the keys are). */
export function configFromOptions(o: Record<string, unknown>): Partial<Config> {
  return Object.fromEntries(KEYS.filter((k) => o[k] !== undefined).map((k) => [k, o[k]])) as Partial<Config>;
}

/** Each named option that is set must be a positive integer; the error names the flag. */
export function positiveInts(o: Record<string, unknown>, keys: string[]): void {
  for (const k of keys) if (o[k] !== undefined && (!Number.isInteger(o[k]) || (o[k] as number) < 1)) throw new Error(`${flagOf(k)}: must be a positive integer, got ${o[k]}`);
}

/** A --config file: read and shape-checked here; the merged config (file + flags) is validated once by parseConfig. */
export function loadConfigFile(path: string): Record<string, unknown> {
  try {
    return readJsonObject(path);
  } catch (e) {
    throw new Error(`--config: ${(e as Error).message}`);
  }
}

/** The settings a loss takes (the config table's own entries), for commands that build a loss on its own. */
export const lossFlags = (cmd: Command): Command => addConfigOptions(cmd, ['lambda', 'penalty', 'ls', 'divergence', 'rho']);
