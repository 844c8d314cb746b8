// Gradient penalties: each needs the gradient of the critic with respect to its input inside the
// training graph, so the critic's update differentiates through a gradient (double backward).
import { grad } from '../graph/autodiff.ts';
import type { Value } from '../graph/ir.ts';
import { add, flatten, mean, mul, reduceSum, sqrt, square, sub } from '../graph/ops.ts';
import type { LossContext, Penalty } from './loss.ts';

/** Per-sample L2 norm of dD/dx at x. A 1e-20 floor inside the root keeps its own gradient finite at 0 (0.5/sqrt(0) would be inf, times 0: NaN) without moving the value: 1e-20 is still a normal float32. */
export function criticGradNorm(ctx: LossContext, x: Value): Value {
  const [g] = grad(reduceSum(ctx.D(x)), [x]);
  return sqrt(add(reduceSum(square(flatten(g, 1)), [1]), 1e-20));
}

/** Points on straight lines between real and fake samples: eps x + (1 - eps) G(z), eps ~ U[0, 1] per sample. */
export function interpolate(ctx: LossContext, name: string): Value {
  const shape = [ctx.batch, ...ctx.real.shape!.slice(1).map(() => 1)];
  const eps = ctx.random(name, 'uniform', shape);
  return add(mul(eps, ctx.real), mul(sub(1, eps), ctx.fake));
}

/** WGAN-GP (Gulrajani et al. 2017, Algorithm 1): lambda * E[(||grad D(x^)|| - 1)^2] on interpolates x^. */
export const gradientPenalty = (lambda = 10): Penalty => ({
  name: 'gp',
  build: (ctx) => mul(lambda, mean(square(sub(criticGradNorm(ctx, interpolate(ctx, 'gp.eps')), 1)))),
});
