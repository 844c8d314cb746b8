// PacGAN's 2-D networks (Lin et al. 2018; fjxmlzn/PacGAN synthetic_data_experiments, config.py and
// pacgan_task.py): the generator z-400-400-400-400-2, each hidden layer a bias-free Linear, batch norm and
// ReLU; the critic three LinearMaxout layers of 200 units with 5 pieces and a Linear to one score, its input
// m samples side by side (packing). Weights N(0, 0.02), biases 0, batch-norm gain 1 and shift 0.
import { gemm, relu } from '../graph/ops.ts';
import { batchNorm2dSpecs, batchNorm2d } from './layers.ts';
import { linearMaxout, linearMaxoutParams, type MaxoutSpec } from './maxout.ts';
import { normalInit, onesInit, zerosInit, type Model, type ParamSpec } from './model.ts';

export interface PacganGeneratorOptions {
  latent?: number;
  /** Hidden widths (default four of 400). */
  hidden?: number[];
  sampleDims?: number;
  /** Running-statistics momentum: Blocks' population update in the reference is 0.05. */
  bnMomentum?: number;
  weightStd?: number;
}

export function pacganGenerator(o: PacganGeneratorOptions = {}): Model {
  const widths = [o.latent ?? 2, ...(o.hidden ?? [400, 400, 400, 400]), o.sampleDims ?? 2];
  const std = o.weightStd ?? 0.02;
  const momentum = o.bnMomentum ?? 0.05;
  const last = widths.length - 2;
  const params: ParamSpec[] = [];
  const states: NonNullable<Model['states']>[number][] = [];
  for (let i = 0; i <= last; i++) {
    params.push({ name: `G.l${i}.weight`, shape: [widths[i + 1], widths[i]], init: normalInit(0, std) });
    if (i === last) params.push({ name: `G.l${i}.bias`, shape: [widths[i + 1]], init: zerosInit });
    else {
      const bn = batchNorm2dSpecs(`G.bn${i}`, widths[i + 1], onesInit);
      params.push(...bn.params);
      states.push(...bn.states);
    }
  }
  return {
    kind: 'pacgan-generator',
    inputShape: [widths[0]],
    outputShape: [widths[widths.length - 1]],
    params,
    states,
    forward(z, p, ctx) {
      let h = z;
      for (let i = 0; i < last; i++) h = relu(batchNorm2d(gemm(h, p[`G.l${i}.weight`], undefined, { transB: true }), `G.bn${i}`, p, ctx, undefined, momentum));
      return gemm(h, p[`G.l${last}.weight`], p[`G.l${last}.bias`], { transB: true });
    },
    describe: () => ({ kind: 'pacgan-generator', prefix: 'G', widths, bnMomentum: momentum, weightStd: std }),
  };
}

export interface PacganCriticOptions {
  /** Samples per critic input (PacGAN's m). */
  pack?: number;
  sampleDims?: number;
  /** Maxout layers' widths (default three of 200). */
  hidden?: number[];
  pieces?: number;
  weightStd?: number;
}

export function pacganCritic(o: PacganCriticOptions = {}): Model {
  const input = (o.sampleDims ?? 2) * (o.pack ?? 1);
  const hidden = o.hidden ?? [200, 200, 200];
  const pieces = o.pieces ?? 5;
  const std = o.weightStd ?? 0.02;
  const layers: MaxoutSpec[] = hidden.map((w, i) => ({ name: `D.l${i}`, input: i ? hidden[i - 1] : input, output: w, pieces }));
  const out = `D.l${hidden.length}`;
  const params = [
    ...layers.flatMap((s) => linearMaxoutParams(s, normalInit(0, std), zerosInit)),
    { name: `${out}.weight`, shape: [1, hidden[hidden.length - 1]], init: normalInit(0, std) },
    { name: `${out}.bias`, shape: [1], init: zerosInit },
  ];
  return {
    kind: 'pacgan-critic',
    inputShape: [input],
    outputShape: [1],
    params,
    forward(x, p) {
      let h = x;
      for (const s of layers) h = linearMaxout(h, s, p);
      return gemm(h, p[`${out}.weight`], p[`${out}.bias`], { transB: true });
    },
    describe: () => ({ kind: 'pacgan-critic', prefix: 'D', input, hidden, pieces, weightStd: std }),
  };
}
