// The loss registry: names as the CLI and config files spell them, each with its paper's defaults
// (docs/anchors.md). Any penalty combines with any loss.
import type { GanLoss, Penalty } from './loss.ts';
import { DIVERGENCES, fgan, isDivergence } from './fgan.ts';
import { fisher } from './fisher.ts';
import { lecam } from './lecam.ts';
import { isPenalty, PENALTIES } from './penalties.ts';
import { rahinge, ralsgan, rasgan, rsgan } from './relativistic.ts';
import { hinge, leastSquares, minimax, nonSaturating, wasserstein } from './standard.ts';

export type { GanLoss, LossContext, Objective, Penalty, RandomDist } from './loss.ts';
export { DIVERGENCES, isDivergence } from './fgan.ts';

export interface LossSettings {
  /** Penalty weight (lambda; gamma for R1/R2). */
  lambda?: number;
  /** A penalty instead of the loss's own ('none' for no penalty). */
  penalty?: string;
  /** LSGAN targets (a, b, c). */
  ls?: [number, number, number];
  /** f-GAN divergence. */
  divergence?: string;
  /** Fisher GAN's augmented-Lagrangian rho. */
  rho?: number;
  /** Weight clipping of the critic after each update. */
  clip?: number;
  /** Spectral normalization of the critic's layers. */
  spectralNorm?: boolean;
  /** LeCam regularization's weight, beside any penalty (losses/lecam.ts). */
  lecam?: number;
}

export interface LossDefaults {
  optimizer: 'adam' | 'rmsprop' | 'sgd';
  lr: number;
  betas?: [number, number];
  nCritic: number;
  clip?: number;
  penalty?: string;
  lambda?: number;
  spectralNorm?: boolean;
}

export interface LossEntry {
  describe: string;
  build(s: LossSettings): GanLoss;
  defaults: LossDefaults;
  /** Settings the loss cannot do without. */
  needs?: (keyof LossSettings)[];
  /** Overrides for 2-D toy data, where the paper's reference code uses other settings. */
  toy2d?: { lambda?: number };
}

const ADAM_GAN: LossDefaults = { optimizer: 'adam', lr: 2e-4, betas: [0.5, 0.999], nCritic: 1 };
const WGAN_GP: LossDefaults = { optimizer: 'adam', lr: 1e-4, betas: [0.5, 0.9], nCritic: 5 };

export const LOSSES = {
  ns: { describe: 'non-saturating GAN (Goodfellow et al. 2014)', build: nonSaturating, defaults: ADAM_GAN },
  minimax: { describe: 'minimax (saturating) GAN (Goodfellow et al. 2014)', build: minimax, defaults: ADAM_GAN },
  meandiff: { describe: 'E[D(x)] - E[D(G(z))] with no constraint: an unbounded baseline', build: () => wasserstein('meandiff'), defaults: WGAN_GP },
  lsgan: { describe: 'least squares GAN (Mao et al. 2017), targets --ls a,b,c', build: (s) => leastSquares(...(s.ls ?? [0, 1, 1])), defaults: ADAM_GAN },
  wgan: {
    describe: 'WGAN with weight clipping (Arjovsky et al. 2017)',
    build: () => wasserstein(),
    defaults: { optimizer: 'rmsprop', lr: 5e-5, nCritic: 5, clip: 0.01 },
  },
  'wgan-gp': {
    describe: 'WGAN with two-sided gradient penalty (Gulrajani et al. 2017)',
    build: () => wasserstein(),
    defaults: { ...WGAN_GP, penalty: 'gp', lambda: 10 },
    // igul222/improved_wgan_training, gan_toy.py: LAMBDA = .1 for the 2-D toy data sets.
    toy2d: { lambda: 0.1 },
  },
  'wgan-lp': {
    describe: 'WGAN with one-sided (Lipschitz) penalty (Petzka et al. 2018)',
    build: () => wasserstein(),
    defaults: { ...WGAN_GP, penalty: 'lp', lambda: 10 },
    toy2d: { lambda: 0.1 },
  },
  dragan: {
    describe: 'non-saturating GAN with the DRAGAN penalty near real data (Kodali et al. 2017)',
    build: nonSaturating,
    defaults: { optimizer: 'adam', lr: 1e-4, betas: [0.5, 0.9], nCritic: 1, penalty: 'dragan', lambda: 10 },
  },
  r1: { describe: 'non-saturating GAN with R1 on real data (Mescheder et al. 2018)', build: nonSaturating, defaults: { ...ADAM_GAN, penalty: 'r1', lambda: 10 } },
  r2: { describe: 'non-saturating GAN with R2 on generated data (Mescheder et al. 2018)', build: nonSaturating, defaults: { ...ADAM_GAN, penalty: 'r2', lambda: 10 } },
  hinge: { describe: 'hinge loss (Lim & Ye 2017)', build: hinge, defaults: { optimizer: 'adam', lr: 2e-4, betas: [0, 0.9], nCritic: 5 } },
  sngan: {
    describe: 'hinge loss with a spectrally normalized critic (Miyato et al. 2018)',
    build: hinge,
    defaults: { optimizer: 'adam', lr: 2e-4, betas: [0, 0.9], nCritic: 5, spectralNorm: true },
  },
  rsgan: { describe: 'relativistic standard GAN (Jolicoeur-Martineau 2019)', build: rsgan, defaults: ADAM_GAN },
  rasgan: { describe: 'relativistic average standard GAN', build: rasgan, defaults: ADAM_GAN },
  ralsgan: { describe: 'relativistic average least squares GAN', build: ralsgan, defaults: ADAM_GAN },
  rahinge: { describe: 'relativistic average hinge GAN', build: rahinge, defaults: ADAM_GAN },
  fisher: {
    describe: 'Fisher GAN, augmented Lagrangian on second moments (Mroueh & Sercu 2017)',
    build: (s) => fisher(s.rho ?? 1e-6),
    defaults: { optimizer: 'adam', lr: 2e-4, betas: [0.5, 0.999], nCritic: 2 },
  },
  fgan: {
    describe: `f-GAN (Nowozin et al. 2016), --divergence ${Object.keys(DIVERGENCES).join('|')}`,
    build: (s) => fgan(s.divergence!),
    defaults: ADAM_GAN,
    needs: ['divergence'],
  },
} satisfies Record<string, LossEntry>;

