// Named model setups shared by the CLI, the benchmark, the sweep and the tests.
import { buildLoss, lossEntry, type LossSettings } from '../losses/index.ts';
import { dcganCritic, dcganGenerator, type CriticNorm } from '../models/dcgan.ts';
import { mlp } from '../models/mlp.ts';
import { spectralNorm } from '../models/spectral.ts';
import type { Model } from '../models/model.ts';
import type { OptimizerName } from '../training/optim.ts';
import type { GanSetup } from '../training/step.ts';

export interface MlpGanOptions extends LossSettings {
  loss: string;
  latent?: number;
  hidden?: number[];
  batch?: number;
  optimizer?: OptimizerName;
  lr?: number;
  betas?: [number, number];
  sampleDims?: number;
}

/** The 2-D architecture: G z-128-128-2 (ReLU), D 2-128-128-1 (LeakyReLU 0.2); the loss's paper defaults. */
export function mlpGan(o: MlpGanOptions): GanSetup & { warnings: string[]; spectralNorm: boolean } {
  const hidden = o.hidden ?? [128, 128];
  const dims = o.sampleDims ?? 2;
  const critic = mlp({ widths: [dims, ...hidden, 1], activation: 'leaky_relu', alpha: 0.2, prefix: 'D' });
  const generator = mlp({ widths: [o.latent ?? 16, ...hidden, dims], activation: 'relu', prefix: 'G' });
  return assemble(o, generator, () => critic, 256);
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
    warnings: built.warnings,
    spectralNorm: built.spectralNorm,
  };
}

export interface DcganGanOptions extends Omit<MlpGanOptions, 'hidden' | 'sampleDims'> {
  /** [C, S, S] with S in 28, 32, 64. */
  image: number[];
  width?: number;
  norm?: CriticNorm;
}

/** DCGAN generator and critic for the image shape; the loss's paper defaults; spectral norm implies no other norm. */
export function dcganGan(o: DcganGanOptions): GanSetup & { warnings: string[]; spectralNorm: boolean } {
  const width = o.width ?? 32;
  const critic = (sn: boolean) => dcganCritic({ image: o.image, width, norm: sn ? 'none' : (o.norm ?? 'layer') });
  return assemble(o, dcganGenerator({ image: o.image, width, latent: o.latent ?? 100 }), critic, 64);
}
