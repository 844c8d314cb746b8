// The run configuration: one schema for config files and CLI flags (flags override the file).
// Unknown keys are rejected, every value is checked, and errors name the key at fault.
import { z } from 'zod';
import { DIVERGENCES, LOSSES } from '../losses/index.ts';
import { PENALTIES } from '../losses/penalties.ts';

const names = (r: Record<string, unknown>) => Object.keys(r) as [string, ...string[]];
const posInt = z.number().int().positive();

export const ConfigSchema = z
  .object({
    /** ring8 | grid25 | fashion-mnist | an IDX file (.gz or not) | a folder of PNG images. */
    data: z.string().min(1).default('ring8'),
    loss: z.enum(names(LOSSES)).default('wgan-gp'),
    /** Penalty weight (gamma for R1/R2); the loss's paper default when absent. */
    lambda: z.number().nonnegative().optional(),
    /** A gradient penalty to use instead of the loss's own; 'none' for none. */
    penalty: z.enum(['none', ...Object.keys(PENALTIES)] as [string, ...string[]]).optional(),
    /** LSGAN targets a (fake), b (real), c (generator). */
    ls: z.tuple([z.number(), z.number(), z.number()]).optional(),
    /** f-GAN divergence. */
    divergence: z.enum(Object.keys(DIVERGENCES) as [string, ...string[]]).optional(),
    /** Fisher GAN's rho. */
    rho: z.number().positive().optional(),
    /** Clip critic weights to [-clip, clip] after each update. */
    clip: z.number().positive().optional(),
    /** Spectral normalization of the critic's weight matrices. */
    spectralNorm: z.boolean().optional(),
    /** WGAN's schedule: 100 critic steps for the first 25 generator steps and every 500th. */
    wganSchedule: z.boolean().default(false),
    iterations: posInt.default(5000),
    /** Defaults: 256 for 2-D data, 64 for images (DCGAN). */
    batch: posInt.optional(),
    /** Defaults: 16 for 2-D data, 100 for images (DCGAN). */
    latent: posInt.optional(),
    hidden: z.array(posInt).min(1).default([128, 128]),
    /** DCGAN: channels of the layers next to the image (2x, 4x inward); 32 by default (CPU budgets). */
    width: posInt.optional(),
    /** DCGAN critic normalization (never batch norm: penalties are per sample); spectral norm implies none. */
    norm: z.enum(['layer', 'instance', 'none']).optional(),
    /** Images: a PNG grid of samples from fixed noise every N iterations (and at the end). */
    sampleEvery: posInt.default(500),
    /** ONNX files to train instead of the built-in MLPs (their float initializers become parameters). */
    generator: z.string().min(1).optional(),
    critic: z.string().min(1).optional(),
    /** Regular expression over initializer names: those stay frozen. */
    freeze: z.string().min(1).optional(),
    optimizer: z.enum(['adam', 'rmsprop', 'sgd']).optional(),
    lr: z.number().positive().optional(),
    betas: z.tuple([z.number().min(0).lt(1), z.number().min(0).lt(1)]).optional(),
    nCritic: posInt.optional(),
    seed: z.number().int().nonnegative().default(0),
    checkpointEvery: posInt.default(1000),
    keepCheckpoints: posInt.default(3),
    logEvery: posInt.default(50),
    evalSamples: posInt.default(2500),
    /** On a non-finite loss or parameter: stop, or roll back to the last good checkpoint with a lower lr. */
    onDivergence: z.enum(['stop', 'rollback']).default('stop'),
    maxRollbacks: posInt.default(3),
    /** Learning rates are multiplied by this at each rollback. */
    rollbackLrScale: z.number().gt(0).lt(1).default(0.5),
    threads: posInt.default(1),
    ep: z.enum(['cpu', 'cuda']).default('cpu'),
    /**
     * Iterations per session run in one ONNX Loop; 0 runs each step on its own. Fewer runs means fewer
     * copies in and out: 1.25x faster on 2 CPU cores (measured), and the lever on GPUs.
     */
    fuse: z.number().int().nonnegative().default(10),
  })
  .strict();

export type Config = z.infer<typeof ConfigSchema>;

/** Validate; the error is one line naming the key and what is wrong with it. */
export function parseConfig(raw: unknown, source = 'config'): Config {
  const r = ConfigSchema.safeParse(raw);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const key = issue.path.join('.') || (issue.code === 'unrecognized_keys' ? (issue as { keys: string[] }).keys.join(', ') : '');
  let got: unknown = raw;
  for (const k of issue.path) got = got && typeof got === 'object' ? (got as Record<PropertyKey, unknown>)[k as PropertyKey] : undefined;
  const shown = issue.path.length && got !== undefined ? ` (got ${JSON.stringify(got)})` : '';
  throw new Error(`${source}: ${key ? `'${key}': ` : ''}${issue.message}${shown}`);
}

/** A config file's text: a JSON object, validated. */
export function parseConfigText(text: string, source: string): Config {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`${source} is not JSON: ${(e as Error).message.split('\n')[0]}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${source} is not a JSON object`);
  return parseConfig(v, source);
}

/** The settings that define the model and its training; a checkpoint only resumes a run with equal ones. */
export function modelIdentity(c: Config): string {
  const { data, loss, lambda, penalty, ls, divergence, rho, clip, spectralNorm, wganSchedule, batch, latent, hidden, width, norm, generator, critic, freeze, optimizer, lr, betas, nCritic, seed } = c;
  return JSON.stringify({ data, loss, lambda, penalty, ls, divergence, rho, clip, spectralNorm, wganSchedule, batch, latent, hidden, width, norm, generator, critic, freeze, optimizer, lr, betas, nCritic, seed });
}
