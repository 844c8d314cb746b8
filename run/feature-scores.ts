// FID, KID and precision / recall / density / coverage on any network's features: `onnx-gan fid A B` (two
// image sets, no run needed, as pytorch-fid takes two paths) and `onnx-gan eval <run> --features net.onnx`
// (a run's generator against any real data). Without --features the scoring classifier's features are used.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fashionMnist } from '../data/image-files.ts';
import type { ImageSet } from '../data/images.ts';
import { isImage, loadData } from '../data/load.ts';
import { Rng } from '../data/random.ts';
import { FeatureNetwork } from '../eval/feature-network.ts';
import { ortDistances, ortGaussian, ortKernelSum } from '../eval/image-scores.ts';
import { frechetDistance, frechetDistanceOfFew, kid, manifoldScores, type ManifoldScores } from '../eval/scores.ts';
import { nodeRuntime } from '../runtime/node.ts';
import type { NodeEp, Runtime } from '../runtime/runtime.ts';
import { ClassifierRunner, imageBatch } from '../training/supervised.ts';

export interface FeatureOptions {
  /** An ONNX feature network (pytorch-fid's InceptionV3 exported, ...); absent: `classifier`'s features. */
  features?: string;
  featuresSize?: number;
  featuresOutput?: string;
  classifier?: string;
  threads?: number;
  ep?: NodeEp;
}

export interface FeatureScores {
  fid: number;
  kid: number;
  kidStd: number;
  manifold: ManifoldScores;
  /** Images scored on each side. */
  samples: [number, number];
  /** Feature size, and the network that made them. */
  d: number;
  network: string;
}

/** Images in [-1, 1] with their one-image shape: what features are taken of. */
export interface Images {
  images: Float32Array;
  shape: number[];
}

/** What turns images into feature vectors: a feature network, or the scoring classifier's features. */
export interface Extractor {
  network: string;
  features(x: Images): Promise<{ features: Float32Array; d: number }>;
  release(): Promise<void>;
}

export async function extractor(runtime: Runtime, o: FeatureOptions, what: string): Promise<Extractor> {
  const file = o.features ?? o.classifier ?? 'classifier.onnx';
  const flag = o.features ? '--features' : '--classifier';
  if (!existsSync(file)) throw new Error(`${what}: ${flag} ${file} not found${o.features ? '' : '; make it with onnx-gan train-classifier, or give --features net.onnx'}`);
  const bytes = new Uint8Array(readFileSync(file));
  if (o.features) {
    const net = await FeatureNetwork.open(runtime, bytes, `${what}: ${file}`, { size: o.featuresSize, output: o.featuresOutput, threads: o.threads });
    return { network: resolve(file), features: (x) => net.features(x.images, x.shape), release: () => net.release() };
  }
  if (o.featuresSize !== undefined || o.featuresOutput !== undefined) throw new Error(`${what}: --features-size and --features-output describe a --features network, which is not given`);
  const runner = await ClassifierRunner.create(runtime, bytes, o.threads).catch((e: Error) => Promise.reject(new Error(`${what}: classifier ${file}: ${e.message.split('\n')[0]}`)));
  return {
    network: resolve(file),
    async features(x) {
      if (runner.inputShape.join('x') !== x.shape.join('x')) throw new Error(`${what}: the classifier takes images [${runner.inputShape}], these are [${x.shape}]; give --features net.onnx for other images`);
      const r = await runner.run(x.images);
      return { features: r.features, d: r.featureSize };
    },
    release: () => runner.release(),
  };
}

/**
 * An image set by name or path (fashion-mnist, fashion-mnist-test, an IDX file, a folder), as [-1, 1]
 * floats; at most `limit` images, a random subset from the seed.
 */
export async function realImages(spec: string, o: { imageSize?: number; limit?: number; seed: number }, what: string): Promise<Images> {
  const set: ImageSet = spec === 'fashion-mnist-test' ? fashionMnist('t10k') : await imageSet(spec, o.imageSize, what);
  return imagesOf(set, o.limit, o.seed);
}

/** At most `limit` images of a set (a random subset from the seed), as [-1, 1] floats. */
export function imagesOf(set: ImageSet, limit: number | undefined, seed: number): Images {
  const n = Math.min(limit ?? set.count, set.count);
  const rows = n === set.count ? Uint32Array.from({ length: n }, (_, i) => i) : Rng.stream(seed, 'real-images').distinct(set.count, n);
  return { images: imageBatch(set, rows), shape: set.shape };
}

async function imageSet(spec: string, imageSize: number | undefined, what: string): Promise<ImageSet> {
  const data = await loadData(spec, { imageSize });
  if (!isImage(data)) throw new Error(`${what}: '${spec}' is 2-D points, not images`);
  return data;
}

/** FID, KID and PRDC between two feature sets of one network. */
export async function compareFeatures(runtime: Runtime, a: { features: Float32Array; d: number }, b: { features: Float32Array; d: number }, o: { seed: number; threads?: number; network: string }): Promise<FeatureScores> {
  const kernel = ortKernelSum(runtime, o.threads);
  const pairs = ortDistances(runtime, o.threads);
  try {
    const d = a.d;
    const distance = await featureFid(runtime, a.features, b.features, d, o.threads);
    const k = await kid(a.features, b.features, d, { seed: o.seed, kernelSum: kernel.sum });
    // PRDC's "real" side is the first set (pytorch-fid's order: real first).
    const manifold = await manifoldScores(a.features, b.features, d, { distances: pairs.distances });
    return { fid: distance, kid: k.mean, kidStd: k.std, manifold, samples: [a.features.length / d, b.features.length / d], d, network: o.network };
  } finally {
    await kernel.release();
    await pairs.release();
  }
}

/**
 * FID of two feature sets: where a set has no more rows than features its covariance is singular, and the
 * n x n route is exact and cheaper; otherwise Gaussian fits on onnxruntime and the d x d route.
 */
async function featureFid(runtime: Runtime, a: Float32Array, b: Float32Array, d: number, threads?: number): Promise<number> {
  if (Math.min(a.length, b.length) / d <= d) return frechetDistanceOfFew(a, b, d);
  const fits = ortGaussian(runtime, threads);
  try {
    return frechetDistance(await fits.gaussian(a, d), await fits.gaussian(b, d));
  } finally {
    await fits.release();
  }
}

/** `onnx-gan fid A B`: two image sets compared on one network's features. */
export async function fidOfSets(a: string, b: string, o: FeatureOptions & { imageSize?: number; samples?: number; seed: number }): Promise<FeatureScores> {
  const runtime = nodeRuntime(o.ep);
  const net = await extractor(runtime, o, 'fid');
  try {
    const [x, y] = [await realImages(a, { imageSize: o.imageSize, limit: o.samples, seed: o.seed }, 'fid'), await realImages(b, { imageSize: o.imageSize, limit: o.samples, seed: o.seed + 1 }, 'fid')];
    for (const [spec, s] of [[a, x], [b, y]] as const) if (s.images.length / s.shape.reduce((p, q) => p * q, 1) < 2) throw new Error(`fid: '${spec}' holds fewer than 2 images`);
    const [fa, fb] = [await net.features(x), await net.features(y)];
    return await compareFeatures(runtime, fa, fb, { seed: o.seed, threads: o.threads, network: net.network });
  } finally {
    await net.release();
  }
}
