// How a critic takes the class into account, on top of its features phi(x) [N, F] and unconditional score:
//   projection (Miyato & Koyama 2018):  D(x, y) = score(x) + <embed(y), phi(x)>
//   acgan (Odena et al. 2017):          [score(x), class logits W phi(x) + b], the loss reads both
// The generator side is conditional batch norm (layers.ts).
import type { Value } from '../graph/ir.ts';
import { add, concat, gather, gemm, mul, reduceSum } from '../graph/ops.ts';
import { zerosInit, type ParamSpec } from './model.ts';

export type Conditioning = 'projection' | 'acgan';
export const CONDITIONINGS: [Conditioning, ...Conditioning[]] = ['projection', 'acgan'];
const projection = (o: ConditionalOptions) => (o.conditioning ?? 'projection') === 'projection';

export interface ConditionalOptions {
  /** Number of classes; absent or 0: unconditional. */
  classes?: number;
  /** How the critic uses the class (default projection). */
  conditioning?: Conditioning;
}

/** The head's parameters: the class embedding (projection) or the classifier layer (acgan). */
export function conditionalHeadParams(prefix: string, features: number, o: ConditionalOptions, init: ParamSpec['init']): ParamSpec[] {
  if (!o.classes) return [];
  if (projection(o)) return [{ name: `${prefix}.embed.weight`, shape: [o.classes, features], init }];
  return [
    { name: `${prefix}.aux.weight`, shape: [o.classes, features], init },
    { name: `${prefix}.aux.bias`, shape: [o.classes], init: zerosInit },
  ];
}

/** The critic's output from its score [N, 1] and features [N, F]; `labels` int64 [N]. */
export function conditionalHead(score: Value, phi: Value, p: Record<string, Value>, prefix: string, o: ConditionalOptions, labels: Value | undefined, kind: string): Value {
  if (!o.classes) return score;
  if (projection(o)) {
    if (!labels) throw new Error(`${kind}: class-conditional (projection) critic called without labels`);
    return add(score, reduceSum(mul(gather(p[`${prefix}.embed.weight`], labels), phi), [1], true));
  }
  return concat([score, gemm(phi, p[`${prefix}.aux.weight`], p[`${prefix}.aux.bias`], { transB: true })], 1);
}

/** The model fields a conditional network declares. */
export function conditionalFields(o: ConditionalOptions, critic: boolean): { classes?: number; auxClasses?: number } {
  if (!o.classes) return {};
  if (!critic) return { classes: o.classes };
  return projection(o) ? { classes: o.classes } : { auxClasses: o.classes };
}

/** What describe() records of the conditioning, for rebuilding the model (nothing when unconditional). */
export const classesOf = (o: ConditionalOptions) => (o.classes ? { classes: o.classes, conditioning: o.conditioning ?? 'projection' } : {});

