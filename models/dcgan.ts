// DCGAN (Radford et al. 2016) for square images of 16 to 256 pixels (model.ts's IMAGE_SIZES): the generator doubles the resolution
// with stride-2 transposed convolutions (batch norm and ReLU between, tanh at the end), the critic halves it
// with stride-2 convolutions and LeakyReLU 0.2. Critics trained with a gradient penalty must not use batch
// norm (the penalty is per sample), so the critic's norm is layer norm, instance norm or none; the SN-GAN
// variant is `spectralNorm(dcganCritic({ norm: 'none' }))`. Weights start N(0, 0.02), batch norm's scale
// N(1, 0.02), as in the paper and PyTorch's DCGAN example. Class-conditional: conditional batch norm in the
// generator, a projection or an auxiliary classifier on the critic's last features (conditioning.ts).
import type { Value } from '../graph/ir.ts';
import { concat, convTranspose, conv, gemm, leakyRelu, matmul, oneHot, relu, reshape, tanh } from '../graph/ops.ts';
import { classesOf, conditionalFields, conditionalHead, conditionalHeadParams, type ConditionalOptions } from './conditioning.ts';
import { batchNorm2d, batchNorm2dSpecs, instanceNorm, layerNorm } from './layers.ts';
import { imageLayout, normalInit, zerosInit, type Model, type ParamSpec } from './model.ts';

export type CriticNorm = 'layer' | 'instance' | 'none';

export interface DcganOptions extends ConditionalOptions {
  /** [channels, height, width]; height = width, one of IMAGE_SIZES. */
  image: number[];
  /** Channels of the widest layer next to the image (the paper's 64 at 64x64; 2x, 4x, ... inward). */
  width?: number;
  latent?: number;
  prefix?: string;
}

/** The layout shared by both networks: spatial size `base` at the inside, `ups` stride-2 stages to the image. */
export const dcganLayout = (image: number[]) => imageLayout('dcgan', image);

export function dcganGenerator(o: DcganOptions): Model {
  const { channels, size, base, ups } = dcganLayout(o.image);
  const d = o.width ?? 64;
  const latent = o.latent ?? 100;
  const P = o.prefix ?? 'G';
  // Layer i maps widths[i] -> widths[i + 1]: latent -> d 2^(ups-1) at base x base, halving to d, then C.
  // A conditional generator reads [z, one-hot class] (conditional DCGAN, Mirza & Osindero 2014) besides its
  // conditional batch norms: with batch norm alone the class reaches it too weakly at these widths (measured:
  // the projection critic then wins from the start and the classes stay mixed).
  const inputs = latent + (o.classes ?? 0);
  const widths = [inputs, ...[...Array(ups).keys()].map((j) => d * 2 ** (ups - 1 - j)), channels];
  const params: ParamSpec[] = [];
  const states: NonNullable<Model['states']> = [];
  for (let i = 0; i + 1 < widths.length; i++) {
    const k = i === 0 ? base : 4;
    params.push({ name: `${P}.l${i}.weight`, shape: [widths[i], widths[i + 1], k, k], init: normalInit(0, 0.02) });
    if (i + 2 < widths.length) {
      const bn = batchNorm2dSpecs(`${P}.bn${i}`, widths[i + 1], normalInit(1, 0.02), o.classes || undefined);
      params.push(...bn.params);
      states.push(...bn.states);
    }
  }
  return {
    kind: 'dcgan-generator',
    inputShape: [latent],
    outputShape: [channels, size, size],
    params,
    states,
    ...conditionalFields(o, false),
    forward(z, p, ctx, labels) {
      if (o.classes && !labels) throw new Error('dcgan-generator: class-conditional, called without labels');
      let h = o.classes ? concat([z, oneHot(labels!, o.classes, z.dtype)], 1) : z;
      for (let i = 0; i + 1 < widths.length; i++) {
        const w = p[`${P}.l${i}.weight`];
        // From 1x1 to base x base, the transposed convolution is one matrix product (measured 6x faster
        // than onnxruntime's ConvTranspose at this shape, and so are its gradients).
        h = i === 0 ? reshape(matmul(h, reshape(w, [inputs, -1])), [-1, widths[1], base, base]) : convTranspose(h, w, null, { strides: [2, 2], pads: [1, 1, 1, 1] });
        if (i + 2 < widths.length) h = relu(batchNorm2d(h, `${P}.bn${i}`, p, ctx, o.classes ? labels : undefined));
      }
      return tanh(h);
    },
    describe: () => ({ kind: 'dcgan-generator', image: o.image, width: d, latent, prefix: P, ...classesOf(o) }),
  };
}

export function dcganCritic(o: DcganOptions & { norm?: CriticNorm }): Model {
  const { channels, size, base, ups } = dcganLayout(o.image);
  const d = o.width ?? 64;
  const P = o.prefix ?? 'D';
  const norm = o.norm ?? 'layer';
  // C -> d -> 2d -> ... -> d 2^(ups-1), each halving the size, then one score per sample.
  const widths = [channels, ...[...Array(ups).keys()].map((j) => d * 2 ** j), 1];
  const params: ParamSpec[] = [];
  for (let i = 0; i + 1 < widths.length; i++) {
    const k = i + 2 < widths.length ? 4 : base;
    params.push({ name: `${P}.l${i}.weight`, shape: [widths[i + 1], widths[i], k, k], init: normalInit(0, 0.02) });
    params.push({ name: `${P}.l${i}.bias`, shape: [widths[i + 1]], init: zerosInit });
  }
  const features = widths[widths.length - 2] * base * base;
  params.push(...conditionalHeadParams(P, features, o, normalInit(0, 0.02)));
  const normed = norm === 'layer' ? layerNorm : norm === 'instance' ? instanceNorm : (h: Value) => h;
  return {
    kind: 'dcgan-critic',
    inputShape: [channels, size, size],
    outputShape: [1 + (conditionalFields(o, true).auxClasses ?? 0)],
    params,
    ...conditionalFields(o, true),
    forward(x, p, _ctx, labels) {
      let h = x;
      for (let i = 0; i + 1 < widths.length; i++) {
        const [w, b] = [p[`${P}.l${i}.weight`], p[`${P}.l${i}.bias`]];
        // The last layer's kernel covers the whole base x base map: a matrix product, as above.
        if (i + 2 < widths.length) {
          h = conv(h, w, b, { strides: [2, 2], pads: [1, 1, 1, 1] });
          h = leakyRelu(i === 0 ? h : normed(h), 0.2);
        } else {
          const phi = reshape(h, [-1, features]);
          h = conditionalHead(gemm(phi, reshape(w, [1, -1]), b, { transB: true }), phi, p, P, o, labels, 'dcgan-critic');
        }
      }
      return h;
    },
    describe: () => ({ kind: 'dcgan-critic', image: o.image, width: d, norm, prefix: P, ...classesOf(o) }),
  };
}
