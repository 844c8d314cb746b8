// Rewrites that give every node a kernel on every provider we train on, applied to each compiled program:
// onnxruntime's WebGPU provider has no Sum, and a WebGPU shader binds at most 8 storage buffers by default
// (maxStorageBuffersPerShaderStage; SwiftShader offers 12), so its Split and Concat, which bind one per
// tensor, fail on a model with many parameter tensors. Every rewrite keeps the outputs bit-identical.
import { attr, Node, type Graph, type Value } from './ir.ts';
import { ints, opN } from './ops.ts';

/** Tensors one Split or Concat may touch (its input or output among them). */
export const MAX_TENSORS = 8;

/**
 * A rewrite of node n: null, or the nodes that replace it and keep its outputs. Nodes it builds with fresh
 * outputs through ops go into `g` as usual and are moved before these.
 */
export type Lowering = (n: Node, g: Graph) => Node[] | null;

/** Near-equal groups of at most `max` consecutive items, at least two per group when there is more than one. */
function groups<T>(xs: T[], max: number): T[][] {
  const count = Math.ceil(xs.length / max);
  const out: T[][] = [];
  for (let k = 0, at = 0; k < count; k++) {
    const size = Math.floor(xs.length / count) + (k < xs.length % count ? 1 : 0);
    out.push(xs.slice(at, (at += size)));
  }
  return out;
}

const axisOf = (n: Node) => (n.attrs.axis?.kind === 'int' ? n.attrs.axis.value : 0);

const lowerings: Record<string, Lowering> = {
  // Sum(x1..xn) -> Add(...Add(x1, x2)..., xn): left to right, as the CPU's Sum adds.
  Sum: (n, g) => {
    const xs = n.inputs as Value[];
    if (xs.length < 2) return null;
    let acc = xs[0];
    for (const x of xs.slice(1, -1)) acc = opN('Add', [acc, x], {}, g)[0];
    return [new Node('Add', [acc, xs[xs.length - 1]], n.outputs, {}, n.name, n.domain)];
  },
  // A wide Split: one Split into groups, then one per group (revisited while the first is still too wide).
  Split: (n, g) => {
    if (n.outputs.length + 1 <= MAX_TENSORS) return null;
    const sizes = g.constantOf(n.inputs[1]!);
    if (!sizes) return null;
    const parts = Array.from(sizes.data as BigInt64Array, Number).map((size, j) => ({ size, out: n.outputs[j] }));
    const gs = groups(parts, MAX_TENSORS - 1);
    const axis = axisOf(n);
    const total = (gr: typeof parts) => gr.reduce((a, p) => a + p.size, 0);
    const top = opN('Split', [n.inputs[0], ints(g, gs.map(total))], { axis: attr.int(axis) }, g);
    return gs.map((gr, k) => new Node('Split', [top[k], ints(g, gr.map((p) => p.size))], gr.map((p) => p.out), { axis: attr.int(axis) }, g.uniqueName(`${n.name}_part`), n.domain));
  },
  // A wide Concat: Concats of groups, then one Concat of those (revisited while still too wide).
  Concat: (n, g) => {
    if (n.inputs.length + 1 <= MAX_TENSORS) return null;
    const axis = axisOf(n);
    const inner = groups(n.inputs as Value[], MAX_TENSORS - 1).map((gr) => (gr.length === 1 ? gr[0] : opN('Concat', gr, { axis: attr.int(axis) }, g)[0]));
    return [new Node('Concat', inner, n.outputs, { axis: attr.int(axis) }, n.name, n.domain)];
  },
};

/** Apply every lowering to `g` and its subgraphs in place; returns how often each fired. */
export function portable(g: Graph, counts: Record<string, number> = {}): Record<string, number> {
  return lower(g, lowerings, counts);
}

/** Apply `rules` (a lowering per op) to `g` and its subgraphs in place, until none fires; how often each fired. */
export function lower(g: Graph, rules: Record<string, Lowering>, counts: Record<string, number> = {}): Record<string, number> {
  for (let i = 0; i < g.nodes.length; i++) {
    const n = g.nodes[i];
    for (const a of Object.values(n.attrs)) if (a.kind === 'graph') lower(a.value, rules, counts);
    const appended = g.nodes.length;
    const replacing = rules[n.op]?.(n, g);
    if (!replacing) continue;
    counts[n.op] = (counts[n.op] ?? 0) + 1;
    // The new nodes replace n where it stood, in order; the loop then looks at them again.
    const made = [...g.nodes.splice(appended), ...replacing];
    for (const m of made) for (const o of m.outputs) o.producer = m;
    g.nodes.splice(i, 1, ...made);
    i--;
  }
  return counts;
}
