// The classic objectives, on critic logits. Sources: Goodfellow et al. 2014 (minimax, non-saturating),
// Arjovsky et al. 2017 (WGAN).
import { add, mean, neg, softplus, sub } from '../graph/ops.ts';
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
 * Wasserstein objective (Arjovsky et al. 2017), to be paired with a Lipschitz constraint
 * (weight clipping, a gradient penalty, spectral norm):
 *   L_D = E[D(G(z))] - E[D(x)];  L_G = -E[D(G(z))]
 */
export const wasserstein = (): GanLoss => ({
  name: 'wgan',
  critic: ({ dReal, dFake }) => {
    const wdist = sub(mean(dReal), mean(dFake));
    return { loss: neg(wdist), terms: { wdist } };
  },
  generator: ({ dFake }) => ({ loss: neg(mean(dFake)) }),
});
