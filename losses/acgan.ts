// ACGAN's auxiliary classifier loss (Odena et al. 2017), added to any adversarial loss when the critic has a
// class head: the critic learns to tell the class of real and of generated samples, the generator to make
// samples of the class it was asked for.
import type { Value } from '../graph/ir.ts';
import { add, oneHot } from '../graph/ops.ts';
import { softmaxCrossEntropy } from './classification.ts';
import type { LossContext } from './loss.ts';

/** Mean cross-entropy of logits [B, K] against int64 labels [B]. */
export function classCrossEntropy(logits: Value, labels: Value): Value {
  return softmaxCrossEntropy(logits, oneHot(labels, logits.shape![1] as number, logits.dtype));
}

function labelsOf(ctx: LossContext): Value {
  if (!ctx.labels) throw new Error('the auxiliary classifier loss needs labelled data');
  return ctx.labels;
}

function logits(v: Value | undefined): Value {
  if (!v) throw new Error('the auxiliary classifier loss needs a critic with a class head');
  return v;
}

export const auxiliaryClassifier = {
  critic: (ctx: LossContext): Value => add(classCrossEntropy(logits(ctx.classReal), labelsOf(ctx)), classCrossEntropy(logits(ctx.classFake), labelsOf(ctx))),
  generator: (ctx: LossContext): Value => classCrossEntropy(logits(ctx.classFake), labelsOf(ctx)),
};
