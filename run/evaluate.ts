// Image scores: `onnx-gan train-classifier` trains the scoring classifier with this project's own engine
// and writes classifier.onnx (with the floor: the scores between the train and test splits in its
// metadata); `onnx-gan eval <run>` scores a run's generator against the test split and merges the scores
// into the run's metrics.json.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { z } from 'zod';
import { join, resolve } from 'node:path';
import { fromBytes } from '../graph/serialize.ts';
import { convClassifier, SMALL_CLASSIFIER, VGG_CLASSIFIER } from '../models/classifier.ts';
import { Rng } from '../data/random.ts';
import { classifierOnnx } from '../export/model.ts';
import { accuracy, ClassifierRunner, imageBatch, trainClassifier, checkProgress, type SupervisedProgress } from '../training/supervised.ts';
import { decodeSafetensors, encodeSafetensors, identityDifference } from '../training/checkpoint.ts';
import { jsonObject } from './json.ts';
import { nodeRuntime } from '../runtime/node.ts';
import type { NodeEp, Runtime } from '../runtime/runtime.ts';
import type { Config } from './config.ts';
import { VERSION } from './export.ts';
import { writeFileAtomic, readJsonObject } from './files.ts';
import { fashionMnist } from '../data/image-files.ts';
import { type ImageSet, labelled } from '../data/images.ts';
import { compareFeatures, extractor, imagesOf, realImages, type Extractor, type FeatureOptions, type FeatureScores } from './feature-scores.ts';
import { checkpointInfo, resolveSetup, runData } from './setup.ts';
import { eventWriter } from './tfevents.ts';
import { isImage } from '../data/load.ts';
import { type ConditionalScores, type ImageScores, conditionalScores, ortDistances, ortKernelSum, scoreFeatures } from '../eval/image-scores.ts';
import { StepCompiler } from '../training/step.ts';
import { Sampler } from '../training/sampler.ts';
import { type Run, openRun } from './open.ts';

export interface ClassifierReport {
  file: string;
  testAccuracy: number;
  epochs: number;
  epochLoss: number[];
  seconds: number;
  floor: ImageScores;
}

/** `count` distinct random rows of an image set as floats in [-1, 1]. */
const subset = (s: ImageSet, count: number, rng: Rng) => imageBatch(labelled(s), rng.distinct(s.count, Math.min(count, s.count)));

const allOf = (s: ImageSet) => imageBatch(labelled(s), Uint32Array.from({ length: s.count }, (_, i) => i));

/** The scoring classifiers `train-classifier --arch` makes. */
export const CLASSIFIER_ARCHS = { vgg: VGG_CLASSIFIER, small: SMALL_CLASSIFIER };
export type ClassifierArch = keyof typeof CLASSIFIER_ARCHS;

export interface ClassifierTrainOptions {
  out: string;
  arch: ClassifierArch;
  epochs: number;
  batch: number;
  lr: number;
  shift: number;
  seed: number;
  threads?: number;
  samples: number;
  /** Go on from the progress an interrupted training left beside `out`. */
  resume?: boolean;
  /** Start over even where such progress is there (it is replaced). */
  force?: boolean;
  stopRequested?: () => boolean;
  onProgress?: (step: number, total: number, loss: number) => void;
  log?: (m: string) => void;
}

/** Where an interrupted `train-classifier --out FILE` keeps its progress. */
export const progressFile = (out: string) => `${out}.progress.safetensors`;
const PROGRESS_FORMAT = 'onnx-gan-classifier-progress/1';

