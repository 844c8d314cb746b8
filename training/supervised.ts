// Supervised training with the same engine as the GANs: one ONNX graph per step (forward, softmax
// cross-entropy, reverse-mode gradients, the optimizer update), parameters and optimizer state in and out.
// It trains the classifier behind the image scores.
import { grad } from '../graph/autodiff.ts';
import { Graph, type TensorData } from '../graph/ir.ts';
import { concat, reshape } from '../graph/ops.ts';
import { fromBytes, toBytes } from '../graph/serialize.ts';
import { softmaxCrossEntropy } from '../losses/classification.ts';
import type { Classifier } from '../models/classifier.ts';
import { initParams, layoutOf, type ParamLayout } from '../models/model.ts';
import { Rng } from '../data/random.ts';
import { optimizer, type OptimizerSettings } from './optim.ts';
import type { Runtime, Session } from './runtime.ts';
import { unpackParams } from './step.ts';

export interface LabelledImages {
  shape: number[];
  /** uint8 [count, ...shape]. */
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
}

const f32 = (dims: number[], data: Float32Array): TensorData => ({ dtype: 'float32', dims, data });

/** Inputs params, opt.<slot>, step, lr, x [B, ...], y [B, classes]; outputs the updated ones and loss. */
export function supervisedStep(model: Classifier, opt: OptimizerSettings, batch: number): Uint8Array {
  const layout = layoutOf(model);
  const o = optimizer(opt);
  const g = new Graph('classifier_step');
  const flat = g.input('params', 'float32', [layout.size]);
  const slots = o.slots.map((s) => g.input(`opt.${s}`, 'float32', [layout.size]));
  const step = g.input('step', 'float32', []);
  const lr = g.input('lr', 'float32', []);
  const x = g.input('x', 'float32', [batch, ...model.inputShape]);
  const y = g.input('y', 'float32', [batch, model.classes]);
  const p = unpackParams(flat, layout);
  const loss = softmaxCrossEntropy(model.forward(x, p), y);
  const grads = grad(loss, layout.entries.map((e) => p[e.name]));
  const gflat = concat(grads.map((gv, i) => reshape(gv, [layout.entries[i].size])), 0);
  const u = o.update(flat, gflat, slots, step, lr);
  g.output(u.p, 'params:new');
  o.slots.forEach((s, i) => g.output(u.state[i], `opt.${s}:new`));
  g.output(loss, 'loss');
  return toBytes(g);
}

/** Images of a labelled set at the given indices as floats in [-1, 1], the GANs' scale. */
export function imageBatch(d: LabelledImages, idx: ArrayLike<number>): Float32Array {
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
  seed: number;
  threads?: number;
  onProgress?: (step: number, total: number, loss: number) => void;
}

export interface SupervisedResult {
  layout: ParamLayout;
  params: Float32Array;
  steps: number;
  /** Mean loss over each epoch's steps. */
  epochLoss: number[];
}

/** Adam on shuffled minibatches (a seeded permutation per epoch; the remainder is dropped), cosine-decayed learning rate. */
export async function trainClassifier(runtime: Runtime, model: Classifier, train: LabelledImages, o: SupervisedOptions): Promise<SupervisedResult> {
  const opt: OptimizerSettings = { name: 'adam', lr: o.lr };
  const slots = optimizer(opt).slots;
  const layout = layoutOf(model);
  let params: Float32Array = initParams(model, Rng.stream(o.seed, 'classifier-init'));
  let state: Float32Array[] = slots.map(() => new Float32Array(layout.size));
  const session = await runtime.createSession(supervisedStep(model, opt, o.batch), { threads: o.threads });
  const perEpoch = Math.floor(train.count / o.batch);
  if (perEpoch < 1) throw new Error(`classifier: ${train.count} training images are fewer than one batch of ${o.batch}`);
  const total = perEpoch * o.epochs;
  const epochLoss: number[] = [];
  let step = 0;
  try {
    for (let e = 0; e < o.epochs; e++) {
      const order = Rng.stream(o.seed, 'classifier-epoch', e).permutation(train.count);
      let sum = 0;
      for (let b = 0; b < perEpoch; b++) {
        const idx = order.subarray(b * o.batch, (b + 1) * o.batch);
        const y = new Float32Array(o.batch * model.classes);
        idx.forEach((k, i) => (y[i * model.classes + train.labels[k]] = 1));
        const lr = o.schedule === 'constant' ? o.lr : (o.lr * (1 + Math.cos((Math.PI * step) / total))) / 2;
        const feeds: Record<string, TensorData> = {
          params: f32([layout.size], params),
          step: f32([], new Float32Array([++step])),
          lr: f32([], new Float32Array([lr])),
          x: f32([o.batch, ...model.inputShape], imageBatch(train, idx)),
          y: f32([o.batch, model.classes], y),
        };
        slots.forEach((s, i) => (feeds[`opt.${s}`] = f32([layout.size], state[i])));
        const out = await session.run(feeds);
        params = out['params:new'].data as Float32Array;
        state = slots.map((s) => out[`opt.${s}:new`].data as Float32Array);
        const loss = (out.loss.data as Float32Array)[0];
        if (!Number.isFinite(loss)) throw new Error(`classifier: the loss is ${loss} at step ${step}; lower --lr`);
        sum += loss;
        o.onProgress?.(step, total, loss);
      }
      epochLoss.push(sum / perEpoch);
    }
  } finally {
    await session.release();
  }
  return { layout, params, steps: step, epochLoss };
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
