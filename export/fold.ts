// Constant folding for exported models: every node computed from weights alone (spectral norm's W / sigma,
// a weight reshaped for a matrix product) is evaluated once and replaced by its result as an initializer.
// Exported models then hold only folded weights and the ops applied to the input, which is what other
// consumers (OpenCV's DNN importer among them) expect. The evaluator is injected (onnxruntime in Node).
import type { Graph, TensorData } from '../graph/ir.ts';
import { liveNodes, onnx, tensorToProto, toModelProto, valueInfo, type ModelOptions } from '../graph/serialize.ts';

/** Runs a model with no inputs and returns its outputs by name. */
export type Evaluate = (model: Uint8Array) => Promise<Record<string, TensorData>>;

export async function foldedBytes(g: Graph, opts: ModelOptions, evaluate: Evaluate): Promise<Uint8Array> {
  const m = toModelProto(g, opts);
  const gp = m.graph!;
  const byName = new Map(liveNodes(g).flatMap((n) => n.outputs.map((v) => [v.name, v] as const)));
  const constant = new Set((gp.initializer ?? []).map((t) => t.name!));
  const fixed: typeof gp.node = [];
  const rest: typeof gp.node = [];
  for (const n of gp.node ?? []) {
    const pure = !(n.attribute ?? []).some((a) => a.g || a.graphs?.length) && !/^Random/.test(n.opType ?? '');
    if (pure && (n.input ?? []).every((i) => i === '' || constant.has(i))) {
      fixed.push(n);
      for (const o of n.output ?? []) constant.add(o);
    } else rest.push(n);
  }
  if (!fixed.length) return onnx.ModelProto.encode(m).finish();
  const produced = new Set(fixed.flatMap((n) => n.output ?? []));
  const needed = new Set([...rest.flatMap((n) => n.input ?? []), ...(gp.output ?? []).map((o) => o.name!)]);
  const frontier = [...produced].filter((v) => needed.has(v));
  const readByFixed = new Set(fixed.flatMap((n) => n.input ?? []));
  const evalModel = onnx.ModelProto.create({
    ...m,
    graph: { name: 'constants', node: fixed, initializer: (gp.initializer ?? []).filter((t) => readByFixed.has(t.name!)), input: [], output: frontier.map((name) => valueInfo(byName.get(name)!)) },
  });
  const values = await evaluate(onnx.ModelProto.encode(evalModel).finish());
  const folded = frontier.map((name) => tensorToProto(name, values[name]));
  gp.node = rest;
  gp.initializer = [...(gp.initializer ?? []).filter((t) => needed.has(t.name!)), ...folded];
  return onnx.ModelProto.encode(m).finish();
}
