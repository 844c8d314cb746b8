// Optimizers as graph updates on a flat parameter vector: state in, state out, the same arithmetic as
// PyTorch's torch.optim (checked in test/training/optim.test.ts).
import type { Value } from '../graph/ir.ts';
import { add, clip, div, mul, pow, scalar, sqrt, sub } from '../graph/ops.ts';

export type OptimizerName = 'adam' | 'rmsprop' | 'sgd';

export interface OptimizerSettings {
  name: OptimizerName;
  lr: number;
  /** Adam. */
  betas?: [number, number];
  eps?: number;
  /** RMSProp smoothing constant (torch's alpha). */
  alpha?: number;
  /** SGD. */
  momentum?: number;
  /** Clip every weight to [-clip, clip] after the update (WGAN). */
  clip?: number;
}

export interface Optimizer {
  readonly settings: OptimizerSettings;
  /** Names of the state vectors kept per parameter vector (same length as it, zeros at start). */
  readonly slots: string[];
  /**
   * One update. `step` is the 1-based count of updates so far including this one (float scalar),
   * `lr` a float scalar input so a schedule or a rollback can change it without rebuilding the graph.
   */
  update(p: Value, g: Value, state: Value[], step: Value, lr: Value): { p: Value; state: Value[] };
}

export function optimizer(s: OptimizerSettings): Optimizer {
  const base = pick(s);
  if (s.clip === undefined) return base;
  const c = s.clip;
  return { ...base, update: (p, g, st, t, lr) => ((u) => ({ p: clip(u.p, -c, c), state: u.state }))(base.update(p, g, st, t, lr)) };
}

function pick(s: OptimizerSettings): Optimizer {
  switch (s.name) {
    case 'adam': {
      const [b1, b2] = s.betas ?? [0.9, 0.999];
      const eps = s.eps ?? 1e-8;
      return {
        settings: s,
        slots: ['m', 'v'],
        update(p, g, [m, v], t, lr) {
          const m1 = add(mul(m, b1), mul(g, 1 - b1));
          const v1 = add(mul(v, b2), mul(mul(g, g), 1 - b2));
          // torch: p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
          const bc1 = sub(1, pow(scalar(t.graph, b1, t.dtype), t));
          const bc2 = sqrt(sub(1, pow(scalar(t.graph, b2, t.dtype), t)));
          const denom = add(div(sqrt(v1), bc2), eps);
          return { p: sub(p, mul(div(lr, bc1), div(m1, denom))), state: [m1, v1] };
        },
      };
    }
    case 'rmsprop': {
      const a = s.alpha ?? 0.99;
      const eps = s.eps ?? 1e-8;
      return {
        settings: s,
        slots: ['sq'],
        update(p, g, [sq], _t, lr) {
          const sq1 = add(mul(sq, a), mul(mul(g, g), 1 - a));
          return { p: sub(p, mul(lr, div(g, add(sqrt(sq1), eps)))), state: [sq1] };
        },
      };
    }
    case 'sgd': {
      const mu = s.momentum ?? 0;
      if (mu === 0) return { settings: s, slots: [], update: (p, g, _st, _t, lr) => ({ p: sub(p, mul(lr, g)), state: [] }) };
      return {
        settings: s,
        slots: ['buf'],
        update(p, g, [buf], _t, lr) {
          const b1 = add(mul(buf, mu), g);
          return { p: sub(p, mul(lr, b1)), state: [b1] };
        },
      };
    }
  }
}
