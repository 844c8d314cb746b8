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
