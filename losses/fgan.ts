// f-GAN (Nowozin, Cseke & Tomioka 2016): the critic's raw output v goes through an output activation
// g_f into the domain of the conjugate f*, and the critic maximises E_P[g_f(v)] - E_Q[f*(g_f(v))].
// The generator maximises E_Q[g_f(v)] (the paper's sec. 3.2 alternative, like the non-saturating GAN).
// Table 6 of the paper; each f*(g_f(v)) is written in the closed form it simplifies to, which is exact and
// stable (for example Jensen-Shannon: -log(2 - exp(log 2 - softplus(-v))) = softplus(v) - log 2).
import type { Value } from '../graph/ir.ts';
import { exp, mean, mul, neg, softplus, square, sub, add } from '../graph/ops.ts';
import type { GanLoss } from './loss.ts';

interface Divergence {
  /** g_f(v) */
  act(v: Value): Value;
  /** f*(g_f(v)) */
  conj(v: Value): Value;
}

export const DIVERGENCES = {
  // KL: g = v, f*(t) = exp(t - 1)
  kl: { act: (v) => v, conj: (v) => exp(sub(v, 1)) },
  // reverse KL: g = -exp(-v), f*(t) = -1 - log(-t)  =>  f*(g(v)) = v - 1
  rkl: { act: (v) => neg(exp(neg(v))), conj: (v) => sub(v, 1) },
  // Pearson chi^2: g = v, f*(t) = t^2/4 + t
  pearson: { act: (v) => v, conj: (v) => add(mul(square(v), 0.25), v) },
  // Neyman chi^2: g = 1 - exp(v), f*(t) = 2 - 2 sqrt(1 - t)  =>  2 - 2 exp(v/2)
  neyman: { act: (v) => sub(1, exp(v)), conj: (v) => sub(2, mul(exp(mul(v, 0.5)), 2)) },
  // squared Hellinger: g = 1 - exp(v), f*(t) = t / (1 - t)  =>  exp(-v) - 1
  hellinger: { act: (v) => sub(1, exp(v)), conj: (v) => sub(exp(neg(v)), 1) },
  // Jensen-Shannon: g = log 2 - log(1 + exp(-v)), f*(t) = -log(2 - exp(t))  =>  softplus(v) - log 2
  js: { act: (v) => sub(Math.LN2, softplus(neg(v))), conj: (v) => sub(softplus(v), Math.LN2) },
} satisfies Record<string, Divergence>;

/** Own keys only: 'constructor' is not a divergence. */
export const isDivergence = (name: string): name is keyof typeof DIVERGENCES => Object.hasOwn(DIVERGENCES, name);

export function fgan(divergence: string): GanLoss {
  const d = isDivergence(divergence) ? DIVERGENCES[divergence] : undefined;
  if (!d) throw new Error(`unknown f-divergence '${divergence}'; valid: ${Object.keys(DIVERGENCES).join(', ')}`);
  return {
    name: `fgan-${divergence}`,
    critic: ({ dReal, dFake }) => {
      const bound = sub(mean(d.act(dReal)), mean(d.conj(dFake)));
      return { loss: neg(bound), terms: { bound } };
    },
    generator: ({ dFake }) => ({ loss: neg(mean(d.act(dFake))) }),
  };
}
