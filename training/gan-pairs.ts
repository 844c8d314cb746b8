// The generator / critic pairs the CLI, the benchmark, the sweep and the tests train: the 2-D MLP and
// PacGAN pairs and the DCGAN and SNGAN ResNet image pairs, each with its loss (penalties, clipping,
// spectral norm) and optimizers at the loss's paper defaults; and the memory a step of one needs.
import { buildLoss, lossEntry, type LossSettings } from '../losses/index.ts';
import { dcganCritic, dcganGenerator, type CriticNorm } from '../models/dcgan.ts';
import { resnetCritic, resnetGenerator } from '../models/resnet.ts';
import { mlp } from '../models/mlp.ts';
import { pacganCritic, pacganGenerator } from '../models/pacgan.ts';
import { spectralNorm } from '../models/spectral.ts';
import type { Model } from '../models/model.ts';
import type { ConditionalOptions } from '../models/conditioning.ts';
import type { OptimizerName } from './optim.ts';
import { totalmem } from 'node:os';
import { Graph } from '../graph/ir.ts';
import type { GanSetup } from './step.ts';

export interface MlpGanOptions extends LossSettings {
  loss: string;
  latent?: number;
  hidden?: number[];
  batch?: number;
  optimizer?: OptimizerName;
  lr?: number;
  betas?: [number, number];
  sampleDims?: number;
  /** PacGAN packing: samples per critic input. */
  pack?: number;
}

/** The 2-D architecture: G z-128-128-2 (ReLU), D 2-128-128-1 (LeakyReLU 0.2); the loss's paper defaults. */
export function mlpGan(o: MlpGanOptions): GanSetup & { warnings: string[]; spectralNorm: boolean } {
  const hidden = o.hidden ?? [128, 128];
  const dims = o.sampleDims ?? 2;
  const critic = mlp({ widths: [dims * (o.pack ?? 1), ...hidden, 1], activation: 'leaky_relu', alpha: 0.2, prefix: 'D' });
  const generator = mlp({ widths: [o.latent ?? 16, ...hidden, dims], activation: 'relu', prefix: 'G' });
  return assemble(o, generator, () => critic, 256);
}

/** PacGAN's 2-D pair (models/pacgan.ts): G z-400x4-2 with batch norm, three maxout layers in the critic. */
export function pacganGan(o: MlpGanOptions): GanSetup & { warnings: string[]; spectralNorm: boolean } {
  const dims = o.sampleDims ?? 2;
  const generator = pacganGenerator({ latent: o.latent ?? 2, sampleDims: dims });
  return assemble(o, generator, () => pacganCritic({ pack: o.pack, sampleDims: dims }), 100);
}

/**
 * The loss (with its penalties, clipping and spectral norm) and the optimizers around two networks; the
 * critic is made knowing whether spectral norm will wrap it (which rules out any other normalization).
 */
function assemble(o: MlpGanOptions, generator: Model, makeCritic: (spectralNorm: boolean) => Model, defaultBatch: number): GanSetup & { warnings: string[]; spectralNorm: boolean } {
  const d = lossEntry(o.loss).defaults;
  const built = buildLoss(o.loss, o);
  const opt = { name: o.optimizer ?? d.optimizer, lr: o.lr ?? d.lr, betas: o.betas ?? d.betas };
  const critic = makeCritic(built.spectralNorm);
  return {
    generator,
    critic: built.spectralNorm ? spectralNorm(critic) : critic,
    loss: built.loss,
    penalties: built.penalties,
    optD: { ...opt, clip: built.clip },
    optG: opt,
    batch: o.batch ?? defaultBatch,
    pack: o.pack ?? 1,
    warnings: built.warnings,
    spectralNorm: built.spectralNorm,
  };
}

export interface DcganGanOptions extends Omit<MlpGanOptions, 'hidden' | 'sampleDims'>, ConditionalOptions {
  /** [C, S, S], S one of the built-in models' IMAGE_SIZES. */
  image: number[];
  width?: number;
  norm?: CriticNorm;
}