export const isLoss = (name: string): name is keyof typeof LOSSES => Object.hasOwn(LOSSES, name);

export function lossEntry(name: string): LossEntry {
  const e: LossEntry | undefined = isLoss(name) ? LOSSES[name] : undefined;
  if (!e) throw new Error(`unknown loss '${name}'; valid losses: ${Object.keys(LOSSES).join(', ')}`);
  return e;
}

export interface BuiltLoss {
  loss: GanLoss;
  penalties: Penalty[];
  clip?: number;
  spectralNorm: boolean;
  /** Combinations papers do use but that deserve a word. */
  warnings: string[];
}

/** The loss with its penalty, clipping and spectral norm resolved; refuses what cannot work, saying why. */
export function buildLoss(name: string, s: LossSettings = {}): BuiltLoss {
  const e = lossEntry(name);
  for (const k of e.needs ?? []) if (s[k] === undefined) throw new Error(`loss '${name}' needs --${k}${k === 'divergence' ? ` (${Object.keys(DIVERGENCES).join(', ')})` : ''}`);
  if (s.divergence !== undefined && !isDivergence(s.divergence)) throw new Error(`unknown f-divergence '${s.divergence}'; valid: ${Object.keys(DIVERGENCES).join(', ')}`);
  const penaltyName = s.penalty ?? e.defaults.penalty ?? 'none';
  if (penaltyName !== 'none' && !isPenalty(penaltyName)) throw new Error(`unknown penalty '${penaltyName}'; valid penalties: none, ${Object.keys(PENALTIES).join(', ')}`);
  const clip = s.clip ?? e.defaults.clip;
  const spectralNorm = s.spectralNorm ?? e.defaults.spectralNorm ?? false;
  if (clip !== undefined && penaltyName !== 'none')
    throw new Error(
      `weight clipping (loss '${name}'${s.clip !== undefined ? ', --clip' : ''}) cannot be combined with the '${penaltyName}' penalty: both bound the critic's Lipschitz constant, and clipping biases the penalized critic (Gulrajani et al. 2017, sec. 3); choose one`,
    );
  const warnings: string[] = [];
  if (spectralNorm && penaltyName !== 'none') warnings.push(`spectral norm together with the '${penaltyName}' penalty: both constrain the critic (some papers combine them)`);
  const penalties = penaltyName === 'none' || !isPenalty(penaltyName) ? [] : [PENALTIES[penaltyName](s.lambda ?? e.defaults.lambda)];
  if (s.lecam !== undefined) penalties.push(lecam(s.lecam));
  return { loss: e.build(s), penalties, clip, spectralNorm, warnings };
}
