// ONNX models made elsewhere (torch.onnx.export, ...) as trainable networks: the graph is checked by our
// parser, its float initializers become parameters (initial values as in the file; a name pattern can
// freeze some), and forward() replays its nodes into the training graph, where grad() differentiates them.
import { rules } from '../graph/gradients.ts';
import { isFloat, type Graph, type Value } from '../graph/ir.ts';
import { opN } from '../graph/ops.ts';
import { fromBytes, ModelError, q } from '../graph/serialize.ts';
import type { Model, ParamSpec } from './model.ts';

export type Role = 'generator' | 'critic';

/**
 * The graph's single input and output, checked against what the role needs (a generator maps [batch, z] to
 * samples; a critic maps samples to one score each). Throws a one-line ModelError naming what is wrong.
 */
/**
 * A model's one float input and one output, checked for its role. A generator may take an int64 [N]
 * class second (what onnx-gan exports for a class-conditional run): `label` then.
 */
export function roleIO(bytes: Uint8Array, role: Role, src: string = role): { graph: Graph; x: Value; y: Value; label?: Value; inputShape: number[]; outputShape: number[]; metadata: Record<string, string> } {
  let g: Graph;
  let metadata: Record<string, string>;
  try {
    ({ graph: g, metadata } = fromBytes(bytes));
  } catch (e) {
    throw new ModelError(`${src}: ${(e as Error).message}`);
  }
  const label = role === 'generator' && g.inputs.length === 2 && g.inputs[1].dtype === 'int64' && g.inputs[1].rank === 1 ? g.inputs[1] : undefined;
  const inputs = label ? g.inputs.slice(0, 1) : g.inputs;
  if (inputs.length !== 1) throw new ModelError(`${src}: a ${role} needs exactly one input, this model has ${inputs.length} (${inputs.map((v) => q(v.name)).join(', ')})`);
  const x = inputs[0];
  if (!isFloat(x.dtype)) throw new ModelError(`${src}: the ${role}'s input ${q(x.name)} must be float, it is ${x.dtype}`);
  if (!x.shape || x.shape.length < 2 || x.shape.slice(1).some((d) => typeof d !== 'number')) throw new ModelError(`${src}: the ${role}'s input ${q(x.name)} must be [batch, ...static dims], it is ${x}`);
  if (g.outputs.length !== 1) throw new ModelError(`${src}: a ${role} needs exactly one output, this model has ${g.outputs.length}`);
  const y = g.outputs[0];
  if (!y.shape || y.shape.slice(1).some((d) => typeof d !== 'number')) throw new ModelError(`${src}: the ${role}'s output ${q(y.name)} needs static non-batch dims, it is ${y}`);
  if (role === 'critic' && y.shape.slice(1).reduce((a: number, b) => a * (b as number), 1) !== 1) throw new ModelError(`${src}: a critic must output one score per sample, its output is ${y}`);
  if (role === 'generator' && x.shape.length !== 2) throw new ModelError(`${src}: a generator's input must be a latent vector [batch, z], it is ${x}`);
  return { graph: g, x, y, label, inputShape: x.shape.slice(1) as number[], outputShape: y.shape.slice(1) as number[], metadata };
}

export function importedModel(bytes: Uint8Array, role: Role, opts: { prefix: string; freeze?: RegExp; source?: string }): Model {
  const src = opts.source ?? role;
  const { graph: g, x, y, label, inputShape, outputShape } = roleIO(bytes, role, src);
  if (label) throw new ModelError(`${src}: a class-conditional generator (input ${q(label.name)}) cannot be imported for training; train it with --conditional instead`);

  // Every node on the float path from the input or a weight needs a gradient rule: say which do not, now.
  const floatInits = [...g.initializers.values()].filter(({ value }) => value.dtype === 'float32');
  const live = new Set<Value>([x, ...floatInits.map((i) => i.value)]);
  for (const n of g.nodes) {
    if (!n.inputs.some((v) => v && live.has(v))) continue;
    if (!rules[n.op]) throw new ModelError(`${src}: op ${n.op} (node ${q(n.name)}) has no gradient rule; supported: ${Object.keys(rules).sort().join(', ')}`);
    for (const o of n.outputs) if (isFloat(o.dtype)) live.add(o);
  }

  // Batch norm's running statistics are statistics, not weights: they stay as they are.
  const statistics = new Set(g.nodes.filter((n) => n.op === 'BatchNormalization').flatMap((n) => [n.inputs[3]?.name, n.inputs[4]?.name]));
  const params: ParamSpec[] = floatInits.map(({ value, tensor }) => ({
    name: `${opts.prefix}.${value.name}`,
    shape: tensor.dims.slice(),
    frozen: statistics.has(value.name) || (opts.freeze?.test(value.name) ?? false),
    init: (_rng, out) => out.set(tensor.data as Float32Array),
  }));
  const paramOf = new Map(floatInits.map(({ value }) => [value.name, `${opts.prefix}.${value.name}`]));

  return {
    kind: `onnx:${src}`,
    inputShape,
    outputShape,
    params,
    forward(input, p) {
      const target = input.graph;
      const map = new Map<Value, Value>([[x, input]]);
      const valueOf = (v: Value): Value => {
        const hit = map.get(v);
        if (hit) return hit;
        const pname = paramOf.get(v.name);
        const init = g.constantOf(v);
        if (pname) return p[pname];
        if (init) {
          const c = target.constant(init, v.name);
          map.set(v, c);
          return c;
        }
        throw new ModelError(`${src}: value ${q(v.name)} is not available`);
      };
      for (const n of g.nodes) {
        if (Object.values(n.attrs).some((a) => a.kind === 'graph')) throw new ModelError(`${src}: node ${q(n.name)} (${n.op}) has a subgraph, which import does not support`);
        const outs = opN(n.op, n.inputs.map((v) => (v ? valueOf(v) : null)), n.attrs, target);
        n.outputs.forEach((o, i) => map.set(o, outs[i]));
      }
      return valueOf(y);
    },
    describe: () => ({ kind: 'onnx', source: src, role, params: params.length }),
  };
}
