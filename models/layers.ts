// Normalization layers built from primitive ops, so their gradients (and the gradients of those, for a
// gradient penalty) come from the rules already in graph/gradients.ts. Batch statistics are part of the
// graph: the gradient flows through the mean and variance, as in PyTorch's training mode.
import type { Value } from '../graph/ir.ts';
import { add, batchNormalization, div, gather, instanceNormalization, mul, reduceMean, reshape, sqrt, square, sub } from '../graph/ops.ts';
import { onesInit, zerosInit, type ForwardContext, type ParamSpec } from './model.ts';

export interface Moments {
  mean: Value;
  variance: Value;
}

/** Mean and biased variance over `axes`, kept as broadcastable dims. */
export function moments(x: Value, axes: number[]): Moments {
  const mean = reduceMean(x, axes, true);
  return { mean, variance: reduceMean(square(sub(x, mean)), axes, true) };
}

export const normalize = (x: Value, m: Moments, eps: number) => div(sub(x, m.mean), sqrt(add(m.variance, eps)));

/** ONNX's InstanceNormalization with unit scale and zero bias (the affine part is the model's own). */
function unitInstanceNorm(x: Value, eps: number): Value {
  return instanceNormalization(x, perChannel(x, 1), perChannel(x, 0), eps);
}

/** A constant [C] of x's channel count and dtype, every entry v. */
function perChannel(x: Value, v: number): Value {
  const c = x.shape![1] as number;
  return x.graph.constant({ dtype: x.dtype, dims: [c], data: x.dtype === 'float64' ? new Float64Array(c).fill(v) : new Float32Array(c).fill(v) }, v ? 'ones' : 'zeros');
}

/**
 * (x - mean) / sqrt(var + eps) over every axis but the batch (PyTorch's F.layer_norm over x.shape[1:]):
 * one instance normalization of x seen as [N, 1, everything], so exported critics are one standard op
 * that every consumer runs (OpenCV's importer cannot broadcast a composite's per-sample statistics).
 */
export function layerNorm(x: Value, eps = 1e-5): Value {
  return reshape(unitInstanceNorm(reshape(x, [0, 1, -1]), eps), x.shape!.map((d, i) => (i === 0 ? 0 : (d as number))));
}

/** Per sample and channel, over the spatial axes (InstanceNorm2d without running statistics). */
export function instanceNorm(x: Value, eps = 1e-5): Value {
  return unitInstanceNorm(x, eps);
}

/** Per channel, over the batch and spatial axes (BatchNorm in training mode); the moments are returned too. */
export function batchNorm(x: Value, eps = 1e-5): { y: Value; moments: Moments } {
  const m = moments(x, [0, ...[...Array(x.rank! - 2).keys()].map((i) => i + 2)]);
  return { y: normalize(x, m, eps), moments: m };
}

/** y * gamma + beta with per-channel gamma and beta ([C]) on [N, C, ...]. */
export function affine(y: Value, gamma: Value, beta: Value): Value {
  const r = y.rank!;
  const perChannel = (v: Value) => reshapeChannel(v, r);
  return add(mul(y, perChannel(gamma)), perChannel(beta));
}

const reshapeChannel = (v: Value, rank: number) => reshape(v, [1, -1, ...new Array(rank - 2).fill(1)]);

const PYTORCH_BN_MOMENTUM = 0.1;

/**
 * nn.BatchNorm2d(c)'s learnable gain (N(1, 0.02) as DCGAN's init, or ones) and bias, and its running
 * statistics as state. With `classes`, conditional batch norm (de Vries et al. 2017; Miyato & Koyama 2018):
 * the gain and bias are tables [classes, c], one row per class, over shared running statistics.
 */
export function batchNorm2dSpecs(name: string, c: number, gainInit: ParamSpec['init'], classes?: number): { params: ParamSpec[]; states: { name: string; shape: number[]; init: ParamSpec['init'] }[] } {
  const shape = classes ? [classes, c] : [c];
  return {
    params: [
      { name: `${name}.weight`, shape, init: gainInit },
      { name: `${name}.bias`, shape, init: zerosInit },
    ],
    states: [
      { name: `${name}.running_mean`, shape: [c], init: zerosInit },
      { name: `${name}.running_var`, shape: [c], init: onesInit },
    ],
  };
}

/**
 * Batch norm with its gain and bias: batch statistics in training mode (and, where the pass may advance
 * state, the running averages PyTorch keeps: momentum 0.1, unbiased variance); in inference mode ONNX's
 * BatchNormalization on the running statistics, the one op every consumer of an exported model knows.
 * `labels` (int64 [N]) pick each sample's row of a conditional batch norm's gain and bias tables. On [N, C]
 * it is BatchNorm1d.
 */
export function batchNorm2d(h: Value, name: string, p: Record<string, Value>, ctx: ForwardContext | undefined, labels?: Value, momentum = PYTORCH_BN_MOMENTUM): Value {
  const [gain, bias] = [p[`${name}.weight`], p[`${name}.bias`]];
  const [mean, variance] = [`${name}.running_mean`, `${name}.running_var`];
  const c = h.shape![1] as number;
  // A conditional layer normalizes with unit gain and zero bias, then applies the sample's own row.
  const perSample = labels ? (t: Value) => reshape(gather(t, labels), [-1, c, ...new Array(h.rank! - 2).fill(1)]) : null;
  const classAffine = (y: Value) => add(mul(y, perSample!(gain)), perSample!(bias));
  if (ctx && !ctx.training) {
    if (!perSample) return batchNormalization(h, gain, bias, ctx.state(mean), ctx.state(variance), { epsilon: 1e-5 })[0];
    return classAffine(batchNormalization(h, perChannel(h, 1), perChannel(h, 0), ctx.state(mean), ctx.state(variance), { epsilon: 1e-5 })[0]);
  }
  const { y: normed, moments } = batchNorm(h);
  const y = perSample ? classAffine(normed) : affine(normed, gain, bias);
  if (ctx) {
    const count = h.shape!.filter((_, i) => i !== 1).reduce((a: number, b) => a * (typeof b === 'number' ? b : NaN), 1);
    const unbias = Number.isFinite(count) && count > 1 ? count / (count - 1) : 1;
    const m = momentum;
    const flat = (v: Value) => reshape(v, [-1]);
    ctx.setState(mean, add(mul(ctx.state(mean), 1 - m), mul(flat(moments.mean), m)));
    ctx.setState(variance, add(mul(ctx.state(variance), 1 - m), mul(flat(moments.variance), m * unbias)));
  }
  return y;
}
