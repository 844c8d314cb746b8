// Normalization layers built from primitive ops, so their gradients (and the gradients of those, for a
// gradient penalty) come from the rules already in graph/gradients.ts. Batch statistics are part of the
// graph: the gradient flows through the mean and variance, as in PyTorch's training mode.
import type { Value } from '../graph/ir.ts';
import { add, div, instanceNormalization, mul, reduceMean, reshape, sqrt, square, sub } from '../graph/ops.ts';

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
  const c = x.shape![1] as number;
  const ones = x.graph.constant({ dtype: x.dtype, dims: [c], data: x.dtype === 'float64' ? new Float64Array(c).fill(1) : new Float32Array(c).fill(1) }, 'ones');
  const zeros = x.graph.constant({ dtype: x.dtype, dims: [c], data: x.dtype === 'float64' ? new Float64Array(c) : new Float32Array(c) }, 'zeros');
  return instanceNormalization(x, ones, zeros, eps);
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
