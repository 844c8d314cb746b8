// The classic objectives, on critic logits D(x). Sources: Goodfellow et al. 2014 (minimax, non-saturating),
// Arjovsky et al. 2017 (WGAN), Mao et al. 2017 (LSGAN), Lim & Ye 2017 and Miyato et al. 2018 (hinge).
import { add, mean, mul, neg, relu, softplus, square, sub } from '../graph/ops.ts';
import type { GanLoss } from './loss.ts';

/**
 * Non-saturating GAN (Goodfellow et al. 2014, sec. 3):
 *   L_D = E[softplus(-D(x))] + E[softplus(D(G(z)))]     (= -E log s(D(x)) - E log(1 - s(D(G(z)))))
 *   L_G = E[softplus(-D(G(z)))]                          (= -E log s(D(G(z))))
 */
export const nonSaturating = (): GanLoss => ({
  name: 'ns',
  critic: ({ dReal, dFake }) => ({ loss: add(mean(softplus(neg(dReal))), mean(softplus(dFake))) }),
  generator: ({ dFake }) => ({ loss: mean(softplus(neg(dFake))) }),
});

/**
 * Minimax (saturating) GAN, the original objective:
 *   L_D as above;  L_G = E[log(1 - s(D(G(z))))] = -E[softplus(D(G(z)))]
 */
export const minimax = (): GanLoss => ({
  name: 'minimax',
  critic: nonSaturating().critic,
  generator: ({ dFake }) => ({ loss: neg(mean(softplus(dFake))) }),
});

/**
 * Wasserstein objective (Arjovsky et al. 2017). Meant for a Lipschitz critic (weight clipping, a gradient
 * penalty, spectral norm); without any constraint it is the plain mean difference (`meandiff`), kept as an
 * explicit baseline: nothing bounds the critic, so it usually diverges.
 *   L_D = E[D(G(z))] - E[D(x)];  L_G = -E[D(G(z))]
 */
export const wasserstein = (name = 'wgan'): GanLoss => ({
  name,
  critic: ({ dReal, dFake }) => {
    const wdist = sub(mean(dReal), mean(dFake));
    return { loss: neg(wdist), terms: { wdist } };
  },
  generator: ({ dFake }) => ({ loss: neg(mean(dFake)) }),
});

/**
 * Least squares GAN (Mao et al. 2017, eq. 2), targets a (fake), b (real), c (what G wants D to say):
 *   L_D = 1/2 E[(D(x) - b)^2] + 1/2 E[(D(G(z)) - a)^2];  L_G = 1/2 E[(D(G(z)) - c)^2]
 * (0, 1, 1) by default; (-1, 1, 0) is the paper's other choice.
 */
export const leastSquares = (a = 0, b = 1, c = 1): GanLoss => ({
  name: 'lsgan',
  critic: ({ dReal, dFake }) => ({ loss: mul(add(mean(square(sub(dReal, b))), mean(square(sub(dFake, a)))), 0.5) }),
  generator: ({ dFake }) => ({ loss: mul(mean(square(sub(dFake, c))), 0.5) }),
});

/**
 * Hinge loss (Geometric GAN, Lim & Ye 2017; SN-GAN, Miyato et al. 2018):
 *   L_D = E[relu(1 - D(x))] + E[relu(1 + D(G(z)))];  L_G = -E[D(G(z))]
 */
export const hinge = (): GanLoss => ({
  name: 'hinge',
  critic: ({ dReal, dFake }) => ({ loss: add(mean(relu(sub(1, dReal))), mean(relu(add(1, dFake)))) }),
  generator: ({ dFake }) => ({ loss: neg(mean(dFake)) }),
});
