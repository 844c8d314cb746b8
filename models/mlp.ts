// Multi-layer perceptrons: Linear layers as Gemm(x, W^T) + b with W stored [out, in] as in PyTorch.
import type { Value } from '../graph/ir.ts';
import { gemm, leakyRelu, relu, sigmoid, tanh } from '../graph/ops.ts';
import type { Model, ParamSpec } from './model.ts';

export type Activation = 'relu' | 'leaky_relu' | 'tanh' | 'sigmoid' | 'none';

export interface MlpOptions {
  /** Layer widths including input and output: [2, 128, 128, 1]. */
  widths: number[];
  activation?: Activation;
  /** Slope of leaky_relu. */
  alpha?: number;
  /** Applied after the last layer. */
  outputActivation?: Activation;
  /** Parameter name prefix ('G', 'D'). */
  prefix?: string;
}

export function activate(x: Value, a: Activation, alpha = 0.2): Value {
  switch (a) {
    case 'relu':
      return relu(x);
    case 'leaky_relu':
      return leakyRelu(x, alpha);
    case 'tanh':
      return tanh(x);
    case 'sigmoid':
      return sigmoid(x);
    case 'none':
      return x;
  }
}

/** PyTorch's nn.Linear default: kaiming_uniform(a=sqrt(5)) for W and U(-1/sqrt(fan_in), ..) for b, both bound 1/sqrt(fan_in). */
const linearInit = (fanIn: number): ParamSpec['init'] => (rng, out) => rng.fillUniform(out as Float32Array, -1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn));

export function mlp(o: MlpOptions): Model {
  const { widths } = o;
  if (widths.length < 2 || widths.some((w) => !Number.isInteger(w) || w < 1)) throw new Error(`mlp: widths must be at least two positive integers, got [${widths}]`);
  const act = o.activation ?? 'relu';
  const alpha = o.alpha ?? 0.2;
  const prefix = o.prefix ?? 'mlp';
  const params: ParamSpec[] = [];
  for (let i = 0; i + 1 < widths.length; i++) {
    params.push({ name: `${prefix}.l${i}.weight`, shape: [widths[i + 1], widths[i]], init: linearInit(widths[i]) });
    params.push({ name: `${prefix}.l${i}.bias`, shape: [widths[i + 1]], init: linearInit(widths[i]) });
  }
  return {
    kind: 'mlp',
    inputShape: [widths[0]],
    outputShape: [widths[widths.length - 1]],
    params,
    forward(x, p) {
      let h = x;
      for (let i = 0; i + 1 < widths.length; i++) {
        h = gemm(h, p[`${prefix}.l${i}.weight`], p[`${prefix}.l${i}.bias`], { transB: true });
        h = activate(h, i + 2 < widths.length ? act : (o.outputActivation ?? 'none'), alpha);
      }
      return h;
    },
    describe: () => ({ kind: 'mlp', widths, activation: act, alpha, outputActivation: o.outputActivation ?? 'none', prefix }),
  };
}
