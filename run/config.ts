// The run configuration, described once: per key its schema (type, range, default), its help text, and
// whether it belongs to the model's identity (what a checkpoint may only be resumed under). The zod schema
// for config files, the CLI's flags and their --help defaults, and the --resume check are all derived here.

import { z } from 'zod';
import { DIVERGENCES, LOSSES } from '../losses/index.ts';
import { PENALTIES } from '../losses/penalties.ts';
import { CONDITIONINGS } from '../models/conditioning.ts';
import { identityDifference, MAX_ITERATIONS } from '../training/checkpoint.ts';
import { NODE_EPS } from '../runtime/runtime.ts';
import { RESIZE_MODES } from '../data/images.ts';
import { AUGMENTS } from '../models/augment.ts';
import { PROTOCOLS } from './protocols.ts';
import { jsonObject } from './json.ts';
export { PROTOCOLS };

/** A record's keys as a zod enum's values, literal types kept (so a typo in a program's settings is a type error). */
const names = <T extends Record<string, unknown>>(r: T) => Object.keys(r) as [Extract<keyof T, string>, ...Extract<keyof T, string>[]];
const posInt = z.number().int().positive();

export interface KeyDef {
  schema: z.ZodType;
  help: string;
  /** The flag's argument placeholder ('<x>'); none for a boolean switch. */
  arg?: string;
  /** Part of the model's identity: a checkpoint resumes only under equal values. */
  identity?: boolean;
}

const key = <S extends z.ZodType>(schema: S, help: string, o: Omit<KeyDef, 'schema' | 'help'> = {}) => ({ schema, help, ...o });
const id = { identity: true };

export const ARCHS = ['mlp', 'pacgan', 'dcgan', 'resnet'] as const;

