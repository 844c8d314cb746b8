// ONNX models made elsewhere (torch.onnx.export, ...) as trainable networks: the graph is checked by our
// parser, its float initializers become parameters (initial values as in the file; a name pattern can
// freeze some), and forward() replays its nodes into the training graph (import-replay.ts: shape
// arithmetic folded for the batch at hand, If on shapes resolved, random layers fed by the host), where
// grad() differentiates them. A dry run at import finds the output's shape and every node without a
// gradient rule before any training starts.
import { rules } from '../graph/gradients.ts';
import { gradientStatus, MAX_OPSET } from '../graph/inventory.ts';
import { RECURRENT_OPS } from '../graph/recurrent.ts';
import { ONNX_OPS } from '../graph/onnx-opset.ts';
import { Graph, isFloat, type Value } from '../graph/ir.ts';
import { reshape } from '../graph/ops.ts';
import { fromBytes, ModelError, q } from '../graph/serialize.ts';
import { replay, ReplayError } from './import-replay.ts';
import type { Model, ParamSpec } from './model.ts';

export type Role = 'generator' | 'critic';

/**
 * The graph's single input and output, checked against what the role needs (a generator maps [batch, z] or
 * [batch, z, 1, 1] to samples; a critic maps samples to a score or a map of scores). A generator may take
 * an int64 [N] class second (what onnx-gan exports for a class-conditional run): `label` then. Throws a
 * one-line ModelError naming what is wrong. Output shapes may still be unknown here (computed shapes).
 */
/** Where an op that import refuses stands: on the roadmap, not differentiable, or not an ONNX op at all (docs/ops.md). */
function roadmap(op: string): string {
  const s = gradientStatus(op);
  if (s.kind === 'missing') return 'differentiable, on the roadmap: docs/ops.md';
  if (s.kind === 'none') return `not differentiable: ${s.why}`;
  return Object.hasOwn(ONNX_OPS, op) ? 'see docs/ops.md' : `not an operator of ONNX's standard domain up to opset ${MAX_OPSET}`;
}

export function roleIO(bytes: Uint8Array, role: Role, src: string = role): { graph: Graph; x: Value; y: Value; label?: Value; inputShape: number[]; outputShape: (number | null)[]; metadata: Record<string, string> } {
  let g: Graph;
  let metadata: Record<string, string>;
  try {
    ({ graph: g, metadata } = fromBytes(bytes));
  } catch (e) {
    const m = (e as Error).message;
    // An op the parser does not know: name what import can train instead.
    const op = /operator '(.*)' is not supported by onnx-gan$/.exec(m)?.[1];
    const unknown = op ? ` (${roadmap(op)})` : '';
    throw new ModelError(`${src}: ${m}${unknown}`);
  }
  const label = role === 'generator' && g.inputs.length === 2 && g.inputs[1].dtype === 'int64' && g.inputs[1].rank === 1 ? g.inputs[1] : undefined;
  const inputs = label ? g.inputs.slice(0, 1) : g.inputs;
  if (inputs.length !== 1) throw new ModelError(`${src}: a ${role} needs exactly one input, this model has ${inputs.length} (${inputs.map((v) => q(v.name)).join(', ')})`);
  const x = inputs[0];
  if (!isFloat(x.dtype)) throw new ModelError(`${src}: the ${role}'s input ${q(x.name)} must be float, it is ${x.dtype}`);
  if (!x.shape || x.shape.length < 2 || x.shape.slice(1).some((d) => typeof d !== 'number')) throw new ModelError(`${src}: the ${role}'s input ${q(x.name)} must be [batch, ...static dims], it is ${x}`);
  if (g.outputs.length !== 1) throw new ModelError(`${src}: a ${role} needs exactly one output, this model has ${g.outputs.length}`);
  const y = g.outputs[0];
  const latent4d = x.shape.length === 4 && x.shape[2] === 1 && x.shape[3] === 1;
  if (role === 'generator' && x.shape.length !== 2 && !latent4d) throw new ModelError(`${src}: a generator's input must be a latent vector [batch, z] or [batch, z, 1, 1], it is ${x}`);
  const outputShape = (y.shape ?? []).slice(1).map((d) => (typeof d === 'number' ? d : null));
  return { graph: g, x, y, label, inputShape: x.shape.slice(1) as number[], outputShape, metadata };
}

