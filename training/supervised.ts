// Supervised training with the same engine as the GANs: one ONNX graph per step (forward, softmax
// cross-entropy, reverse-mode gradients, the optimizer update), parameters and optimizer state in and out.
// It trains the classifier behind the image scores.
import { grad } from '../graph/autodiff.ts';
import type { TensorData } from '../graph/ir.ts';
import { fromBytes } from '../graph/serialize.ts';
import { add } from '../graph/ops.ts';
import { softmaxCrossEntropy } from '../losses/classification.ts';
import type { Classifier } from '../models/classifier.ts';
import { initParams, layoutOf, type ParamLayout } from '../models/model.ts';
import { Rng } from '../data/random.ts';
import { optimizer, type OptimizerSettings } from './optim.ts';
import type { Runtime, Session } from '../runtime/runtime.ts';
import { applyUpdate, packGrads, ProgramBuilder, unpackParams, type CompiledProgram } from './program.ts';
import { absorb, feedsOf, type NetState } from './signature.ts';
import { type LabelledImages } from '../data/images.ts';


const f32 = (dims: number[], data: Float32Array): TensorData => ({ dtype: 'float32', dims, data });

/** One update of the classifier 'C': its state in and out, images x [B, ...] and one-hot labels y [B, classes] in, the loss logged. */
export function supervisedStep(model: Classifier, opt: OptimizerSettings, batch: number): CompiledProgram {
  const layout = layoutOf(model);
  const o = optimizer(opt);
  const p = new ProgramBuilder('classifier_step');
  const net = p.netInputs('C', layout.size, o.slots);
  const x = p.input({ name: 'x', role: 'data', shape: [batch, ...model.inputShape] });
  const y = p.input({ name: 'y', role: 'data', shape: [batch, model.classes] });
  const params = unpackParams(net.params, layout);
  const loss = softmaxCrossEntropy(model.forward(x, params), y);
  const grads = grad(loss, layout.entries.map((e) => params[e.name]));
  const u = applyUpdate(o, net, packGrads(new Map(layout.entries.map((e, i) => [e.name, grads[i]])), layout, p.g), add(net.step, 1));
  p.netOutputs('C', o.slots, u);
  p.output(loss, { name: 'loss', role: 'log', log: 'loss' });
  return p.build();
}

/** Images of a labelled set at the given indices as floats in [-1, 1], the GANs' scale. */
export function imageBatch(d: Pick<LabelledImages, 'images' | 'count'>, idx: ArrayLike<number>): Float32Array {
  const per = d.images.length / d.count;
  const out = new Float32Array(idx.length * per);
  for (let i = 0; i < idx.length; i++) {
    const at = idx[i] * per;
    for (let j = 0; j < per; j++) out[i * per + j] = d.images[at + j] / 127.5 - 1;
  }
  return out;
}

export interface SupervisedOptions {
  epochs: number;
  batch: number;
  lr: number;
  /** 'cosine' (default): lr * (1 + cos(pi t / T)) / 2 over the T steps; 'constant'. */
  schedule?: 'cosine' | 'constant';
  /** Random horizontal flips and shifts of up to this many pixels per training image (0 or absent: none). */
  shift?: number;
  seed: number;
  threads?: number;
  onProgress?: (step: number, total: number, loss: number) => void;
  /** Go on from where an interrupted training stood (its options must be these). */
  from?: SupervisedProgress;
  /** Checked before every step: true returns the progress so far, to be saved and gone on from. */
  stopRequested?: () => boolean;
  /** After every epoch: a moment to save the progress (a killed process then loses at most an epoch). */
  onEpoch?: (p: SupervisedProgress) => void | Promise<void>;
}

/**
 * Where a training stands between two steps: with the same options, going on from it gives bit for bit what
 * an uninterrupted training gives (the order of each epoch and the augmentation of each step are seeded by
 * their number).
 */
export interface SupervisedProgress {
  step: number;
  params: Float32Array;
  /** The optimizer's slots (Adam: m, v). */
  slots: Float32Array[];
  /** Mean loss of each finished epoch, and the sum over the current one's steps so far. */
  epochLoss: number[];
  lossSum: number;
}

