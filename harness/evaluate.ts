// Image scores: `onnx-gan train-classifier` trains the scoring classifier with this project's own engine
// and writes classifier.onnx (with the floor: the scores between the train and test splits in its
// metadata); `onnx-gan eval <run>` scores a run's generator against the test split and merges the scores
// into the run's metrics.json.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Graph, type Value } from '../graph/ir.ts';
import { add, cast, div, matmul, mul, reduceSum, transpose } from '../graph/ops.ts';
import { fromBytes, toBytes } from '../graph/serialize.ts';
import { convClassifier } from '../models/classifier.ts';
import { Rng } from '../data/random.ts';
import { classifierOnnx } from '../export/model.ts';
import { accuracy, argmax, ClassifierRunner, imageBatch, trainClassifier, type LabelledImages } from '../training/supervised.ts';
import { nodeRuntime, type NodeEp } from '../training/runtime-node.ts';
import type { Runtime, Session } from '../training/runtime.ts';
import { Trainer } from '../training/trainer.ts';
import { parseConfigText } from './config.ts';
import { VERSION } from './export.ts';
import { writeFileAtomic } from './files.ts';
import { fashionMnist, type ImageSet } from './images.ts';
import { classCoverage, fid, kid, type KernelSum } from './scores.ts';
import { CKPT_DIR, loadLatest } from './run-dir.ts';
import { checkpointInfo, isImage, loadData, resolveSetup } from './setups.ts';

export interface ImageScores {
  /** Classifier-feature FID (not Inception FID). */
  fid: number;
  kid: number;
  kidStd: number;
  classHistogram: number[];
  classKL: number;
  classesCovered: number;
  samples: number;
}

export interface ClassifierReport {
  file: string;
  testAccuracy: number;
  epochs: number;
  epochLoss: number[];
  seconds: number;
  floor: ImageScores;
}

const labelled = (s: ImageSet): LabelledImages => {
  if (!s.labels) throw new Error(`${s.name}: the classifier needs labels`);
  return { shape: s.shape, images: s.images, labels: s.labels, count: s.count };
};

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
export async function scoreFeatures(gen: { features: Float32Array; logits: Float32Array }, ref: Float32Array, d: number, classes: number, o: { seed?: number; kernelSum?: KernelSum } = {}): Promise<ImageScores> {
  const n = gen.features.length / d;
  const predicted = new Uint8Array(n);
  for (let i = 0; i < n; i++) predicted[i] = argmax(gen.logits, i * classes, classes);
  const cov = classCoverage(predicted, classes);
  const k = await kid(gen.features, ref, d, { seed: o.seed, kernelSum: o.kernelSum });
  return { fid: fid(gen.features, ref, d), kid: k.mean, kidStd: k.std, classHistogram: cov.histogram, classKL: cov.klToUniform, classesCovered: cov.classesCovered, samples: n };
}

/** `count` distinct random rows of an image set as floats in [-1, 1]. */
const subset = (s: ImageSet, count: number, rng: Rng) => imageBatch(labelled(s), rng.distinct(s.count, Math.min(count, s.count)));

const allOf = (s: ImageSet) => imageBatch(labelled(s), Uint32Array.from({ length: s.count }, (_, i) => i));

export async function trainClassifierCommand(o: { out: string; epochs: number; batch: number; lr: number; seed: number; threads?: number; samples: number; onProgress?: (step: number, total: number, loss: number) => void; log?: (m: string) => void }): Promise<ClassifierReport> {
  const say = o.log ?? (() => {});
  const train = fashionMnist('train');
  const test = fashionMnist('t10k');
  const model = convClassifier({ image: train.shape });
  const runtime = nodeRuntime();
  const t0 = performance.now();
  const r = await trainClassifier(runtime, model, labelled(train), { epochs: o.epochs, batch: o.batch, lr: o.lr, seed: o.seed, threads: o.threads, onProgress: o.onProgress });
  const seconds = (performance.now() - t0) / 1000;
  const meta = (extra: Record<string, string>) => ({ 'onnx-gan.version': VERSION, data: 'fashion-mnist', input: `x [N, ${model.inputShape}] float32 in [-1, 1]`, ...extra });
  let bytes = classifierOnnx(model, r.layout, r.params, { metadata: meta({}), producerVersion: VERSION });
  const runner = await ClassifierRunner.create(runtime, bytes, o.threads);
  const kernel = ortKernelSum(runtime, o.threads);
  try {
    const testOut = await runner.run(allOf(test));
    const testAccuracy = accuracy(testOut.logits, model.classes, test.labels!);
    say(`test accuracy ${(100 * testAccuracy).toFixed(2)} %; scoring the floor (train vs test split)`);
    const trainOut = await runner.run(subset(train, o.samples, Rng.stream(o.seed, 'floor')));
    const floor = await scoreFeatures(trainOut, testOut.features, model.featureSize, model.classes, { seed: o.seed, kernelSum: kernel.sum });
    bytes = classifierOnnx(model, r.layout, r.params, {
      metadata: meta({ test_accuracy: String(testAccuracy), epochs: String(o.epochs), floor: JSON.stringify(floor) }),
      producerVersion: VERSION,
    });
    writeFileAtomic(o.out, bytes);
    return { file: resolve(o.out), testAccuracy, epochs: o.epochs, epochLoss: r.epochLoss, seconds, floor };
  } finally {
    await runner.release();
    await kernel.release();
  }
}

