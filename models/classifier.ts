// Convolutional classifiers for small images, the feature extractor of the image scores (classifier-FID,
// KID, PRDC, class coverage, conditioning accuracy): stages of conv 3x3 + ReLU layers, each stage ending in a
// 2x2 pool, then a ReLU layer (the features) and a linear layer to the class logits.
import type { Value } from '../graph/ir.ts';
import { averagePool, conv, gemm, maxPool, reshape, relu } from '../graph/ops.ts';
import type { Model, ParamSpec } from './model.ts';

export interface Classifier extends Model {
  readonly classes: number;
  readonly featureSize: number;
  /** The penultimate activations [N, featureSize] the scores compare. */
  features(x: Value, p: Record<string, Value>): Value;
}

export interface ClassifierShape {
  image?: number[];
  classes?: number;
  /** Output channels of each conv layer, one list per stage; each stage ends in a 2x2 pool. */
  stages?: number[][];
  pool?: 'avg' | 'max';
  features?: number;
}

/** The small scorer of the first releases (90.4 % on Fashion-MNIST): one conv per stage, average pooling. */
export const SMALL_CLASSIFIER: Required<Omit<ClassifierShape, 'image' | 'classes'>> = { stages: [[32], [64]], pool: 'avg', features: 128 };
/** `train-classifier`'s default: two convs per stage and max pooling (VGG's pattern at Fashion-MNIST's size). */
export const VGG_CLASSIFIER: Required<Omit<ClassifierShape, 'image' | 'classes'>> = { stages: [[32, 32], [64, 64]], pool: 'max', features: 256 };

/** PyTorch's default for Conv2d and Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases. */
const fanIn = (n: number): ParamSpec['init'] => (rng, out) => rng.fillUniform(out, -1 / Math.sqrt(n), 1 / Math.sqrt(n));

export function convClassifier(o: ClassifierShape = {}): Classifier {
  const [C, H, W] = o.image ?? [1, 28, 28];
  const stages = o.stages ?? SMALL_CLASSIFIER.stages;
  const pool = o.pool ?? SMALL_CLASSIFIER.pool;
  const f = o.features ?? SMALL_CLASSIFIER.features;
  const classes = o.classes ?? 10;
  const shrink = 2 ** stages.length;
  if (!stages.length || stages.some((s) => !s.length)) throw new Error('classifier: every stage needs at least one conv layer');
  if (H % shrink || W % shrink) throw new Error(`classifier: ${stages.length} pooling stages need image height and width multiples of ${shrink}, got [${C}, ${H}, ${W}]`);
  // Layers conv1, conv2, ... (conv1a, conv1b, ... where a stage has several); the last of a stage pools.
  const convs: { name: string; from: number; to: number; pools: boolean }[] = [];
  let from = C;
  stages.forEach((s, i) => s.forEach((to, j) => (convs.push({ name: `conv${i + 1}${s.length > 1 ? String.fromCharCode(97 + j) : ''}`, from, to, pools: j === s.length - 1 }), (from = to))));
  const flat = from * (H / shrink) * (W / shrink);
  const params: ParamSpec[] = [
    ...convs.flatMap(({ name, from, to }) => [
      { name: `${name}.weight`, shape: [to, from, 3, 3], init: fanIn(from * 9) },
      { name: `${name}.bias`, shape: [to], init: fanIn(from * 9) },
    ]),
    { name: 'fc1.weight', shape: [f, flat], init: fanIn(flat) },
    { name: 'fc1.bias', shape: [f], init: fanIn(flat) },
    { name: 'fc2.weight', shape: [classes, f], init: fanIn(f) },
    { name: 'fc2.bias', shape: [classes], init: fanIn(f) },
  ];
  const same = { pads: [1, 1, 1, 1] };
  const down = (h: Value) => (pool === 'max' ? maxPool(h, [2, 2], { strides: [2, 2] }) : averagePool(h, [2, 2], { strides: [2, 2] }));
  const features = (x: Value, p: Record<string, Value>) => {
    let h = x;
    for (const c of convs) {
      h = relu(conv(h, p[`${c.name}.weight`], p[`${c.name}.bias`], same));
      if (c.pools) h = down(h);
    }
    return relu(gemm(reshape(h, [-1, flat]), p['fc1.weight'], p['fc1.bias'], { transB: true }));
  };
  return {
    kind: 'conv-classifier',
    inputShape: [C, H, W],
    outputShape: [classes],
    params,
    classes,
    featureSize: f,
    features,
    forward: (x, p) => gemm(features(x, p), p['fc2.weight'], p['fc2.bias'], { transB: true }),
    describe: () => ({ kind: 'conv-classifier', image: [C, H, W], classes, stages, pool, features: f }),
  };
}