export interface SupervisedResult {
  status: 'done' | 'interrupted';
  layout: ParamLayout;
  params: Float32Array;
  steps: number;
  /** Mean loss over each epoch's steps. */
  epochLoss: number[];
  progress: SupervisedProgress;
}

/**
 * In place, per image of x [n, C, H, W]: a mirror image half the time, and a shift by up to `most` pixels each
 * way, the uncovered edge filled with the background (-1, the images' black).
 */
export function flipAndShift(x: Float32Array, [c, h, w]: number[], most: number, rng: Rng): void {
  const per = c * h * w;
  const src = new Float32Array(per);
  for (let at = 0; at < x.length; at += per) {
    src.set(x.subarray(at, at + per));
    const flip = rng.uniform() < 0.5;
    const dy = rng.int(2 * most + 1) - most;
    const dx = rng.int(2 * most + 1) - most;
    for (let k = 0; k < c; k++)
      for (let i = 0; i < h; i++)
        for (let j = 0; j < w; j++) {
          const [si, sj] = [i - dy, (flip ? w - 1 - j : j) - dx];
          x[at + (k * h + i) * w + j] = si >= 0 && si < h && sj >= 0 && sj < w ? src[(k * h + si) * w + sj] : -1;
        }
  }
}

const ADAM_SLOTS = optimizer({ name: 'adam', lr: 1 }).slots.length;

/** Adam on shuffled minibatches (a seeded permutation per epoch; the remainder is dropped), cosine-decayed learning rate. */
export async function trainClassifier(runtime: Runtime, model: Classifier, train: LabelledImages, o: SupervisedOptions): Promise<SupervisedResult> {
  const opt: OptimizerSettings = { name: 'adam', lr: o.lr };
  const slots = optimizer(opt).slots;
  const layout = layoutOf(model);
  const perEpoch = Math.floor(train.count / o.batch);
  if (perEpoch < 1) throw new Error(`classifier: ${train.count} training images are fewer than one batch of ${o.batch}`);
  const total = perEpoch * o.epochs;
  const from = o.from ?? { step: 0, params: initParams(model, Rng.stream(o.seed, 'classifier-init')), slots: slots.map(() => new Float32Array(layout.size)), epochLoss: [], lossSum: 0 };
  checkProgress(from, { model, batch: o.batch, epochs: o.epochs, images: train.count }, 'classifier: the progress to go on from');
  const net: NetState = { params: from.params, slots: from.slots, step: from.step, lr: o.lr };
  const state = { C: net, states: {} };
  const epochLoss = from.epochLoss.slice();
  let sum = from.lossSum;
  const progress = (): SupervisedProgress => ({ step: net.step, params: net.params, slots: net.slots, epochLoss: epochLoss.slice(), lossSum: sum });
  const done = (status: SupervisedResult['status']): SupervisedResult => ({ status, layout, params: net.params, steps: net.step, epochLoss, progress: progress() });
  const program = supervisedStep(model, opt, o.batch);
  const sig = program.signature;
  const [xIn, yIn] = sig.inputs.filter((s) => s.role === 'data');
  const session = await runtime.createSession(program.model, { threads: o.threads });
  try {
    for (let e = Math.floor(net.step / perEpoch); e < o.epochs; e++) {
      const order = Rng.stream(o.seed, 'classifier-epoch', e).permutation(train.count);
      for (let b = net.step - e * perEpoch; b < perEpoch; b++) {
        if (o.stopRequested?.()) return done('interrupted');
        const idx = order.subarray(b * o.batch, (b + 1) * o.batch);
        const y = new Float32Array(o.batch * model.classes);
        idx.forEach((k, i) => (y[i * model.classes + train.labels[k]] = 1));
        net.lr = o.schedule === 'constant' ? o.lr : (o.lr * (1 + Math.cos((Math.PI * net.step) / total))) / 2;
        const x = imageBatch(train, idx);
        if (o.shift) flipAndShift(x, model.inputShape, o.shift, Rng.stream(o.seed, 'classifier-augment', net.step));
        const out = await session.run(feedsOf(sig, state, { [xIn.name]: x, [yIn.name]: y }));
        const loss = absorb(sig, out, state).values[0].loss;
        if (!Number.isFinite(loss)) throw new Error(`classifier: the loss is ${loss} at step ${net.step}; lower --lr`);
        sum += loss;
        o.onProgress?.(net.step, total, loss);
      }
      epochLoss.push(sum / perEpoch);
      sum = 0;
      await o.onEpoch?.(progress());
    }
  } finally {
    await session.release();
  }
  return done('done');
}