/** What import noticed about a model that deserves a warning before training (see importWarnings). */
export interface ImportFacts {
  /** Float initializers that feed several layers (tied: trained as one). */
  tied: string[];
  /** The output passes through Sigmoid (after only shape ops). */
  sigmoidOutput: boolean;
  /** Has batch normalization (statistics across the batch). */
  batchNorm: boolean;
  /** Values of the output map per sample, for critics (PatchGAN: more than 1). */
  positions: number;
}

/** Ops whose weights are a layer's own: one initializer in two of them is a tied weight. */
const LAYER_OPS = new Set(['Conv', 'ConvTranspose', 'Gemm', 'MatMul', 'BatchNormalization', 'InstanceNormalization', 'LayerNormalization']);
const SHAPE_OPS = new Set(['Reshape', 'Squeeze', 'Unsqueeze', 'Flatten', 'Identity', 'If']);

function factsOf(g: Graph, y: Value, floatInits: Set<Value>): Omit<ImportFacts, 'positions'> {
  // Follow Identity chains: an eval-mode export ties equal initializers through Identity nodes.
  const consumers = new Map<Value, number>();
  const root = new Map<Value, Value>();
  for (const v of floatInits) root.set(v, v);
  for (const n of g.nodes) {
    n.inputs.forEach((v) => {
      const r = v && root.get(v);
      if (!r) return;
      if (n.op === 'Identity') root.set(n.outputs[0], r);
      else if (LAYER_OPS.has(n.op)) consumers.set(r, (consumers.get(r) ?? 0) + 1);
    });
  }
  const tied = [...consumers].filter(([, c]) => c > 1).map(([v]) => v.name);
  let v: Value | null = y;
  let sigmoidOutput = false;
  for (let hops = 0; v?.producer && hops < 8; hops++) {
    const n: import('../graph/ir.ts').Node = v.producer;
    if (n.op === 'Sigmoid') sigmoidOutput = true;
    if (n.op === 'If') {
      const br = n.attrs.then_branch;
      v = br?.kind === 'graph' ? (br.value.outputs[0].producer?.inputs[0] ?? null) : null;
      continue;
    }
    if (n.op !== 'Sigmoid' && !SHAPE_OPS.has(n.op)) break;
    v = n.inputs[0];
  }
  return { tied, sigmoidOutput, batchNorm: g.nodes.some((n) => n.op === 'BatchNormalization'), };
}

