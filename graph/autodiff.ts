// Reverse-mode differentiation over the graph IR. grad() appends gradient nodes to the same graph, in
// standard ONNX ops only, so its result can be differentiated again (gradient penalties need that).
import { isFloat, type Graph, type Node, type Value } from './ir.ts';
import { MULTI_OUTPUT, rules } from './gradients.ts';
import { expandAs, scalar, sum, zerosLike } from './ops.ts';

export interface GradOptions {
  /** What to do with a source that the outputs do not depend on: zeros (default) or an error. */
  unused?: 'zeros' | 'error';
}

/**
 * Gradients of sum_i <seeds_i, ys_i> with respect to each of xs. Seeds default to ones (for a scalar y
 * this is dy/dx). Only nodes on a path from xs to ys get gradient nodes, each value's incoming
 * gradients are summed by a single Sum, and values marked stop-gradient pass nothing back.
 */
export function grad(ys: Value | Value[], xs: Value[], seeds?: Value[], opts: GradOptions = {}): Value[] {
  const outs = Array.isArray(ys) ? ys : [ys];
  const nodes = ancestry(outs);

  // Values that depend on some x through float values and differentiable nodes.
  const live = new Set<Value>(xs);
  for (const n of nodes) {
    if (!n.inputs.some((v) => v && live.has(v))) continue;
    for (const o of n.outputs) if (isFloat(o.dtype) && !o.graph.noGrad.has(o)) live.add(o);
  }

  const pending = new Map<Value, Value[]>();
  const push = (v: Value, g: Value) => {
    const list = pending.get(v);
    if (list) list.push(g);
    else pending.set(v, [g]);
  };
  const total = (v: Value): Value | null => {
    const list = pending.get(v);
    if (!list) return null;
    const g = sum(...list);
    pending.set(v, [g]);
    return g;
  };

  outs.forEach((y, i) => {
    if (!live.has(y)) return;
    push(y, seeds?.[i] ?? ones(y));
  });

  for (let k = nodes.length - 1; k >= 0; k--) {
    const n = nodes[k];
    if (!n.outputs.some((o) => live.has(o) && pending.has(o))) continue;
    // Rules differentiate output 0 (the others are statistics: BatchNormalization's running averages),
    // except those that take every output's gradient (Split).
    const multi = MULTI_OUTPUT.has(n.op);
    if (!multi && n.outputs.slice(1).some((o) => live.has(o) && pending.has(o))) throw new Error(`${n.name}: gradients through output 2+ of ${n.op} are not supported`);
    const dys = multi ? n.outputs.map((o) => total(o)) : [total(n.outputs[0])];
    if (!dys.some(Boolean)) continue;
    const dy = dys[0] ?? zerosLike(n.outputs[0]);
    const rule = rules[n.op];
    if (!rule) throw new Error(`no gradient rule for op ${n.op} (node ${n.name}); supported: ${Object.keys(rules).sort().join(', ')}`);
    const thunks = rule(dy, n, dys);
    n.inputs.forEach((x, i) => {
      if (!x || !live.has(x) || !isFloat(x.dtype)) return;
      const t = thunks[i];
      if (t) push(x, t());
    });
  }

  return xs.map((x) => {
    const g = total(x);
    if (g) return g;
    if (opts.unused === 'error') throw new Error(`grad: '${x.name}' does not affect the outputs`);
    return zerosLike(x);
  });
}

function ones(y: Value): Value {
  const one = scalar(y.graph, 1, y.dtype);
  return y.rank === 0 ? one : expandAs(one, y);
}

/** The nodes that the outputs depend on, in graph order. */
function ancestry(outs: Value[]): Node[] {
  const need = new Set<Node>();
  const stack: Value[] = [...outs];
  while (stack.length) {
    const v = stack.pop()!;
    const n = v.producer;
    if (!n || need.has(n)) continue;
    need.add(n);
    for (const x of n.inputs) if (x) stack.push(x);
  }
  const order: Node[] = [];
  const depth = (g: Graph): number => (g.parent ? 1 + depth(g.parent) : 0);
  const graphs = [...new Set([...need].map((n) => n.outputs[0].graph))].sort((a, b) => depth(a) - depth(b));
  for (const g of graphs) for (const n of g.nodes) if (need.has(n)) order.push(n);
  return order;
}