export const CONFIG_KEYS = {
  data: key(z.string().min(1).default('ring8'), 'data set: ring8 | grid25 | fashion-mnist | an IDX file (.gz or not) | a folder of images (JPEG, PNG, WebP, GIF, TIFF, AVIF; flat, or one subfolder per class)', { arg: '<name>', ...id }),
  imageSize: key(z.number().int().min(4).max(1024).optional(), 'images: resize every image to N x N (the built-in models take 16..256: 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, ...)', { arg: '<n>', ...id }),
  resize: key(z.enum(RESIZE_MODES).optional(), 'images, with --image-size: crop (shorter side to N, then the centre; torchvision\'s default), stretch, or pad (black bars)', { arg: '<mode>', ...id }),
  channels: key(z.number().int().refine((v) => v === 1 || v === 3, 'must be 1 or 3').optional(), 'images: 1 (grey) or 3 (RGB); default what the files are (alpha is composited on black)', { arg: '<n>', ...id }),
  flip: key(z.boolean().optional(), 'images: random horizontal flips of the real images, drawn from the seeded stream', id),
  strict: key(z.boolean().optional(), 'image folders: refuse unreadable files instead of skipping them with a note'),
  loss: key(z.enum(names(LOSSES)).default('wgan-gp'), `loss: ${Object.keys(LOSSES).join(' | ')}`, { arg: '<name>', ...id }),
  lambda: key(z.number().nonnegative().optional(), "penalty weight (gamma for r1/r2); the loss's paper default when absent", { arg: '<x>', ...id }),
  penalty: key(z.enum(['none', ...Object.keys(PENALTIES)] as [string, ...string[]]).optional(), "a penalty instead of the loss's own ('none' for none)", { arg: '<name>', ...id }),
  ls: key(z.tuple([z.number(), z.number(), z.number()]).optional(), 'LSGAN targets a (fake), b (real), c (generator)', { arg: '<a,b,c>', ...id }),
  divergence: key(z.enum(names(DIVERGENCES)).optional(), `f-GAN divergence: ${Object.keys(DIVERGENCES).join(' | ')}`, { arg: '<name>', ...id }),
  rho: key(z.number().positive().optional(), "Fisher GAN's rho", { arg: '<x>', ...id }),
  clip: key(z.number().positive().optional(), 'clip critic weights to [-c, c] after each update', { arg: '<c>', ...id }),
  penaltyEvery: key(posInt.optional(), "lazy regularization (StyleGAN2): the loss's gradient penalty on every k-th critic step only, at k times its weight; the other steps skip its double backward (one run per step, no shards)", { arg: '<k>', ...id }),
  lecam: key(z.number().positive().optional(), "LeCam regularization (Tseng et al. 2021) with this weight, beside the loss's penalty: D(real) pulled toward a moving average of D(fake) and back", { arg: '<weight>', ...id }),
  spectralNorm: key(z.boolean().optional(), 'spectral normalization of the critic', id),
  wganSchedule: key(z.boolean().default(false), 'WGAN: 100 critic steps for the first 25 generator steps and every 500th', id),
  iterations: key(posInt.max(MAX_ITERATIONS).default(5000), 'generator iterations', { arg: '<n>' }),
  batch: key(posInt.optional(), 'batch size (default 256 for 2-D data, 64 for images)', { arg: '<n>', ...id }),
  latent: key(posInt.optional(), 'latent size (default 16 for 2-D data, 100 for images)', { arg: '<n>', ...id }),
  hidden: key(z.array(posInt).min(1).default([128, 128]), 'MLP hidden widths (2-D data), comma separated', { arg: '<list>', ...id }),
  arch: key(z.enum(ARCHS).optional(), 'architecture: for 2-D data mlp (default) or pacgan (PacGAN\'s batch-norm generator and maxout critic); for images dcgan (default) or resnet (the SNGAN / Mimicry ResNet)', { arg: '<name>', ...id }),
  pack: key(posInt.max(64).optional(), 'PacGAN packing: the critic judges m samples at once (real with real, fake with fake); penalties act on the packed input (default 1)', { arg: '<m>', ...id }),
  dataSize: key(posInt.optional(), 'a fixed set drawn once per seed, minibatches drawn from it: 2-D data, n points (PacGAN: 100000; default a fresh draw every step); images, a random subset of n images (default all)', { arg: '<n>', ...id }),
  protocol: key(z.enum(names(PROTOCOLS)).optional(), `a published setup's settings as defaults (flags still override): ${Object.entries(PROTOCOLS).map(([k, v]) => `${k} (${v.about})`).join('; ')}`, { arg: '<name>', ...id }),
  width: key(posInt.optional(), 'channels: DCGAN next to the image (default 32), ResNet in every block (default 64)', { arg: '<n>', ...id }),
  norm: key(z.enum(['layer', 'instance', 'none']).optional(), 'DCGAN critic normalization (images; never batch norm: penalties are per sample)', { arg: '<name>', ...id }),
  conditional: key(z.enum(CONDITIONINGS).optional(), 'class-conditional GAN on labelled images: projection discriminator (Miyato & Koyama 2018) or acgan (auxiliary classifier, Odena et al. 2017); the generator gets conditional batch norm', { arg: '<how>', ...id }),
  ema: key(z.number().gt(0).lt(1).optional(), "keep an exponential moving average of the generator's weights with this decay (e.g. 0.999); samples, eval, export and the page use it unless told --no-ema", { arg: '<decay>', ...id }),
  emaStart: key(z.number().int().nonnegative().optional(), 'with --ema: the average equals the weights until this generator update, then averages with the warm-up min(decay, (1 + s) / (10 + s)) (default 0)', { arg: '<n>', ...id }),
  augment: key(z.array(z.enum(AUGMENTS)).min(1).optional(), `differentiable augmentation of every critic input, real and generated, in both steps (DiffAugment, Zhao et al. 2020): any of ${AUGMENTS.join(', ')}, comma separated`, { arg: '<list>', ...id }),
  augmentP: key(z.union([z.literal('auto'), z.number().gt(0).max(1)], { error: "must be a probability in (0, 1] or 'auto'" }).optional(), "with --augment: each transform applies to a sample with probability p (default 1, as DiffAugment), or 'auto': adapted to keep E[sign D(real)] at --augment-target (ADA, Karras et al. 2020)", { arg: '<p>', ...id }),
  augmentTarget: key(z.number().gt(0).lt(1).optional(), "with --augment-p auto: the target of E[sign D(real)] (default 0.6, ADA's)", { arg: '<x>', ...id }),
  sampleEvery: key(posInt.default(500), 'images: a PNG grid of samples from fixed noise every N iterations', { arg: '<n>' }),
  generator: key(z.string().min(1).optional(), 'train this ONNX generator (float initializers become parameters)', { arg: '<file.onnx>', ...id }),
  critic: key(z.string().min(1).optional(), 'train this ONNX critic', { arg: '<file.onnx>', ...id }),
  freeze: key(z.string().min(1).optional(), 'initializers of imported models whose names match this regular expression stay frozen', { arg: '<regex>', ...id }),
  optimizer: key(z.enum(['adam', 'rmsprop', 'sgd']).optional(), "optimizer (default: the loss's paper's)", { arg: '<name>', ...id }),
  lr: key(z.number().positive().optional(), 'learning rate (both networks)', { arg: '<x>', ...id }),
  betas: key(z.tuple([z.number().min(0).lt(1), z.number().min(0).lt(1)]).optional(), 'Adam betas', { arg: '<b1,b2>', ...id }),
  nCritic: key(posInt.optional(), 'critic steps per generator step', { arg: '<n>', ...id }),
  seed: key(z.number().int().nonnegative().default(0), 'random seed', { arg: '<n>', ...id }),
  checkpointEvery: key(posInt.default(1000), 'iterations between checkpoints', { arg: '<n>' }),
  keepCheckpoints: key(posInt.default(3), 'checkpoints kept', { arg: '<n>' }),
  logEvery: key(posInt.default(50), 'iterations between metrics.jsonl lines', { arg: '<n>' }),
  evalSamples: key(posInt.default(2500), 'samples for the final metrics (2-D data) and for each --eval-every score (images)', { arg: '<n>' }),
  evalEvery: key(posInt.optional(), 'images: score the run every N iterations with --classifier (classifier-FID, KID, precision / recall, density / coverage, Inception Score; TensorBoard and evals.jsonl)', { arg: '<n>' }),
  classifier: key(z.string().min(1).optional(), 'the scoring classifier for --eval-every (onnx-gan train-classifier makes it)', { arg: '<file>' }),
  onDivergence: key(z.enum(['stop', 'rollback']).default('stop'), 'on a non-finite loss or parameter: stop, or roll back to the last checkpoint with lower learning rates', { arg: '<what>' }),
  maxRollbacks: key(posInt.default(3), 'rollbacks before giving up', { arg: '<n>' }),
  rollbackLrScale: key(z.number().gt(0).lt(1).default(0.5), 'learning rates are multiplied by this at each rollback', { arg: '<x>' }),
  threads: key(posInt.default(1), 'onnxruntime intra-op threads', { arg: '<n>' }),
  // Measured on 2 cores: ResNet-32 1.8x faster per iteration with 2 shards than one process at 1 thread.
  shards: key(posInt.max(64).default(1), 'data parallel (CPU): split each step\'s batch over n processes, one gradient each, their mean applied (batch norm then normalizes each shard; no fused runs)', { arg: '<n>' }),
  ep: key(z.enum(NODE_EPS).default('cpu'), 'execution provider: cpu, cuda (its libraries installed), webgpu (the GPU through Vulkan/D3D12/Metal; state stays on the device)', { arg: '<name>' }),
  // Fewer runs means fewer copies in and out: 1.25x faster on 2 CPU cores (measured), and the lever on GPUs.
  fuse: key(z.number().int().nonnegative().default(10), 'iterations per session run in one ONNX Loop; 0 runs each step on its own', { arg: '<k>' }),
  out: key(z.string().min(1).optional(), 'run directory (default runs/<data>-<loss>[-<divergence>]-s<seed>)', { arg: '<dir>' }),
} satisfies Record<string, KeyDef>;

