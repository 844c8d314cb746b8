// Image scores from one classifier's features and logits: FID and KID (KID's kernel sums as an ONNX
// MatMul on onnxruntime), the class histogram and its KL to uniform, and for class-conditional runs the
// intra-class FID and the conditioning accuracy. `onnx-gan eval` (run/evaluate.ts) feeds it.


import { Graph, type Value } from '../graph/ir.ts';
import { add, cast, div, matmul, max, mul, reduceMean, reduceSum, reshape, shapeOf, slice, sub, transpose } from '../graph/ops.ts';
import { toBytes } from '../graph/serialize.ts';
import { argmax } from '../training/supervised.ts';
import type { Runtime, Session } from '../runtime/runtime.ts';
import { classCoverage, featureRows, fid, inceptionScore, kid, manifoldScores, type Gaussian, type KernelSum, type ManifoldScores, type SquaredDistances } from './scores.ts';

export interface ImageScores {
  /** Classifier-feature FID (not Inception FID). */
  fid: number;
  kid: number;
  kidStd: number;
  classHistogram: number[];
  classKL: number;
  classesCovered: number;
  samples: number;
  /** Precision, recall (k = 3), density, coverage (k = 5) on the same features; absent in older reports. */
  manifold?: ManifoldScores;
  /** Inception Score on the scoring classifier's logits (10 splits); absent in older reports. */
  inceptionScore?: { mean: number; std: number };
}

/**
 * A Gaussian fit of feature rows on onnxruntime, in float64: (X - mu)^T (X - mu) / (n - 1) as one MatMul,
 * what makes FID on Inception's 2048 features over 10,000 images seconds instead of a minute.
 */
export function ortGaussian(runtime: Runtime, threads?: number): { gaussian(features: Float32Array, d: number): Promise<Gaussian>; release(): Promise<void> } {
  const g = new Graph('gaussian');
  const x = cast(g.input('x', 'float32', ['n', 'd']), 'float64');
  const mu = reduceMean(x, [0], true);
  const c = sub(x, mu);
  const n = cast(reshape(slice(shapeOf(x), [0], [1]), []), 'float64');
  g.output(reshape(mu, [-1]), 'mean');
  g.output(div(matmul(transpose(c, [1, 0]), c), sub(n, 1)), 'cov');
  const session = runtime.createSession(toBytes(g), { threads });
  return {
    async gaussian(features, d) {
      const rows = featureRows(features, d);
      const r = await (await session).run({ x: { dtype: 'float32', dims: [rows, d], data: features } });
      return { mean: r.mean.data as Float64Array, cov: r.cov.data as Float64Array, d };
    },
    release: async () => (await session).release(),
  };
}

/**
 * PRDC's pairwise squared distances on onnxruntime: |x|^2 + |y|^2 - 2 x.y in float64 (in float32 the
 * cancellation moves samples across the k-NN radii), one MatMul per block.
 */
export function ortDistances(runtime: Runtime, threads?: number): { distances: SquaredDistances; release(): Promise<void> } {
  const g = new Graph('squared_distances');
  const x = cast(g.input('x', 'float32', ['m', 'd']), 'float64');
  const y = cast(g.input('y', 'float32', ['n', 'd']), 'float64');
  const norms = (v: Value) => reduceSum(mul(v, v), [1], true);
  const sq = sub(add(norms(x), reshape(norms(y), [1, -1])), mul(matmul(x, transpose(y, [1, 0])), 2));
  g.output(cast(max(sq, 0), 'float32'), 'distances');
  const session = runtime.createSession(toBytes(g), { threads });
  return {
    async distances(a, b, m, n, d) {
      const r = await (await session).run({ x: { dtype: 'float32', dims: [m, d], data: a }, y: { dtype: 'float32', dims: [n, d], data: b } });
      return r.distances.data as Float32Array;
    },
    release: async () => (await session).release(),
  };
}

/**
 * KID's kernel sums on onnxruntime: one float32 MatMul per block pair (as the features are float32), the
 * cube and the sum in float64. Sessions are kept per block size.
 */
