// Relativistic GANs (Jolicoeur-Martineau 2019; AlexiaJM/RelativisticGAN): the critic judges whether real
// data is more realistic than fake data, C(x_r) - C(x_f), or than the average fake (the "Ra" variants).
import type { Value } from '../graph/ir.ts';
import { add, mean, mul, neg, relu, softplus, square, sub } from '../graph/ops.ts';
import type { GanLoss } from './loss.ts';

/** Binary cross-entropy on a logit: target 1 is softplus(-v), target 0 is softplus(v). */
const bce1 = (v: Value) => mean(softplus(neg(v)));
const bce0 = (v: Value) => mean(softplus(v));
const half = (v: Value) => mul(v, 0.5);

/**
 * RSGAN: L_D = E[softplus(-(C(x_r) - C(x_f)))];  L_G = E[softplus(-(C(x_f) - C(x_r)))]  (pairs by index)
 */
export const rsgan = (): GanLoss => ({
  name: 'rsgan',
  critic: ({ dReal, dFake }) => ({ loss: bce1(sub(dReal, dFake)) }),
  generator: ({ dReal, dFake }) => ({ loss: bce1(sub(dFake, dReal)) }),
});

/**
 * RaSGAN: D~(x_r) = C(x_r) - E C(x_f),  D~(x_f) = C(x_f) - E C(x_r)
 *   L_D = (BCE(D~(x_r), 1) + BCE(D~(x_f), 0)) / 2;  L_G = (BCE(D~(x_r), 0) + BCE(D~(x_f), 1)) / 2
 */
export const rasgan = (): GanLoss => ({
  name: 'rasgan',
  critic: ({ dReal, dFake }) => ({ loss: half(add(bce1(sub(dReal, mean(dFake))), bce0(sub(dFake, mean(dReal))))) }),
  generator: ({ dReal, dFake }) => ({ loss: half(add(bce0(sub(dReal, mean(dFake))), bce1(sub(dFake, mean(dReal))))) }),
});

/**
 * RaLSGAN: L_D = (E[(D~(x_r) - 1)^2] + E[(D~(x_f) + 1)^2]) / 2;  L_G = (E[(D~(x_r) + 1)^2] + E[(D~(x_f) - 1)^2]) / 2
 */
export const ralsgan = (): GanLoss => ({
  name: 'ralsgan',
  critic: ({ dReal, dFake }) => ({ loss: half(add(mean(square(sub(sub(dReal, mean(dFake)), 1))), mean(square(add(sub(dFake, mean(dReal)), 1))))) }),
  generator: ({ dReal, dFake }) => ({ loss: half(add(mean(square(add(sub(dReal, mean(dFake)), 1))), mean(square(sub(sub(dFake, mean(dReal)), 1))))) }),
});

/**
 * RaHinge: L_D = (E[relu(1 - D~(x_r))] + E[relu(1 + D~(x_f))]) / 2;  L_G = (E[relu(1 + D~(x_r))] + E[relu(1 - D~(x_f))]) / 2
 */
export const rahinge = (): GanLoss => ({
  name: 'rahinge',
  critic: ({ dReal, dFake }) => ({ loss: half(add(mean(relu(sub(1, sub(dReal, mean(dFake))))), mean(relu(add(1, sub(dFake, mean(dReal))))))) }),
  generator: ({ dReal, dFake }) => ({ loss: half(add(mean(relu(add(1, sub(dReal, mean(dFake))))), mean(relu(sub(1, sub(dFake, mean(dReal))))))) }),
});