export function importedModel(bytes: Uint8Array, role: Role, opts: { prefix: string; freeze?: RegExp; source?: string }): Model & { facts: ImportFacts } {
  const src = opts.source ?? role;
  const { graph: g, x, y, label, inputShape: rawInput } = roleIO(bytes, role, src);
  if (label) throw new ModelError(`${src}: a class-conditional generator (input ${q(label.name)}) cannot be imported for training; train it with --conditional instead`);
  // A 4-D latent [N, z, 1, 1] (PyTorch's DCGAN example) is fed as [N, z] and reshaped inside.
  const inputShape = role === 'generator' ? [rawInput[0]] : rawInput;

  // Every node with a float output on the float path from the input or a weight needs a gradient rule
  // (integer outputs, as Shape's, carry none): say which do not, now.
  // The model's weights; constants of ops the parser wrote out in other ops (Mish, GroupNormalization) stay constants.
  const floatInits = [...g.initializers.values()].filter(({ value }) => value.dtype === 'float32' && !g.builderConstants.has(value));
  const live = new Set<Value>([x, ...floatInits.map((i) => i.value)]);
  const check = (nodes: typeof g.nodes) => {
    for (const n of nodes) {
      const fed = n.inputs.some((v) => v && live.has(v));
      for (const a of Object.values(n.attrs)) {
        if (a.kind !== 'graph') continue;
        // A Loop's or Scan's body reads what the node is fed through its own inputs.
        if (fed && n.op !== 'If') for (const v of a.value.inputs) if (isFloat(v.dtype)) live.add(v);
        check(a.value.nodes);
      }
      if (!fed) continue;
      const floatOut = n.outputs.filter((o) => isFloat(o.dtype));
      // If, Loop and Scan are replayed (models/import-replay.ts): the ops of their subgraphs are checked above.
      if (floatOut.length && !rules[n.op] && !HOST_FED.has(n.op) && !['If', 'Loop', 'Scan'].includes(n.op) && !(RECURRENT_OPS as string[]).includes(n.op)) throw new ModelError(`${src}: op ${n.op} (node ${q(n.name)}) has no gradient rule (${roadmap(n.op)})`);
      for (const o of floatOut) live.add(o);
    }
  };
  check(g.nodes);

  // Batch norm's running statistics are statistics, not weights: they stay as they are.
  const statistics = new Set(g.nodes.filter((n) => n.op === 'BatchNormalization').flatMap((n) => [n.inputs[3]?.name, n.inputs[4]?.name]));
  const params: ParamSpec[] = floatInits.map(({ value, tensor }) => ({
    name: `${opts.prefix}.${value.name}`,
    shape: tensor.dims.slice(),
    frozen: statistics.has(value.name) || (opts.freeze?.test(value.name) ?? false),
    init: (_rng, out) => out.set(tensor.data as Float32Array),
  }));
  const paramOf = new Map(floatInits.map(({ value }) => [value, `${opts.prefix}.${value.name}`]));

  const forward = (input: Value, p: Record<string, Value>, ctx?: import('./model.ts').ForwardContext): Value => {
    const given = role === 'generator' && rawInput.length === 3 ? reshape(input, [-1, ...rawInput]) : input;
    let out: Value;
    try {
      out = replay(g, y, { source: src, input: x, given, param: (v) => (paramOf.has(v) ? p[paramOf.get(v)!] : undefined), ctx });
    } catch (e) {
      if (e instanceof ReplayError) throw new ModelError(e.message);
      throw e;
    }
    // A critic's scores, one or a map per sample, as [N, positions]: losses average over positions.
    return role === 'critic' ? reshape(out, [-1, (out.shape ?? []).slice(1).reduce((a: number, d) => a * (d as number), 1)]) : out;
  };

  // The dry run: a batch of 2 through the graph with parameters as inputs.
  const dry = new Graph('import-check');
  const dryIn = dry.input('x', 'float32', [2, ...inputShape]);
  const dryParams = Object.fromEntries(params.map((s) => [s.name, dry.input(s.name, 'float32', s.shape)]));
  let dryOut: Value;
  try {
    dryOut = forward(dryIn, dryParams, { training: true, state: () => { throw new Error('no state'); }, setState: () => {}, random: (_n, _d, shape) => dry.input(`r${dry.inputs.length}`, 'float32', shape) });
  } catch (e) {
    throw new ModelError(`${src}: ${(e as Error).message.replace(`${src}: `, '')}`);
  }
  const outShape = dryOut.shape;
  if (!outShape || outShape.slice(1).some((d) => typeof d !== 'number')) throw new ModelError(`${src}: the ${role}'s output ${q(y.name)} needs static non-batch dims once the batch is known, it is [${outShape?.map((d) => d ?? '?')}]`);
  const outputShape = outShape.slice(1) as number[];
  const facts = { ...factsOf(g, y, new Set(floatInits.map((i) => i.value))), positions: role === 'critic' ? outputShape[0] : 1 };

  return {
    kind: `onnx:${src}`,
    inputShape,
    outputShape,
    params,
    facts,
    forward,
    describe: () => ({ kind: 'onnx', source: src, role, params: params.length }),
  };
}

/** Ops that draw random numbers: in training the host feeds the draws (import-replay.ts); no gradient flows into a draw. */
const HOST_FED = new Set(['Dropout', 'RandomNormalLike', 'RandomUniformLike']);

/** Warnings for an imported pair under a loss, before training: what import saw that changes what trains. */
export function importWarnings(facts: { generator?: ImportFacts; critic?: ImportFacts }, loss: string, penalty: string | null): string[] {
  const out: string[] = [];
  for (const [role, f] of Object.entries(facts) as [Role, ImportFacts | undefined][]) {
    if (f?.tied.length)
      out.push(`the imported ${role} uses ${f.tied.length} initializer(s) in several layers (${f.tied.slice(0, 3).join(', ')}${f.tied.length > 3 ? ', ...' : ''}), which train as one: torch.onnx.export in eval mode merges equal initializers and folds Conv+BatchNorm; export with training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False to keep every layer's own`);
  }
  const c = facts.critic;
  if (c?.sigmoidOutput && LOGIT_LOSSES.has(loss)) out.push(`the imported critic's output passes through Sigmoid, but loss '${loss}' expects logits (it applies the sigmoid itself): remove the final Sigmoid before exporting`);
  if (c?.batchNorm && penalty) out.push(`the imported critic has batch normalization, but the '${penalty}' penalty is per sample (Gulrajani et al. 2017, sec. 4): batch statistics couple the samples; use layer or instance norm`);
  return out;
}

const LOGIT_LOSSES = new Set(['ns', 'minimax', 'dragan', 'r1', 'r2', 'rsgan', 'rasgan']);