/** Or, when `stopRequested` stopped it, where its progress is saved (`--resume` goes on from it). */
export async function trainScoringClassifier(o: ClassifierTrainOptions): Promise<ClassifierReport | { interrupted: true; step: number; steps: number; progress: string }> {
  const say = o.log ?? (() => {});
  const train = fashionMnist('train');
  const test = fashionMnist('t10k');
  const model = convClassifier({ image: train.shape, ...CLASSIFIER_ARCHS[o.arch] });
  // What the saved progress must agree on for going on from it to equal an uninterrupted training.
  const identity = { arch: o.arch, epochs: o.epochs, batch: o.batch, lr: o.lr, shift: o.shift, seed: o.seed, images: train.count };
  const saved = progressFile(o.out);
  const steps = Math.floor(train.count / o.batch) * o.epochs;
  let from: SupervisedProgress | undefined;
  if (existsSync(saved) && !o.force) {
    if (!o.resume) throw new Error(`--out ${o.out}: an interrupted training left ${saved}; --resume goes on from it, --force starts over`);
    from = readProgress(saved, identity);
    // Checked here as well as in trainClassifier: refused naming the file, before saying it goes on.
    checkProgress(from, { model, batch: o.batch, epochs: o.epochs, images: train.count }, saved);
    say(`going on from step ${from.step} of ${steps} (${saved})`);
  } else if (o.resume) say(`--resume: no ${saved}; starting from step 0`);
  const save = (p: SupervisedProgress) => writeFileAtomic(saved, encodeSafetensors(
    Object.fromEntries([['params', p.params], ...p.slots.map((d, i) => [`slot${i}`, d] as const)].map(([k, d]) => [k, { dtype: 'F32' as const, shape: [d.length], data: d }])),
    { format: PROGRESS_FORMAT, identity: JSON.stringify(identity), step: String(p.step), epoch_loss: JSON.stringify(p.epochLoss), loss_sum: String(p.lossSum) },
  ));
  const runtime = nodeRuntime();
  const t0 = performance.now();
  const r = await trainClassifier(runtime, model, labelled(train), { epochs: o.epochs, batch: o.batch, lr: o.lr, shift: o.shift, seed: o.seed, threads: o.threads, onProgress: o.onProgress, from, stopRequested: o.stopRequested, onEpoch: save });
  if (r.status === 'interrupted') {
    save(r.progress);
    return { interrupted: true, step: r.steps, steps, progress: saved };
  }
  const seconds = (performance.now() - t0) / 1000;
  const meta = (extra: Record<string, string>) => ({ 'onnx-gan.version': VERSION, data: 'fashion-mnist', input: `x [N, ${model.inputShape}] float32 in [-1, 1]`, ...extra });
  let bytes = classifierOnnx(model, r.layout, r.params, { metadata: meta({}), producerVersion: VERSION });
  const runner = await ClassifierRunner.create(runtime, bytes, o.threads);
  const kernel = ortKernelSum(runtime, o.threads);
  const pairs = ortDistances(runtime, o.threads);
  try {
    const testOut = await runner.run(allOf(test));
    const testAccuracy = accuracy(testOut.logits, model.classes, test.labels!);
    say(`test accuracy ${(100 * testAccuracy).toFixed(2)} %; scoring the floor (train vs test split)`);
    const trainOut = await runner.run(subset(train, o.samples, Rng.stream(o.seed, 'floor')));
    const floor = await scoreFeatures(trainOut, testOut.features, model.featureSize, model.classes, { seed: o.seed, kernelSum: kernel.sum, distances: pairs.distances });
    bytes = classifierOnnx(model, r.layout, r.params, {
      metadata: meta({ test_accuracy: String(testAccuracy), arch: o.arch, epochs: String(o.epochs), shift: String(o.shift), floor: JSON.stringify(floor) }),
      producerVersion: VERSION,
    });
    writeFileAtomic(o.out, bytes);
    rmSync(saved, { force: true });
    return { file: resolve(o.out), testAccuracy, epochs: o.epochs, epochLoss: r.epochLoss, seconds, floor };
  } finally {
    await runner.release();
    await kernel.release();
    await pairs.release();
  }
}

const ProgressMeta = z.object({
  format: z.literal(PROGRESS_FORMAT, { error: 'not a train-classifier progress file' }),
  identity: z.string(),
  step: z.string().regex(/^\d{1,12}$/, { error: 'not a step count' }).transform(Number),
  epoch_loss: z.string(),
  loss_sum: z.string().transform(Number).pipe(z.number({ error: 'not a number' })),
});

const ProgressSettings = z.strictObject({
  arch: z.enum(Object.keys(CLASSIFIER_ARCHS) as [ClassifierArch]),
  epochs: z.number().int().positive(),
  batch: z.number().int().positive(),
  lr: z.number().positive(),
  shift: z.number().int().nonnegative(),
  seed: z.number().int(),
  images: z.number().int().positive(),
});