export type ConfigKey = keyof typeof CONFIG_KEYS;
const KEYS = Object.keys(CONFIG_KEYS) as ConfigKey[];

export const ConfigSchema = z.object(Object.fromEntries(KEYS.map((k) => [k, CONFIG_KEYS[k].schema])) as { [K in ConfigKey]: (typeof CONFIG_KEYS)[K]['schema'] }).strict();

export type Config = z.infer<typeof ConfigSchema>;

/** Validate; the error is one line naming the key and what is wrong with it. */
export function parseConfig(raw: unknown, source = 'config'): Config {
  const r = ConfigSchema.safeParse(withProtocol(raw));
  if (r.success) return r.data as Config;
  const issue = r.error.issues[0];
  const key = issue.path.join('.') || (issue.code === 'unrecognized_keys' ? (issue as { keys: string[] }).keys.join(', ') : '');
  let got: unknown = raw;
  for (const k of issue.path) got = got && typeof got === 'object' ? (got as Record<PropertyKey, unknown>)[k as PropertyKey] : undefined;
  const shown = issue.path.length && got !== undefined ? ` (got ${JSON.stringify(got)})` : '';
  const unknown = issue.code === 'unrecognized_keys' ? (issue as { keys: string[] }).keys : [];
  const hints = unknown.map((k) => [k, suggestKey(k)]).filter(([, s]) => s).map(([k, s]) => (unknown.length === 1 ? `'${s}'` : `'${s}' for '${k}'`));
  const hint = hints.length ? ` (did you mean ${hints.join(', ')}?)` : '';
  throw new Error(`${source}: ${key ? `'${key}': ` : ''}${issue.message}${shown}${hint}`);
}