/** A class-conditional run's scores: per class, generated samples of class k against test images of class k. */
export interface ConditionalScores {
  /** Share of generated samples of class k that the scoring classifier calls k, over all classes. */
  accuracy: number;
  /** Mean of the per-class (intra-class) FIDs. */
  meanIntraFid: number;
  perClass: { class: string; fid: number; accuracy: number; samples: number; references: number }[];
}

export interface EvalResult extends ImageScores {
  run: string;
  iteration: number;
  classifier: string;
  classifierTestAccuracy: number | null;
  floor: ImageScores | null;
  /** Class-conditional runs only. */
  conditional?: ConditionalScores;
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

/** Score a run's newest good checkpoint: `samples` generated images against the whole test split. */
export async function evalRun(run: string, o: { classifier: string; samples: number; seed: number; threads?: number; ep?: NodeEp; log?: (m: string) => void }): Promise<EvalResult> {
  const dir = resolve(run);
  const cfgPath = join(dir, 'config.json');
  if (!existsSync(cfgPath)) throw new Error(`eval: ${dir} is not a run directory (no config.json)`);
  if (!existsSync(o.classifier)) throw new Error(`eval: classifier ${o.classifier} not found; make it with onnx-gan train-classifier --out ${o.classifier}`);
  const cfg = parseConfigText(readFileSync(cfgPath, 'utf8'), cfgPath);
  const data = loadData(cfg.data, cfg);
  if (!isImage(data)) throw new Error(`eval: run ${dir} trained on '${cfg.data}', not images; its metrics.json already has the 2-D scores`);
  const bytes = new Uint8Array(readFileSync(o.classifier));
  let meta: Record<string, string>;
  try {
    meta = fromBytes(bytes).metadata;
  } catch (e) {
    throw new Error(`eval: classifier ${o.classifier}: ${(e as Error).message.split('\n')[0]}`);
  }
  const runtime = nodeRuntime(o.ep);
  const runner = await ClassifierRunner.create(runtime, bytes, o.threads).catch((e: Error) => Promise.reject(new Error(`eval: classifier ${o.classifier}: ${e.message.split('\n')[0]}`)));
  if (runner.inputShape.join('x') !== data.shape.join('x')) {
    await runner.release();
    throw new Error(`eval: the classifier takes images [${runner.inputShape}], run ${dir} generates [${data.shape}]`);
  }
  const { setup, nCritic } = resolveSetup(cfg, data);
  const trainer = await Trainer.create({ setup, runtime, data, seed: cfg.seed, nCritic, threads: o.threads });
  const kernel = ortKernelSum(runtime, o.threads);
  try {
    const state = loadLatest(join(dir, CKPT_DIR), checkpointInfo(cfg, trainer.plan), o.log ?? (() => {}), 'eval')?.state;
    if (!state) throw new Error(`eval: ${dir} has no checkpoint yet`);
    const { latent, classes } = trainer.plan;
    const rng = Rng.stream(o.seed, 'eval-images');
    const chunks: Float32Array[] = [];
    // A conditional generator makes the same number of samples of every class, class by class.
    const perClass = classes ? Math.ceil(o.samples / classes) : 0;
    const total = classes ? perClass * classes : o.samples;
    for (let i = 0; i < total; i += 500) {
      const m = Math.min(500, total - i);
      const labels = classes ? Float32Array.from({ length: m }, (_, j) => Math.floor((i + j) / perClass)) : undefined;
      chunks.push(await trainer.generate(state, rng.fillNormal(new Float32Array(m * latent)), labels));
    }
    const images = new Float32Array(chunks.reduce((a, c) => a + c.length, 0));
    chunks.reduce((at, c) => (images.set(c, at), at + c.length), 0);
    const test = fashionTestFor(cfg.data, data);
    const ref = await runner.run(allOf(test));
    const gen = await runner.run(images);
    const scores = await scoreFeatures(gen, ref.features, gen.featureSize, gen.classes, { seed: o.seed, kernelSum: kernel.sum });
    if (classes && classes !== gen.classes) throw new Error(`eval: the generator is conditional on ${classes} classes, the classifier tells ${gen.classes}`);
    const conditional = classes ? conditionalScores(gen, { features: ref.features, labels: test.labels! }, data.classes!, perClass) : undefined;
    const result: EvalResult = {
      run: dir,
      iteration: state.iteration,
      classifier: resolve(o.classifier),
      classifierTestAccuracy: meta.test_accuracy ? Number(meta.test_accuracy) : null,
      floor: meta.floor ? JSON.parse(meta.floor) : null,
      ...scores,
      ...(conditional ? { conditional } : {}),
    };
    const metricsPath = join(dir, 'metrics.json');
    const prior = existsSync(metricsPath) ? JSON.parse(readFileSync(metricsPath, 'utf8')) : {};
    const { run: _r, ...kept } = result;
    writeFileAtomic(metricsPath, JSON.stringify({ ...prior, eval: kept }, null, 2) + '\n');
    return result;
  } finally {
    await trainer.release();
    await runner.release();
    await kernel.release();
  }
}

/** The reference images: Fashion-MNIST's test split for runs on Fashion-MNIST (train split), else refused. */
function fashionTestFor(spec: string, data: ImageSet): ImageSet {
  if (spec !== 'fashion-mnist') throw new Error(`eval: the scores compare against Fashion-MNIST's test split; run data '${spec}' (images [${data.shape}]) has no such reference`);
  return fashionMnist('t10k');
}