/** A progress file read back and checked against its format; `settings`: what it was saved under. */
function openProgress(file: string) {
  const { tensors, metadata } = decodeSafetensors(new Uint8Array(readFileSync(file)), file);
  const m = ProgressMeta.safeParse(metadata);
  if (!m.success) throw new Error(`${file}: metadata '${m.error.issues[0].path.join('.')}' ${m.error.issues[0].message}`);
  const settings = ProgressSettings.safeParse(jsonObject(m.data.identity, `${file}: its settings`));
  if (!settings.success) throw new Error(`${file}: its setting '${settings.error.issues[0].path.join('.')}' ${settings.error.issues[0].message}`);
  return { tensors, meta: m.data, settings: settings.data };
}

/** The settings an interrupted `train-classifier --out out` was started with (null: none is there), so `--resume` needs no others. */
export function interruptedSettings(out: string): z.infer<typeof ProgressSettings> | null {
  return existsSync(progressFile(out)) ? openProgress(progressFile(out)).settings : null;
}

/** A progress file to go on from: saved under these settings, with the tensors a classifier's training keeps. */
function readProgress(file: string, identity: Record<string, unknown>): SupervisedProgress {
  const { tensors, meta, settings } = openProgress(file);
  const d = identityDifference(settings, identity);
  if (d) throw new Error(`--resume: --${d.key} is ${JSON.stringify(d.now)}, the interrupted training's (${file}) has ${JSON.stringify(d.before)}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(meta.epoch_loss);
  } catch {
    /* refused below */
  }
  const epochLoss = z.array(z.number()).safeParse(parsed);
  if (!epochLoss.success) throw new Error(`${file}: metadata 'epoch_loss' is not a list of numbers`);
  const slots = Object.keys(tensors).filter((k) => /^slot\d+$/.test(k)).sort();
  if (!tensors.params) throw new Error(`${file}: no tensor 'params'`);
  return { step: meta.step, params: tensors.params.data, slots: slots.map((k) => tensors[k].data), epochLoss: epochLoss.data, lossSum: meta.loss_sum };
}

/** What every eval result says of where its samples came from. */
interface RunScore {
  run: string;
  iteration: number;
  /** Whether the samples came from the generator's weight average (runs trained with --ema). */
  ema: boolean;
  /** The truncation the latents were drawn with, or psi of the mean-latent truncation (null: none). */
  truncation: number | null;
  /** The tensor mean-latent truncation pulled toward its mean (null: the latents were truncated, or none). */
  truncationAt: string | null;
}

export interface EvalResult extends ImageScores, RunScore {
  classifier: string;
  classifierTestAccuracy: number | null;
  floor: ImageScores | null;
  /** Class-conditional runs only. */
  conditional?: ConditionalScores;
}

export interface EvalOptions {
  classifier: string;
  samples: number;
  seed: number;
  /**
   * Draw the latents within +-psi standard deviations (the truncation trick); absent: plain N(0, 1). With
   * `truncationAt`: psi of the mean-latent truncation instead.
   */
  truncation?: number;
  /**
   * Mean-latent truncation (StyleGAN's): this tensor of an imported generator (its mapping network's output
   * w, named as in its ONNX graph) becomes w_mean + psi (w - w_mean), w_mean its mean over MEAN_LATENT_DRAWS latents.
   */
  truncationAt?: string;
  /** false: the trained generator's own weights even when the run keeps an average; absent: the average if any. */
  ema?: boolean;
  threads?: number;
  ep?: NodeEp;
  log?: (m: string) => void;
}

/** Score a run's newest good checkpoint: `samples` generated images against the whole test split. */
export async function evalRun(run: string, o: EvalOptions): Promise<EvalResult> {
  const opened = openRun(run, 'eval');
  // Before anything heavy (the data, the models) is loaded.
  if (!existsSync(o.classifier)) throw new Error(`eval: classifier ${o.classifier} not found; make it with onnx-gan train-classifier --out ${o.classifier}`);
  return opened.locked('onnx-gan eval', o.log, () => evalIn(opened, o));
}

/**
 * The scoring classifier with what scoring needs beside it: the test split's features (computed once), and
 * KID's and PRDC's products on onnxruntime. `eval` scores one checkpoint with it; `train --eval-every`
 * scores the run as it goes.
 */
export class ClassifierScorer {
  private constructor(
    private readonly runner: ClassifierRunner,
    private readonly ref: { features: Float32Array; labels: Uint8Array },
    private readonly kernel: ReturnType<typeof ortKernelSum>,
    private readonly pairs: ReturnType<typeof ortDistances>,
    readonly meta: Record<string, string>,
    readonly classNames: string[] | undefined,
  ) {}

  /** `what` names the command in errors (eval, --eval-every); `data` is the run's, which the classifier must take. */
  static async open(file: string, cfg: Config, data: ImageSet, runtime: Runtime, threads: number | undefined, what: string): Promise<ClassifierScorer> {
    if (!existsSync(file)) throw new Error(`${what}: classifier ${file} not found; make it with onnx-gan train-classifier --out ${file}`);
    const bytes = new Uint8Array(readFileSync(file));
    let meta: Record<string, string>;
    try {
      meta = fromBytes(bytes).metadata;
    } catch (e) {
      throw new Error(`${what}: classifier ${file}: ${(e as Error).message.split('\n')[0]}`);
    }
    const runner = await ClassifierRunner.create(runtime, bytes, threads).catch((e: Error) => Promise.reject(new Error(`${what}: classifier ${file}: ${e.message.split('\n')[0]}`)));
    try {
      if (runner.inputShape.join('x') !== data.shape.join('x')) throw new Error(`${what}: the classifier takes images [${runner.inputShape}], the run generates [${data.shape}]`);
      const test = fashionTestFor(cfg.data, data, what);
      const ref = await runner.run(allOf(test));
      return new ClassifierScorer(runner, { features: ref.features, labels: test.labels! }, ortKernelSum(runtime, threads), ortDistances(runtime, threads), meta, data.classes);
    } catch (e) {
      await runner.release();
      throw e;
    }
  }

  /** Scores of generated images (class by class, `perClass` each, for a conditional generator of `classes`). */
  async score(images: Float32Array, seed: number, conditional?: { classes: number; perClass: number }): Promise<ImageScores & { conditional?: ConditionalScores }> {
    const gen = await this.runner.run(images);
    const scores = await scoreFeatures(gen, this.ref.features, gen.featureSize, gen.classes, { seed, kernelSum: this.kernel.sum, distances: this.pairs.distances });
    if (!conditional) return scores;
    if (conditional.classes !== gen.classes) throw new Error(`eval: the generator is conditional on ${conditional.classes} classes, the classifier tells ${gen.classes}`);
    return { ...scores, conditional: conditionalScores(gen, this.ref, this.classNames!, conditional.perClass) };
  }

  async release(): Promise<void> {
    await this.runner.release();
    await this.kernel.release();
    await this.pairs.release();
  }
}

/** The scalars of a score that TensorBoard shows beside the run's curves. */
export const scoreScalars = (s: ImageScores & { conditional?: ConditionalScores }): Record<string, number> => ({
  'eval/classifier_fid': s.fid,
  'eval/kid': s.kid,
  'eval/class_kl': s.classKL,
  ...(s.manifold ? { 'eval/precision': s.manifold.precision, 'eval/recall': s.manifold.recall, 'eval/density': s.manifold.density, 'eval/coverage': s.manifold.coverage } : {}),
  ...(s.inceptionScore ? { 'eval/inception_score': s.inceptionScore.mean } : {}),
  ...(s.conditional ? { 'eval/conditioning_accuracy': s.conditional.accuracy, 'eval/mean_intra_class_fid': s.conditional.meanIntraFid } : {}),
});

/** `samples` images from a generator, 500 at a time; a conditional one makes as many of each class, class by class. */
export async function generateForScoring(generate: (z: Float32Array, labels?: Float32Array) => Promise<Float32Array>, latent: number, classes: number, samples: number, rng: Rng, truncation?: number): Promise<{ images: Float32Array; perClass: number }> {
  const chunks: Float32Array[] = [];
  const perClass = classes ? Math.ceil(samples / classes) : 0;
  const total = classes ? perClass * classes : samples;
  for (let i = 0; i < total; i += 500) {
    const m = Math.min(500, total - i);
    const labels = classes ? Float32Array.from({ length: m }, (_, j) => Math.floor((i + j) / perClass)) : undefined;
    const z = new Float32Array(m * latent);
    chunks.push(await generate(truncation ? rng.fillTruncatedNormal(z, truncation) : rng.fillNormal(z), labels));
  }
  const images = new Float32Array(chunks.reduce((a, c) => a + c.length, 0));
  chunks.reduce((at, c) => (images.set(c, at), at + c.length), 0);
  return { images, perClass };
}

/** What both kinds of eval take to draw their samples. */
type SampleOptions = Pick<EvalOptions, 'samples' | 'seed' | 'truncation' | 'truncationAt' | 'ema' | 'threads' | 'ep' | 'log'>;

/** Latent vectors mean-latent truncation averages w over (rosinality's StyleGAN2 port takes 4,096; more costs little). */
export const MEAN_LATENT_DRAWS = 10000;

/** The samples a scorer sees, with the run they came from. */
interface Drawn {
  data: ImageSet;
  runtime: Runtime;
  classes: number;
  images: Float32Array;
  perClass: number;
}

/**
 * The frame both kinds of eval share: the run's data (images only), the scorer `open` makes for them, its
 * newest good checkpoint sampled by its generator (the average unless `ema: false`), and the result kept in
 * metrics.json under `key` and in the run's events. `open` runs before the generator is compiled, so a
 * classifier or network that does not fit is refused first.
 */
async function scoreRun<T extends { release(): Promise<void> }, R>(
  { dir, config: cfg, latest }: Run,
  o: SampleOptions,
  key: 'eval' | 'evalFeatures',
  open: (data: ImageSet, runtime: Runtime) => Promise<T>,
  score: (scorer: T, drawn: Drawn) => Promise<{ scores: R; scalars: (r: R) => Record<string, number> }>,
): Promise<R & RunScore> {
  if (o.truncationAt !== undefined && o.truncation === undefined) throw new Error(`--truncation-at ${o.truncationAt}: pulls that tensor toward its mean by --truncation psi, which is not given`);
  const data = await runData(cfg, { onNote: o.log });
  if (!isImage(data)) throw new Error(`eval: run ${dir} trained on '${cfg.data}', not images; its metrics.json already has the 2-D scores`);
  const runtime = nodeRuntime(o.ep);
  const scorer = await open(data, runtime);
  // Only the sampler is compiled: scoring needs samples, not training steps.
  const compiler = new StepCompiler(resolveSetup(cfg, data).setup);
  const compile = () => {
    try {
      return Sampler.compile(compiler, runtime, o.threads, { ema: o.ema, truncateAt: o.truncationAt });
    } catch (e) {
      // The sampler's refusal of the tensor name is the flag's: say which flag (other refusals are as they are).
      const m = (e as Error).message;
      throw o.truncationAt !== undefined && m.startsWith(`truncation at '${o.truncationAt}'`) ? new Error(`--truncation-at: ${m}`) : e;
    }
  };
  let opened: Sampler | undefined;
  try {
    const sampler = (opened = compile());
    const state = latest(checkpointInfo(cfg, compiler.shape()), o.log ?? (() => {}), 'eval')?.state;
    if (!state) throw new Error(`eval: ${dir} has no checkpoint yet`);
    const { latent, classes } = compiler;
    let generate = (z: Float32Array, labels?: Float32Array) => sampler.generate(state, z, labels);
    if (o.truncationAt !== undefined) {
      const draws = Rng.stream(o.seed, 'mean-latent').fillNormal(new Float32Array(MEAN_LATENT_DRAWS * latent));
      const mean = await sampler.meanLatent(state, draws, classes ? Float32Array.from({ length: MEAN_LATENT_DRAWS }, (_, i) => i % classes) : undefined);
      const psi = o.truncation!;
      generate = (z, labels) => sampler.generate(state, z, labels, { psi, mean });
    }
    const latents = o.truncationAt === undefined ? o.truncation : undefined;
    const { images, perClass } = await generateForScoring(generate, latent, classes, o.samples, Rng.stream(o.seed, 'eval-images'), latents);
    const { scores, scalars } = await score(scorer, { data, runtime, classes, images, perClass });
    const result = { run: dir, iteration: state.iteration, ema: o.ema ?? compiler.averaged, truncation: o.truncation ?? null, truncationAt: o.truncationAt ?? null, ...scores };
    const metricsPath = join(dir, 'metrics.json');
    const prior = existsSync(metricsPath) ? readJsonObject(metricsPath) : {};
    const { run: _r, ...kept } = result;
    writeFileAtomic(metricsPath, JSON.stringify({ ...prior, [key]: kept }, null, 2) + '\n');
    // TensorBoard shows the scores beside the run's curves, at the iteration they were made at.
    eventWriter(dir).scalars(state.iteration, scalars(scores));
    return result;
  } finally {
    await opened?.release();
    await scorer.release();
  }
}

function evalIn(run: Run, o: EvalOptions): Promise<EvalResult> {
  return scoreRun(
    run,
    o,
    'eval',
    (data, runtime) => ClassifierScorer.open(o.classifier, run.config, data, runtime, o.threads, 'eval'),
    async (scorer, { classes, images, perClass }) => {
      const { conditional, ...scores } = await scorer.score(images, o.seed, classes ? { classes, perClass } : undefined);
      const meta = scorer.meta;
      return {
        scores: {
          classifier: resolve(o.classifier),
          classifierTestAccuracy: meta.test_accuracy ? Number(meta.test_accuracy) : null,
          floor: meta.floor ? (JSON.parse(meta.floor) as ImageScores) : null,
          ...scores,
          ...(conditional ? { conditional } : {}),
        },
        scalars: scoreScalars,
      };
    },
  );
}

export interface FeatureEvalResult extends FeatureScores, RunScore {
  /** The real images the samples were compared with. */
  real: string;
}

/**
 * Score a run's newest good checkpoint on any network's features (eval --features): `samples` generated
 * images against real ones (`real`; default Fashion-MNIST's test split for a Fashion-MNIST run, else the
 * run's own data as it trained on it). The scores go into metrics.json under 'evalFeatures'.
 */
export async function evalFeaturesRun(run: string, o: Omit<EvalOptions, 'classifier'> & FeatureOptions & { real?: string }): Promise<FeatureEvalResult> {
  const opened = openRun(run, 'eval');
  const cfg = opened.config;
  const realSpec = o.real ?? (cfg.data === 'fashion-mnist' ? 'fashion-mnist-test' : cfg.data);
  return opened.locked('onnx-gan eval', o.log, () =>
    scoreRun<Extractor, FeatureScores & { real: string }>(
      opened,
      o,
      'evalFeatures',
      (_, runtime) => extractor(runtime, o, 'eval'),
      async (net, { data, runtime, images }) => {
        // The run's own data by default, as it trained on it (size, resize mode, channels).
        const real = realSpec === cfg.data && !o.real ? imagesOf(data, o.samples, o.seed) : await realImages(realSpec, { limit: o.samples, seed: o.seed }, 'eval');
        const scores = await compareFeatures(runtime, await net.features(real), await net.features({ images, shape: data.shape }), { seed: o.seed, threads: o.threads, network: net.network });
        return {
          scores: { real: realSpec, ...scores },
          scalars: (r) => ({ 'eval_features/fid': r.fid, 'eval_features/kid': r.kid, 'eval_features/precision': r.manifold.precision, 'eval_features/recall': r.manifold.recall, 'eval_features/density': r.manifold.density, 'eval_features/coverage': r.manifold.coverage }),
        };
      },
    ),
  );
}

/** The reference images: Fashion-MNIST's test split for runs on Fashion-MNIST (train split), else refused. */
function fashionTestFor(spec: string, data: ImageSet, what = 'eval'): ImageSet {
  if (spec !== 'fashion-mnist') throw new Error(`${what}: the scores compare against Fashion-MNIST's test split; run data '${spec}' (images [${data.shape}]) has no such reference`);
  return fashionMnist('t10k');
}
