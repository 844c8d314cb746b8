// Fisher GAN (Mroueh & Sercu 2017; tomsercu/FisherGAN): an IPM whose critic is constrained by its second
// moments, enforced with an augmented Lagrangian. The multiplier lambda is training state, updated after
// each critic step by its own rule, lambda <- lambda - rho * constraint (gradient descent on -objective).
//   constraint = 1 - (E_P[f^2] + E_Q[f^2]) / 2
//   critic maximises E_P[f] - E_Q[f] + lambda * constraint - rho/2 * constraint^2;   L_G = -E_Q[f]
import { add, mean, mul, neg, square, sub } from '../graph/ops.ts';
import type { GanLoss } from './loss.ts';

export const fisher = (rho = 1e-6): GanLoss => ({
  name: 'fisher',
  states: [{ name: 'fisher.lambda', shape: [], init: (out) => out.fill(0) }],
  critic: (ctx) => {
    const { dReal, dFake } = ctx;
    const lambda = ctx.state('fisher.lambda');
    const ipm = sub(mean(dReal), mean(dFake));
    const constraint = sub(1, mul(add(mean(square(dReal)), mean(square(dFake))), 0.5));
    const objective = sub(add(ipm, mul(lambda, constraint)), mul(square(constraint), rho / 2));
    ctx.setState('fisher.lambda', sub(lambda, mul(constraint, rho)));
    return { loss: neg(objective), terms: { ipm, constraint, lambda } };
  },
  generator: ({ dFake }) => ({ loss: neg(mean(dFake)) }),
});