/** The config key an unknown one was probably meant to be: its camelCase (n_critic, n-critic), or one or two edits away. */
export function suggestKey(k: string): string | null {
  const camel = k.replace(/[_-]+([a-z0-9])/gi, (_, c: string) => c.toUpperCase());
  if (KEYS.includes(camel as ConfigKey)) return camel;
  let best: [string, number] | null = null;
  for (const key of KEYS) {
    const d = editDistance(k.toLowerCase(), key.toLowerCase());
    if (d <= Math.min(2, Math.floor(key.length / 3)) && (!best || d < best[1])) best = [key, d];
  }
  return best?.[0] ?? null;
}

/** Levenshtein distance, for suggestions only. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length];
}

/** A protocol's settings under the ones given (an unknown protocol is left for the schema to name). */
function withProtocol(raw: unknown): unknown {
  if (!raw || typeof raw !== 'object') return raw;
  const p = (raw as { protocol?: unknown }).protocol;
  const preset = typeof p === 'string' && Object.hasOwn(PROTOCOLS, p) ? PROTOCOLS[p as keyof typeof PROTOCOLS].settings : null;
  return preset ? { ...structuredClone(preset), ...Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined)) } : raw;
}

/** A config's JSON text (a file's, a job's), validated. */
export const parseConfigText = (text: string, source: string): Config => parseConfig(jsonObject(text, source), source);

/** The settings that define the model and its training; a checkpoint only resumes a run with equal ones. */
export const modelIdentity = (c: Config): string => JSON.stringify(identityOf(c));

const identityOf = (c: Config) => Object.fromEntries(KEYS.filter((k) => CONFIG_KEYS[k].identity).map((k) => [k, c[k]]));

/** The first identity setting whose value differs, with both values and its flag; null when none does. */
export function identityDiff(before: Config, now: Config): { key: ConfigKey; flag: string; before: unknown; now: unknown } | null {
  const d = identityDifference(identityOf(before), identityOf(now));
  return d && { ...d, key: d.key as ConfigKey, flag: flagOf(d.key) };
}

/** The default --out of a run: its data set, loss (with the f-GAN divergence) and seed. */
export function defaultOut(c: Config): string {
  const data = c.data.replace(/\/+$/, '').split('/').pop()!.replace(/\.gz$/, '');
  return `runs/${data}-${c.loss}${c.divergence ? `-${c.divergence}` : ''}-s${c.seed}`;
}

// ---- the command line, from the same table ------------------------------------------------------------

export const flagOf = (k: string) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
