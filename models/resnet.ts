// ResNet GANs in the SNGAN / Mimicry layout (Miyato et al. 2018, appendix B; kwotsin/mimicry's
// sngan_32): the generator maps z by a linear layer to base x base maps and doubles the size in up-blocks
// (batch norm, ReLU, nearest x2, 3x3 conv, batch norm, ReLU, 3x3 conv; shortcut nearest x2 then 1x1
// conv), then batch norm, ReLU, a 3x3 conv to the image and tanh. The critic has an optimized first block
// (3x3 conv, ReLU, 3x3 conv, 2x2 average pool; shortcut pool then 1x1 conv), one down-block (more above
// 64 pixels) and two blocks at that size (ReLU, 3x3 conv, ReLU, 3x3 conv [, pool]; 1x1 conv shortcut where the shape
// changes), ReLU, a sum over positions and a linear head. No normalization in the critic: spectral norm
// wraps it for `sngan`, gradient penalties need none. Every block has the same width (Mimicry's 32x32:
// 256 in G, 128 in D; here `width` for both, by CPU budgets). Weights are Xavier-uniform with gain sqrt(2)
// in the blocks' 3x3 convs and 1 elsewhere, as Mimicry's; biases start at zero. Class-conditional: the
// generator's batch norms become conditional (gain N(1, 0.02) per class, as Mimicry's cGAN), the critic
// gets a projection or an auxiliary classifier on its pooled features (conditioning.ts).
import type { Value } from '../graph/ir.ts';
import { add, averagePool, conv, gemm, mul, relu, reshape, tanh, upsampleNearest } from '../graph/ops.ts';
import { classesOf, conditionalFields, conditionalHead, conditionalHeadParams, type ConditionalOptions } from './conditioning.ts';
import { batchNorm2d, batchNorm2dSpecs } from './layers.ts';
import { imageLayout, normalInit, onesInit, zerosInit, type ForwardContext, type Model, type ParamSpec } from './model.ts';

export interface ResnetOptions extends ConditionalOptions {
  /** [channels, size, size], size one of IMAGE_SIZES. */
  image: number[];
  /** Channels of every block. */
  width?: number;
  latent?: number;
  prefix?: string;
}

/** Base size and up-blocks (28 = 7 x 2^2, 32 = 4 x 2^3 as Mimicry's, 48 = 6 x 2^3, 64 = 4 x 2^4). */
export const resnetLayout = (image: number[]) => imageLayout('resnet', image);

/** The critic's down-blocks: two up to 64 pixels (SNGAN's 32x32 critic), beyond that one fewer than the generator's up-blocks, so its last maps stay at 8..16 pixels. */
const criticDowns = (size: number, ups: number) => (size <= 64 ? 2 : ups - 1);

/** nn.init.xavier_uniform_(w, gain): U(-a, a), a = gain sqrt(6 / (fan_in + fan_out)), fans with the receptive field. */
function xavierFor(shape: number[], gain: number): ParamSpec['init'] {
  const field = shape.slice(2).reduce((a, b) => a * b, 1);
  const a = gain * Math.sqrt(6 / ((shape[1] + shape[0]) * field));
  return (rng, out) => rng.fillUniform(out as Float32Array, -a, a);
}

/** A conv (or linear) weight and bias, Xavier-initialised; linear weights are [out, in] as nn.Linear's. */
function layer(params: ParamSpec[], name: string, shape: number[], gain: number, bias = true): void {
  params.push({ name: `${name}.weight`, shape, init: xavierFor(shape, gain) });
  if (bias) params.push({ name: `${name}.bias`, shape: [shape[0]], init: zerosInit });
}

const conv3 = (x: Value, p: Record<string, Value>, name: string) => conv(x, p[`${name}.weight`], p[`${name}.bias`], { pads: [1, 1, 1, 1] });
const conv1 = (x: Value, p: Record<string, Value>, name: string) => conv(x, p[`${name}.weight`], p[`${name}.bias`]);
const up = (x: Value) => upsampleNearest(x, [1, 1, 2, 2]);
const down = (x: Value) => averagePool(x, [2, 2], { strides: [2, 2] });

