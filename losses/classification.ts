// Softmax cross-entropy for the supervised pieces (the scoring classifier). The shift by the row max is
// a constant to the gradient (log-sum-exp is shift-invariant), so the max needs no gradient rule.
import type { Value } from '../graph/ir.ts';
import { add, exp, log, mean, reduceMax, reduceSum, stopGradient, sub, mul } from '../graph/ops.ts';

/** log sum_j exp(logits_ij) per row, stable: m + log sum exp(l - m). */
export function logSumExp(logits: Value): Value {
  const m = stopGradient(reduceMax(logits, [1], true));
  return add(reduceSum(m, [1]), log(reduceSum(exp(sub(logits, m)), [1])));
}

/** mean_i [ lse(l_i) - sum_j y_ij l_ij ], y one-hot (or any distribution) per row. */
export function softmaxCrossEntropy(logits: Value, targets: Value): Value {
  return mean(sub(logSumExp(logits), reduceSum(mul(targets, logits), [1])));
}