/** A saved progress must fit the model and schedule: its sizes, a step inside the schedule, one loss per finished epoch. */
export function checkProgress(p: SupervisedProgress, o: { model: Classifier; batch: number; epochs: number; images: number }, what: string): void {
  const size = layoutOf(o.model).size;
  const perEpoch = Math.floor(o.images / o.batch);
  const total = perEpoch * o.epochs;
  const bad = (why: string) => {
    throw new Error(`${what}: ${why}`);
  };
  if (!Number.isInteger(p.step) || p.step < 0 || p.step > total) bad(`step ${p.step} is outside this training's 0..${total}`);
  if (p.params.length !== size) bad(`${p.params.length} parameters, the model has ${size}`);
  if (p.slots.length !== ADAM_SLOTS || p.slots.some((s) => s.length !== size)) bad(`its optimizer slots do not fit the model's ${size} parameters`);
  if (p.epochLoss.length !== Math.floor(p.step / perEpoch)) bad(`${p.epochLoss.length} epoch losses at step ${p.step} (epochs of ${perEpoch} steps)`);
}

/** Logits and features of float images [N, ...shape] in [-1, 1], in chunks. */
export class ClassifierRunner {
  private constructor(private readonly session: Session, readonly inputShape: number[]) {}

  /** On a classifier.onnx (weights inside; input x, outputs logits and features). */
  static async create(runtime: Runtime, model: Uint8Array, threads?: number): Promise<ClassifierRunner> {
    const s = await runtime.createSession(model, { threads });
    for (const name of ['logits', 'features']) if (!s.outputNames.includes(name)) throw new Error(`classifier: the model has no output '${name}' (outputs: ${s.outputNames.join(', ')})`);
    if (s.inputNames.length !== 1 || s.inputNames[0] !== 'x') throw new Error(`classifier: the model must have one input 'x', has ${s.inputNames.join(', ')}`);
    const shape = inputShapeOf(model);
    return new ClassifierRunner(s, shape);
  }

  async run(x: Float32Array, chunk = 500): Promise<{ logits: Float32Array; features: Float32Array; classes: number; featureSize: number }> {
    const per = this.inputShape.reduce((a, b) => a * b, 1);
    const n = x.length / per;
    const logits: Float32Array[] = [];
    const features: Float32Array[] = [];
    let classes = 0;
    let featureSize = 0;
    for (let i = 0; i < n; i += chunk) {
      const m = Math.min(chunk, n - i);
      const feeds: Record<string, TensorData> = { x: f32([m, ...this.inputShape], x.subarray(i * per, (i + m) * per)) };
      const out = await this.session.run(feeds);
      [classes, featureSize] = [out.logits.dims[1], out.features.dims[1]];
      logits.push(out.logits.data as Float32Array);
      features.push(out.features.data as Float32Array);
    }
    return { logits: join(logits), features: join(features), classes, featureSize };
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

/** Fraction of rows whose largest logit is the label. */
export function accuracy(logits: Float32Array, classes: number, labels: Uint8Array): number {
  let right = 0;
  for (let i = 0; i < labels.length; i++) if (argmax(logits, i * classes, classes) === labels[i]) right++;
  return right / labels.length;
}

export function argmax(v: Float32Array, at: number, n: number): number {
  let best = 0;
  for (let j = 1; j < n; j++) if (v[at + j] > v[at + best]) best = j;
  return best;
}


function join(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), (at += p.length));
  return out;
}

/** The per-sample input shape of a model's input x [N, ...]. */
function inputShapeOf(model: Uint8Array): number[] {
  const x = fromBytes(model).graph.inputs[0];
  const dims = x.shape?.slice(1) ?? [];
  if (!dims.length || dims.some((d) => typeof d !== 'number')) throw new Error(`classifier: input x must be [N, ...] with fixed sample dims, got [${x.shape}]`);
  return dims as number[];
}
