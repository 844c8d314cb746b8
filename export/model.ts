// Export for inference and for other frameworks: the generator and the critic as ONNX models with their
// weights as initializers and a dynamic batch (no training node, no parameter input), and every weight
// and optimizer slot as safetensors under PyTorch-style names (G.l0.weight, G.l0.weight.opt.m, ...).
import { Graph, tensor, type Value } from '../graph/ir.ts';
import { add, cast, clip, concat, mul, round } from '../graph/ops.ts';
import { toBytes } from '../graph/serialize.ts';
import { foldedBytes, type Evaluate } from './fold.ts';
import { forOpenCv, openCvRefusal } from './opencv.ts';
import { encodeSafetensors, type TensorEntry } from '../training/checkpoint.ts';
import type { Classifier } from '../models/classifier.ts';
import type { ParamLayout, Model } from '../models/model.ts';
import type { TrainState } from '../training/trainer.ts';
import { names } from '../training/tensor-names.ts';

/** The class input of an exported class-conditional network. */
export const CLASS_INPUT = 'label';

export interface ExportInfo {
  /** Metadata written into both models (latent size, loss, data set, step, version, ...). */
  metadata: Record<string, string>;
  producerVersion: string;
}

function weights(g: Graph, layout: ParamLayout, flat: Float32Array): Record<string, Value> {
  return Object.fromEntries(layout.entries.map((e) => [e.name, g.initializer(e.name, tensor('float32', e.shape, flat.subarray(e.offset, e.offset + e.size)))]));
}

/** An exported model, and why OpenCV's DNN importer cannot load it (null: it can). */
export interface InferenceModel {
  bytes: Uint8Array;
  openCv: string | null;
}

/**
 * A network's forward pass with its trained weights baked in and folded: what depends on weights alone
 * (spectral norm's division, reshaped weights) is computed once by `evaluate`, so the model holds only
 * final weights and the ops applied to its input; written in the forms OpenCV's importer loads where an
 * equal form exists (export/opencv.ts).
 */
export async function inferenceModel(model: Model, layout: ParamLayout, flat: Float32Array, states: Record<string, Float32Array>, io: { input: string; output: string; doc: string; post?: (y: Value) => Value }, info: ExportInfo, evaluate: Evaluate): Promise<InferenceModel> {
  const g = new Graph(model.kind);
  const x = g.input(io.input, 'float32', ['N', ...model.inputShape]);
  // A class-conditional network takes each sample's class second, int64 (torch-fidelity's order: z, then c).
  const label = model.classes ? g.input(CLASS_INPUT, 'int64', ['N']) : undefined;
  const raw = weights(g, layout, flat);
  const state = (n: string) => {
    if (!states[n]) throw new Error(`export: the checkpoint has no state '${n}'`);
    return g.initializer(n, tensor('float32', [states[n].length], states[n]));
  };
  const p = model.prepare ? model.prepare(raw, state, () => {}, false) : raw;
  const y0 = model.forward(x, p, { training: false, state, setState: () => {} }, label);
  const y = io.post ? io.post(y0) : y0;
  // Consumers read the output's batch dimension by name ('N', as the input's), whatever shape inference kept.
  const named = y.shape?.[0] === 'N' ? y : g.addNode('Identity', [y], [{ dtype: y.dtype, shape: y.shape ? ['N', ...y.shape.slice(1)] : null }])[0];
  g.output(named, io.output);
  forOpenCv(g);
  return { bytes: await foldedBytes(g, { producerVersion: info.producerVersion, docString: io.doc, metadata: info.metadata }, evaluate), openCv: openCvRefusal(g) };
}

/**
 * Images in [-1, 1] as torch-fidelity's ONNX generator wrapper wants them: uint8 [N, 3, H, W],
 * pixel = round((x + 1) * 127.5) clipped to [0, 255], a grey channel repeated three times.
 */
export function uint8Rgb(x: Value): Value {
  const [, c] = x.shape ?? [];
  if (x.rank !== 4 || (c !== 1 && c !== 3)) throw new Error(`export --uint8: the generator must output images [N, 1 or 3, H, W], it outputs [${x.shape?.map((d) => d ?? '?')}]`);
  const u8 = cast(round(clip(mul(add(x, 1), 127.5), 0, 255)), 'uint8');
  return c === 3 ? u8 : concat([u8, u8, u8], 1);
}

export function weightsSafetensors(state: TrainState, layouts: { G: ParamLayout; D: ParamLayout }, slots: { G: string[]; D: string[] }, metadata: Record<string, string>): Uint8Array {
  const t: Record<string, TensorEntry> = {};
  for (const n of ['G', 'D'] as const) {
    const s = state[n];
    for (const e of layouts[n].entries) {
      t[e.name] = { dtype: 'F32', shape: e.shape, data: s.params.slice(e.offset, e.offset + e.size) };
      slots[n].forEach((slot, i) => (t[`${e.name}.opt.${slot}`] = { dtype: 'F32', shape: e.shape, data: s.slots[i].slice(e.offset, e.offset + e.size) }));
    }
  }
  // The generator's weight average (--ema) by parameter name like the weights: '<name>.ema'.
  const average = state.states[names.ema(names.param('G'))];
  if (average) for (const e of layouts.G.entries) t[names.ema(e.name)] = { dtype: 'F32', shape: e.shape, data: average.slice(e.offset, e.offset + e.size) };
  for (const [name, v] of Object.entries(state.states)) if (v !== average) t[name] = { dtype: 'F32', shape: [v.length], data: v.slice() };
  return encodeSafetensors(t, { ...metadata, 'G.step': String(state.G.step), 'D.step': String(state.D.step) });
}

/** The scoring classifier with its weights inside: x [N, ...] in [-1, 1] -> logits and features. */
export function classifierOnnx(model: Classifier, layout: ParamLayout, flat: Float32Array, info: ExportInfo): Uint8Array {
  const g = new Graph(model.kind);
  const x = g.input('x', 'float32', ['N', ...model.inputShape]);
  const p = weights(g, layout, flat);
  g.output(model.forward(x, p), 'logits');
  g.output(model.features(x, p), 'features');
  return toBytes(g, { producerVersion: info.producerVersion, docString: `onnx-gan scoring classifier: images [N, ${model.inputShape}] in [-1, 1] -> logits [N, ${model.classes}], features [N, ${model.featureSize}]`, metadata: info.metadata });
}