export function resnetGenerator(o: ResnetOptions): Model {
  const { channels, size, base, ups } = resnetLayout(o.image);
  const w = o.width ?? 64;
  const latent = o.latent ?? 128;
  const P = o.prefix ?? 'G';
  const params: ParamSpec[] = [];
  const states: NonNullable<Model['states']> = [];
  const bn = (name: string) => {
    const s = batchNorm2dSpecs(name, w, o.classes ? normalInit(1, 0.02) : onesInit, o.classes || undefined);
    params.push(...s.params);
    states.push(...s.states);
  };
  layer(params, `${P}.l1`, [base * base * w, latent], 1);
  for (let b = 0; b < ups; b++) {
    const B = `${P}.block${b + 2}`;
    bn(`${B}.b1`);
    layer(params, `${B}.c1`, [w, w, 3, 3], Math.SQRT2);
    bn(`${B}.b2`);
    layer(params, `${B}.c2`, [w, w, 3, 3], Math.SQRT2);
    layer(params, `${B}.c_sc`, [w, w, 1, 1], 1);
  }
  const last = ups + 2;
  bn(`${P}.b${last}`);
  layer(params, `${P}.c${last}`, [channels, w, 3, 3], 1);
  return {
    kind: 'resnet-generator',
    inputShape: [latent],
    outputShape: [channels, size, size],
    params,
    states,
    ...conditionalFields(o, false),
    forward(z: Value, p: Record<string, Value>, ctx?: ForwardContext, labels?: Value) {
      if (o.classes && !labels) throw new Error('resnet-generator: class-conditional, called without labels');
      const bn = (h: Value, name: string) => batchNorm2d(h, name, p, ctx, o.classes ? labels : undefined);
      let h = reshape(gemm(z, p[`${P}.l1.weight`], p[`${P}.l1.bias`], { transB: true }), [-1, w, base, base]);
      for (let b = 0; b < ups; b++) {
        const B = `${P}.block${b + 2}`;
        let r = relu(bn(h, `${B}.b1`));
        r = conv3(up(r), p, `${B}.c1`);
        r = conv3(relu(bn(r, `${B}.b2`)), p, `${B}.c2`);
        h = add(r, conv1(up(h), p, `${B}.c_sc`));
      }
      return tanh(conv3(relu(bn(h, `${P}.b${last}`)), p, `${P}.c${last}`));
    },
    describe: () => ({ kind: 'resnet-generator', image: o.image, width: w, latent, prefix: P, ...classesOf(o) }),
  };
}

export function resnetCritic(o: Omit<ResnetOptions, 'latent'>): Model {
  const { channels, size, ups } = resnetLayout(o.image);
  const w = o.width ?? 64;
  const P = o.prefix ?? 'D';
  const params: ParamSpec[] = [];
  // block1: optimized (channels -> w, down); blocks 2..downs: down; the last two keep the size.
  const downs = criticDowns(size, ups);
  const blocks = [...Array(downs + 1).keys()].map((i) => i + 2);
  const isDown = (b: number) => b <= downs;
  layer(params, `${P}.block1.c1`, [w, channels, 3, 3], Math.SQRT2);
  layer(params, `${P}.block1.c2`, [w, w, 3, 3], Math.SQRT2);
  layer(params, `${P}.block1.c_sc`, [w, channels, 1, 1], 1);
  for (const b of blocks) {
    layer(params, `${P}.block${b}.c1`, [w, w, 3, 3], Math.SQRT2);
    layer(params, `${P}.block${b}.c2`, [w, w, 3, 3], Math.SQRT2);
    if (isDown(b)) layer(params, `${P}.block${b}.c_sc`, [w, w, 1, 1], 1);
  }
  layer(params, `${P}.l5`, [1, w], 1);
  params.push(...conditionalHeadParams(P, w, o, xavierFor([o.classes ?? 1, w], 1)));
  return {
    kind: 'resnet-critic',
    inputShape: [channels, size, size],
    outputShape: [1 + (conditionalFields(o, true).auxClasses ?? 0)],
    params,
    ...conditionalFields(o, true),
    forward(x: Value, p: Record<string, Value>, _ctx?: ForwardContext, labels?: Value) {
      const B1 = `${P}.block1`;
      let h = add(down(conv3(relu(conv3(x, p, `${B1}.c1`)), p, `${B1}.c2`)), conv1(down(x), p, `${B1}.c_sc`));
      for (const b of blocks) {
        const B = `${P}.block${b}`;
        const r = conv3(relu(conv3(relu(h), p, `${B}.c1`)), p, `${B}.c2`);
        h = isDown(b) ? add(down(r), down(conv1(h, p, `${B}.c_sc`))) : add(r, h);
      }
      // The sum over positions as a full-size average pool times the position count: the same value, in
      // an op that every consumer of an exported critic runs (OpenCV 4.6 has no opset-13 ReduceSum).
      const s = h.shape![2] as number;
      const pooled = mul(reshape(averagePool(relu(h), [s, s]), [-1, w]), s * s);
      return conditionalHead(gemm(pooled, p[`${P}.l5.weight`], p[`${P}.l5.bias`], { transB: true }), pooled, p, P, o, labels, 'resnet-critic');
    },
    describe: () => ({ kind: 'resnet-critic', image: o.image, width: w, prefix: P, ...classesOf(o) }),
  };
}

