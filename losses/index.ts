// The loss registry: names as the CLI and config files spell them.
import type { GanLoss, Penalty } from './loss.ts';
import { gradientPenalty } from './penalties.ts';
import { minimax, nonSaturating, wasserstein } from './standard.ts';

export type { GanLoss, LossContext, Objective, Penalty, RandomDist } from './loss.ts';

export interface LossSettings {
  lambda?: number;
}

export interface LossEntry {
  describe: string;
  build(s: LossSettings): { loss: GanLoss; penalties: Penalty[] };
  /** The paper's optimizer and schedule for this loss. */
  defaults: { optimizer: 'adam' | 'rmsprop' | 'sgd'; lr: number; betas?: [number, number]; nCritic: number; clip?: number };
  /** Overrides for 2-D toy data, where the paper's reference code uses other settings. */
  toy2d?: { lambda?: number };
}

export const LOSSES: Record<string, LossEntry> = {
  ns: {
    describe: 'non-saturating GAN (Goodfellow et al. 2014)',
    build: () => ({ loss: nonSaturating(), penalties: [] }),
    defaults: { optimizer: 'adam', lr: 2e-4, betas: [0.5, 0.999], nCritic: 1 },
  },
  minimax: {
    describe: 'minimax (saturating) GAN (Goodfellow et al. 2014)',
    build: () => ({ loss: minimax(), penalties: [] }),
    defaults: { optimizer: 'adam', lr: 2e-4, betas: [0.5, 0.999], nCritic: 1 },
  },
  'wgan-gp': {
    describe: 'Wasserstein loss with two-sided gradient penalty (Gulrajani et al. 2017)',
    build: (s) => ({ loss: wasserstein(), penalties: [gradientPenalty(s.lambda ?? 10)] }),
    defaults: { optimizer: 'adam', lr: 1e-4, betas: [0.5, 0.9], nCritic: 5 },
    // igul222/improved_wgan_training, gan_toy.py: LAMBDA = .1 for the 2-D toy data sets.
    toy2d: { lambda: 0.1 },
  },
};

export function lossEntry(name: string): LossEntry {
  const e = LOSSES[name];
  if (!e) throw new Error(`unknown loss '${name}'; valid losses: ${Object.keys(LOSSES).join(', ')}`);
  return e;
}
