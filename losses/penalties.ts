// Gradient penalties: each needs the gradient of the critic with respect to its input inside the
// training graph, so the critic's update differentiates through a gradient (double backward).
import { grad } from '../graph/autodiff.ts';
import type { Value } from '../graph/ir.ts';
import { add, flatten, mean, mul, reduceSum, relu, sqrt, square, sub } from '../graph/ops.ts';
import type { LossContext, Penalty } from './loss.ts';

/**
 * Per-sample squared L2 norm of dD/dx at x. A critic that scores patches (PatchGAN, [B, positions]) is,
 * per sample, the mean of its map.
 */
export function criticGradSquaredNorm(ctx: LossContext, x: Value): Value {
  const d = ctx.D(x);
  const positions = (d.shape ?? []).slice(1).reduce((a: number, b) => a * (b as number), 1);
  const [g] = grad(positions > 1 ? mul(reduceSum(d), 1 / positions) : reduceSum(d), [x]);
  return reduceSum(square(flatten(g, 1)), [1]);
}

/** Per-sample L2 norm of dD/dx at x. A 1e-20 floor inside the root keeps its own gradient finite at 0 (0.5/sqrt(0) would be inf, times 0: NaN) without moving the value: 1e-20 is still a normal float32. */
export function criticGradNorm(ctx: LossContext, x: Value): Value {
  return sqrt(add(criticGradSquaredNorm(ctx, x), 1e-20));
}

/** A per-sample random weight of shape [B, 1, ...] that broadcasts over one sample. */
function perSample(ctx: LossContext, name: string): Value {
  return ctx.random(name, 'uniform', [ctx.batch, ...ctx.real.shape!.slice(1).map(() => 1)]);
}

/** Points on straight lines between real and fake samples: eps x + (1 - eps) G(z), eps ~ U[0, 1] per sample. */
export function interpolate(ctx: LossContext, name: string): Value {
  const eps = perSample(ctx, name);
  return add(mul(eps, ctx.real), mul(sub(1, eps), ctx.fake));
}

/** WGAN-GP (Gulrajani et al. 2017, Algorithm 1): lambda * E[(||grad D(x^)|| - 1)^2] on interpolates x^. */
export const gradientPenalty = (lambda = 10): Penalty => ({
  name: 'gp',
  build: (ctx) => mul(lambda, mean(square(sub(criticGradNorm(ctx, interpolate(ctx, 'gp.eps')), 1)))),
});

/** WGAN-LP (Petzka et al. 2018; TF-GAN's one_sided): lambda * E[max(0, ||grad D(x^)|| - 1)^2]. */
export const lipschitzPenalty = (lambda = 10): Penalty => ({
  name: 'lp',
  build: (ctx) => mul(lambda, mean(square(relu(sub(criticGradNorm(ctx, interpolate(ctx, 'lp.eps')), 1))))),
});

/**
 * DRAGAN (Kodali et al. 2017; kodalinaveen3/DRAGAN): the gradient norm pulled to 1 near the real data,
 * at x + alpha * delta with delta = 0.5 * std(x) * u, u ~ U[-1, 1] per element (two-sided, the author's
 * later correction of U[0, 1]), alpha ~ U[0, 1] per sample, std over the whole real batch (numpy's, biased):
 *   lambda * E[(||grad D(x + alpha delta)|| - 1)^2]
 */
export const draganPenalty = (lambda = 10): Penalty => ({
  name: 'dragan',
  build: (ctx) => {
    const x = ctx.real;
    const std = sqrt(mean(square(sub(x, mean(x)))));
    const u = ctx.random('dragan.u', 'uniform', x.shape as number[]);
    const delta = mul(mul(std, 0.5), sub(mul(u, 2), 1));
    const alpha = perSample(ctx, 'dragan.alpha');
    return mul(lambda, mean(square(sub(criticGradNorm(ctx, add(x, mul(alpha, delta))), 1))));
  },
});

/** R1 (Mescheder et al. 2018): gamma/2 * E||grad D(x)||^2 on real samples. */
export const r1Penalty = (gamma = 10): Penalty => ({
  name: 'r1',
  build: (ctx) => mul(gamma / 2, mean(criticGradSquaredNorm(ctx, ctx.real))),
});

/** R2 (Mescheder et al. 2018): gamma/2 * E||grad D(G(z))||^2 on generated samples. */
export const r2Penalty = (gamma = 10): Penalty => ({
  name: 'r2',
  build: (ctx) => mul(gamma / 2, mean(criticGradSquaredNorm(ctx, ctx.fake))),
});

export const PENALTIES = {
  gp: gradientPenalty,
  lp: lipschitzPenalty,
  dragan: draganPenalty,
  r1: r1Penalty,
  r2: r2Penalty,
} satisfies Record<string, (weight?: number) => Penalty>;

export const isPenalty = (name: string): name is keyof typeof PENALTIES => Object.hasOwn(PENALTIES, name);
