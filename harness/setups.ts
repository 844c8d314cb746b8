// Named model setups shared by the CLI, the benchmark and the tests.
import { lossEntry } from '../losses/index.ts';
import { mlp } from '../models/mlp.ts';
import type { GanSetup } from '../training/step.ts';

export interface MlpGanOptions {
  loss: string;
  lambda?: number;
  latent?: number;
  hidden?: number[];
  batch?: number;
  lr?: number;
  betas?: [number, number];
  sampleDims?: number;
}

/** The 2-D benchmark architecture: G z-128-128-2 (ReLU), D 2-128-128-1 (LeakyReLU 0.2). */
export function mlpGan(o: MlpGanOptions): GanSetup {
  const entry = lossEntry(o.loss);
  const { loss, penalties } = entry.build({ lambda: o.lambda });
  const hidden = o.hidden ?? [128, 128];
  const dims = o.sampleDims ?? 2;
  const d = entry.defaults;
  const opt = { name: d.optimizer, lr: o.lr ?? d.lr, betas: o.betas ?? d.betas, clip: undefined };
  return {
    generator: mlp({ widths: [o.latent ?? 16, ...hidden, dims], activation: 'relu', prefix: 'G' }),
    critic: mlp({ widths: [dims, ...hidden, 1], activation: 'leaky_relu', alpha: 0.2, prefix: 'D' }),
    loss,
    penalties,
    optD: { ...opt, clip: d.clip },
    optG: opt,
    batch: o.batch ?? 256,
  };
}
