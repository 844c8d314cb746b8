// A small convolutional classifier for 28x28 single-channel images, the feature extractor of the
// image scores (classifier-FID, KID, class coverage): two conv + ReLU + 2x2 average-pool stages, a
// 128-wide ReLU layer (the features), and a linear layer to the class logits.
import type { Value } from '../graph/ir.ts';
import { averagePool, conv, gemm, reshape, relu } from '../graph/ops.ts';
import type { Model, ParamSpec } from './model.ts';

export interface Classifier extends Model {
  readonly classes: number;
  readonly featureSize: number;
  /** The penultimate activations [N, featureSize] the scores compare. */
  features(x: Value, p: Record<string, Value>): Value;
}

/** PyTorch's default for Conv2d and Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases. */
const fanIn = (n: number): ParamSpec['init'] => (rng, out) => rng.fillUniform(out, -1 / Math.sqrt(n), 1 / Math.sqrt(n));

export function convClassifier(o: { image?: number[]; classes?: number; channels?: [number, number]; features?: number } = {}): Classifier {
  const [C, H, W] = o.image ?? [1, 28, 28];
  if (H % 4 || W % 4) throw new Error(`classifier: image height and width must be multiples of 4, got [${C}, ${H}, ${W}]`);
  const classes = o.classes ?? 10;
  const [c1, c2] = o.channels ?? [32, 64];
  const f = o.features ?? 128;
  const flat = c2 * (H / 4) * (W / 4);
  const params: ParamSpec[] = [
    { name: 'conv1.weight', shape: [c1, C, 3, 3], init: fanIn(C * 9) },
    { name: 'conv1.bias', shape: [c1], init: fanIn(C * 9) },
    { name: 'conv2.weight', shape: [c2, c1, 3, 3], init: fanIn(c1 * 9) },
    { name: 'conv2.bias', shape: [c2], init: fanIn(c1 * 9) },
    { name: 'fc1.weight', shape: [f, flat], init: fanIn(flat) },
    { name: 'fc1.bias', shape: [f], init: fanIn(flat) },
    { name: 'fc2.weight', shape: [classes, f], init: fanIn(f) },
    { name: 'fc2.bias', shape: [classes], init: fanIn(f) },
  ];
  const same = { pads: [1, 1, 1, 1] };
  const pool = (h: Value) => averagePool(h, [2, 2], { strides: [2, 2] });
  const features = (x: Value, p: Record<string, Value>) => {
    let h = pool(relu(conv(x, p['conv1.weight'], p['conv1.bias'], same)));
    h = pool(relu(conv(h, p['conv2.weight'], p['conv2.bias'], same)));
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
    describe: () => ({ kind: 'conv-classifier', image: [C, H, W], classes, channels: [c1, c2], features: f }),
  };
}