export function ortKernelSum(runtime: Runtime, threads?: number): { sum: KernelSum; release(): Promise<void> } {
  const sessions = new Map<string, Promise<Session>>();
  const build = (m: number, d: number) => {
    const g = new Graph('kernel_sum');
    const x = g.input('x', 'float32', [m, d]);
    const y = g.input('y', 'float32', [m, d]);
    const cube = (dots: Value) => ((t) => mul(mul(t, t), t))(cast(add(div(dots, d), 1), 'float64'));
    g.output(reduceSum(cube(matmul(x, transpose(y, [1, 0])))), 'all');
    g.output(reduceSum(cube(reduceSum(mul(x, x), [1]))), 'diagonal');
    return runtime.createSession(toBytes(g), { threads });
  };
  return {
    async sum(x, y, m, d, sameBlock) {
      const key = `${m}x${d}`;
      if (!sessions.has(key)) sessions.set(key, build(m, d));
      const s = await sessions.get(key)!;
      const r = await s.run({ x: { dtype: 'float32', dims: [m, d], data: x }, y: { dtype: 'float32', dims: [m, d], data: y } });
      const all = Number((r.all.data as Float64Array)[0]);
      return sameBlock ? all - Number((r.diagonal.data as Float64Array)[0]) : all;
    },
    async release() {
      for (const s of sessions.values()) await (await s).release();
    },
  };
}

/** Scores of `generated` features/logits against reference features, all from the same classifier. */
export async function scoreFeatures(gen: { features: Float32Array; logits: Float32Array }, ref: Float32Array, d: number, classes: number, o: { seed?: number; kernelSum?: KernelSum; distances?: SquaredDistances } = {}): Promise<ImageScores> {
  const n = gen.features.length / d;
  const predicted = new Uint8Array(n);
  for (let i = 0; i < n; i++) predicted[i] = argmax(gen.logits, i * classes, classes);
  const cov = classCoverage(predicted, classes);
  const k = await kid(gen.features, ref, d, { seed: o.seed, kernelSum: o.kernelSum });
  const manifold = await manifoldScores(ref, gen.features, d, { distances: o.distances });
  const inception = inceptionScore(gen.logits, classes);
  return { fid: fid(gen.features, ref, d), kid: k.mean, kidStd: k.std, classHistogram: cov.histogram, classKL: cov.klToUniform, classesCovered: cov.classesCovered, samples: n, manifold, inceptionScore: inception };
}

/** A class-conditional run's scores: per class, generated samples of class k against test images of class k. */
export interface ConditionalScores {
  /** Share of generated samples of class k that the scoring classifier calls k, over all classes. */
  accuracy: number;
  /** Mean of the per-class (intra-class) FIDs. */
  meanIntraFid: number;
  perClass: { class: string; fid: number; accuracy: number; samples: number; references: number }[];
}

/**
 * Intra-class FID and conditioning accuracy from classifier outputs: `gen` holds `perClass` samples of
 * each class in turn, `ref` the test set's features with its labels.
 */
export function conditionalScores(gen: { features: Float32Array; logits: Float32Array; featureSize: number; classes: number }, ref: { features: Float32Array; labels: Uint8Array }, names: string[], perClass: number): ConditionalScores {
  const d = gen.featureSize;
  const ofClass = (k: number) => {
    const out: number[] = [];
    ref.labels.forEach((l, i) => l === k && out.push(...ref.features.subarray(i * d, (i + 1) * d)));
    return Float32Array.from(out);
  };
  let right = 0;
  const per = names.map((name, k) => {
    let hits = 0;
    for (let i = k * perClass; i < (k + 1) * perClass; i++) if (argmax(gen.logits, i * gen.classes, gen.classes) === k) hits++;
    right += hits;
    // Generated samples come class by class: class k's are one block.
    const mine = gen.features.subarray(k * perClass * d, (k + 1) * perClass * d);
    const theirs = ofClass(k);
    return { class: name, fid: fid(mine, theirs, d), accuracy: hits / perClass, samples: perClass, references: theirs.length / d };
  });
  return { accuracy: right / (perClass * names.length), meanIntraFid: per.reduce((a, c) => a + c.fid, 0) / per.length, perClass: per };
}