/** DCGAN generator and critic for the image shape; the loss's paper defaults; spectral norm implies no other norm. */
export function dcganGan(o: DcganGanOptions): GanSetup & { warnings: string[]; spectralNorm: boolean } {
  const width = o.width ?? 32;
  const cond = { classes: o.classes, conditioning: o.conditioning };
  const critic = (sn: boolean) => dcganCritic({ image: packedImage(o), width, norm: sn ? 'none' : (o.norm ?? 'layer'), ...cond });
  return assemble(o, dcganGenerator({ image: o.image, width, latent: o.latent ?? 100, ...cond }), critic, 64);
}

/**
 * The SNGAN / Mimicry ResNet pair for the image shape; the critic has no normalization (spectral norm
 * wraps it for sngan), so --norm does not apply.
 */
export function resnetGan(o: DcganGanOptions): GanSetup & { warnings: string[]; spectralNorm: boolean } {
  const width = o.width ?? 64;
  const cond = { classes: o.classes, conditioning: o.conditioning };
  const setup = assemble(o, resnetGenerator({ image: o.image, width, latent: o.latent ?? 128, ...cond }), () => resnetCritic({ image: packedImage(o), width, ...cond }), 64);
  if (o.norm && o.norm !== 'none') setup.warnings.push(`--norm ${o.norm} does not apply to the ResNet critic, which has no normalization layers`);
  return setup;
}

/** The critic's input when it judges `pack` images at once: their channels side by side. */
const packedImage = (o: DcganGanOptions) => [o.image[0] * (o.pack ?? 1), ...o.image.slice(1)];

/**
 * Settings that cannot fit are refused before anything is allocated. The estimate counts what one training
 * step holds: parameters with their optimizer slots in and out, activations of both networks (forward,
 * backward and a penalty's double backward: 6 per sample), and the host's draws (a fused block stacks them).
 */
export function checkFits(setup: GanSetup, cfg: { fuse: number }, nCritic: number, available = totalmem()): void {
  const params = [setup.generator, setup.critic].reduce((a, m) => a + m.params.reduce((s, p) => s + p.shape.reduce((x, y) => x * y, 1), 0), 0);
  const slots = 2;
  const perSample = activationsPerSample(setup.generator) + activationsPerSample(setup.critic);
  const latent = setup.generator.inputShape.reduce((a, b) => a * b, 1);
  const sample = setup.critic.inputShape.reduce((a, b) => a * b, 1);
  const block = cfg.fuse > 1 ? cfg.fuse * (nCritic + 1) : 1;
  const bytes = { parameters: 4 * params * (3 + 2 * slots), activations: 4 * 6 * setup.batch * perSample, draws: 4 * 2 * block * setup.batch * (latent + sample) };
  const total = bytes.parameters + bytes.activations + bytes.draws;
  if (total <= 0.8 * available) return;
  const gb = (b: number) => `${(b / 2 ** 30).toFixed(b < 2 ** 33 ? 1 : 0)} GiB`;
  const parts = Object.entries(bytes).map(([k, v]) => `${k} ${gb(v)}`).join(', ');
  throw new Error(`these settings do not fit: one training step needs about ${gb(total)} (${parts}; batch ${setup.batch}, latent ${latent}, ${params.toLocaleString('en')} parameters), this machine has ${gb(available)}`);
}

/** Sum of the sizes of every value a network's forward pass makes for one sample (shapes only, no data). */
function activationsPerSample(model: Model): number {
  const g = new Graph('estimate');
  const x = g.input('x', 'float32', [1, ...model.inputShape]);
  const p = Object.fromEntries(model.params.map((s) => [s.name, g.input(`p.${s.name}`, 'float32', s.shape)]));
  const state = (n: string) => g.input(`s.${n}.${g.nodes.length}`, 'float32', model.states?.find((s) => s.name === n)?.shape ?? null);
  const prepared = model.prepare ? model.prepare(p, state, () => {}, false) : p;
  const labels = model.classes ? g.input('labels', 'int64', [1]) : undefined;
  model.forward(x, prepared, { training: true, state, setState: () => {} }, labels);
  let n = 0;
  for (const node of g.nodes) for (const o of node.outputs) if (o.shape?.every((d) => typeof d === 'number')) n += (o.shape as number[]).reduce((a, b) => a * b, 1);
  return n;
}
