// Rewrites of a built graph after autodiff, before serialization: what autodiff leaves behind and
// onnxruntime's optimizers (level 'all') do not remove. A rule looks at one node whose inputs are already
// rewritten and either forwards its output to an existing value or replaces the node by a cheaper one
// with the same outputs; values a graph returns keep their producers. Loop bodies are rewritten with
// their parent, since they read the parent's values by name. Each rule keeps outputs bit-identical except
// where it says otherwise (summation order, the sign of a masked zero).
import { attr, Node, staticShape, type Graph, type TensorData, type Value } from './ir.ts';
import { scalar } from './ops.ts';
import { liveNodes } from './serialize.ts';

export interface OptimizeStats {
  /** Nodes (subgraphs included) before and after. */
  before: number;
  after: number;
  /** How often each rule fired. */
  rules: Record<string, number>;
}

type Rewrite = Value | Node | null;
type Rule = (n: Node, ctx: Ctx) => Rewrite;

interface Ctx {
  constant(v: Value): TensorData | null;
  uses(v: Value): number;
  producer(v: Value): Node | null;
}

const allEqual = (t: TensorData | null, x: number) => !!t && Array.from(t.data as ArrayLike<number>, Number).every((v) => v === x);
const sameShape = (a: Value, b: Value) => {
  const sa = staticShape(a);
  const sb = staticShape(b);
  return !!sa && !!sb && sa.length === sb.length && sa.every((d, i) => d === sb[i]) && a.dtype === b.dtype;
};
const perm = (n: Node) => (n.attrs.perm?.kind === 'ints' ? n.attrs.perm.value : null);
const replace = (n: Node, op: string, inputs: (Value | null)[], attrs: Node['attrs'] = {}) => new Node(op, inputs, n.outputs, attrs, n.name, n.domain);

/** x op c = x for the identity element c of op (when c broadcasts to nothing new). */
function neutral(n: Node, ctx: Ctx, element: number, commutes: boolean): Rewrite {
  const [a, b] = n.inputs as Value[];
  const y = n.outputs[0];
  if (allEqual(ctx.constant(b), element) && sameShape(a, y)) return a;
  if (commutes && allEqual(ctx.constant(a), element) && sameShape(b, y)) return b;
  return null;
}

/** Inputs of a chain of single-use Sums (and Adds of equal shapes) in order: gradient contributions. */
function summands(v: Value, y: Value, ctx: Ctx, top: boolean): Value[] {
  const p = ctx.producer(v);
  const flat = p && (p.op === 'Sum' || p.op === 'Add') && (top || ctx.uses(v) === 1) && p.inputs.every((x) => x && sameShape(x, y));
  return flat ? p.inputs.flatMap((x) => summands(x!, y, ctx, false)) : [v];
}

export const rules: Record<string, Rule> = {
  Identity: (n) => n.inputs[0],
  Mul: (n, ctx) => {
    const hit = neutral(n, ctx, 1, true);
    if (hit) return hit;
    // x * Cast(mask) (a ReLU-style derivative) is Where(mask, x, 0): one op less, no float mask. Differs
    // from the product only for x = inf or NaN at masked positions, and in the sign of a masked zero.
    // Not on image tensors (rank > 2): onnxruntime's WebGPU provider moves those to channels-last and
    // would transpose the bool mask, which only its CPU Transpose takes (copies both ways per step).
    for (const [i, j] of [[0, 1], [1, 0]]) {
      const c = ctx.producer(n.inputs[j]!);
      const x = n.inputs[i]!;
      if (c?.op === 'Cast' && c.inputs[0]!.dtype === 'bool' && sameShape(x, n.outputs[0]) && (x.rank ?? 3) <= 2) {
        return replace(n, 'Where', [c.inputs[0], x, scalar(n.outputs[0].graph, 0, x.dtype)]);
      }
    }
    return null;
  },
  Add: (n, ctx) => neutral(n, ctx, 0, true) ?? rules.Sum(n, ctx),
  Sub: (n, ctx) => neutral(n, ctx, 0, false),
  Div: (n, ctx) => neutral(n, ctx, 1, false),
  Neg: (n, ctx) => {
    const p = ctx.producer(n.inputs[0]!);
    return p?.op === 'Neg' ? p.inputs[0] : null;
  },
  // Gradient sums: one Sum over every contribution instead of a tree of Adds and Sums (order kept;
  // portable.ts writes it out as Adds for WebGPU).
  Sum: (n, ctx) => {
    const y = n.outputs[0];
    if (n.inputs.length === 1) return n.inputs[0];
    if (!n.inputs.every((x) => x && sameShape(x, y))) return null;
    const terms = n.inputs.flatMap((x) => summands(x!, y, ctx, false));
    return terms.length > n.inputs.length ? replace(n, 'Sum', terms) : null;
  },
  Transpose: (n, ctx) => {
    const x = n.inputs[0]!;
    const outer = perm(n);
    if (outer && outer.every((d, i) => d === i)) return x;
    const p = ctx.producer(x);
    if (p?.op !== 'Transpose' || !outer) return null;
    const inner = perm(p);
    if (!inner) return null;
    const composed = outer.map((d) => inner[d]);
    return composed.every((d, i) => d === i) ? p.inputs[0] : replace(n, 'Transpose', [p.inputs[0]], { perm: attr.ints(composed) });
  },
  Reshape: (n, ctx) => {
    const x = n.inputs[0]!;
    if (sameShape(x, n.outputs[0])) return x;
    const p = ctx.producer(x);
    const target = ctx.constant(n.inputs[1]!);
    // Reshape of a Reshape: one Reshape to the final shape (unless it copies a dim with 0).
    const copies = !target || Array.from(target.data as BigInt64Array, Number).includes(0);
    if ((p?.op === 'Reshape' || p?.op === 'Flatten' || p?.op === 'Squeeze' || p?.op === 'Unsqueeze') && !copies) return replace(n, 'Reshape', [p.inputs[0], n.inputs[1]]);
    return null;
  },
};

/** Nodes whose outputs can be shared by an identical node (same op, inputs and attributes). */
function cseKey(n: Node): string | null {
  if (/^Random/.test(n.op) || Object.values(n.attrs).some((a) => a.kind === 'graph' || a.kind === 'tensor')) return null;
  const attrs = Object.keys(n.attrs).sort().map((k) => `${k}=${JSON.stringify(n.attrs[k].value)}`);
  return `${n.domain}:${n.op}(${n.inputs.map((x) => x?.name ?? '').join(',')})[${attrs.join(';')}]`;
}

function countNodes(g: Graph): number {
  return g.nodes.reduce((a, n) => a + 1 + Object.values(n.attrs).reduce((b, at) => b + (at.kind === 'graph' ? countNodes(at.value) : 0), 0), 0);
}

/** Rewrite `g` (and its Loop bodies) in place until no rule fires; returns what changed. */
export function optimize(g: Graph): OptimizeStats {
  const stats: OptimizeStats = { before: countNodes(g), after: 0, rules: {} };
  for (let pass = 0; pass < 8 && rewritePass(g, stats); pass++);
  prune(g);
  stats.after = countNodes(g);
  return stats;
}

function rewritePass(root: Graph, stats: OptimizeStats): boolean {
  const forward = new Map<Value, Value>();
  const resolve = (v: Value): Value => {
    let r = v;
    while (forward.has(r)) r = forward.get(r)!;
    return r;
  };
  const uses = new Map<Value, number>();
  const countUses = (g: Graph) => {
    for (const n of g.nodes) {
      for (const x of n.inputs) if (x) uses.set(x, (uses.get(x) ?? 0) + 1);
      for (const a of Object.values(n.attrs)) if (a.kind === 'graph') countUses(a.value);
    }
    for (const o of g.outputs) uses.set(o, (uses.get(o) ?? 0) + 1);
  };
  countUses(root);
  let changed = false;
  const visit = (g: Graph, seen: Map<string, Node>) => {
    const returned = new Set(g.outputs);
    const ctx: Ctx = { constant: (v) => g.constantOf(v), uses: (v) => uses.get(v) ?? 0, producer: (v) => v.producer };
    for (let i = 0; i < g.nodes.length; i++) {
      let n = g.nodes[i];
      (n.inputs as (Value | null)[]).forEach((x, j) => x && ((n.inputs as (Value | null)[])[j] = resolve(x)));
      for (const a of Object.values(n.attrs)) if (a.kind === 'graph') visit(a.value, new Map(seen));
      const single = n.outputs.length === 1 && !returned.has(n.outputs[0]);
      const key = single ? cseKey(n) : null;
      const twin = key ? seen.get(key) : undefined;
      const out: Rewrite = twin ? twin.outputs[0] : single ? (rules[n.op]?.(n, ctx) ?? null) : null;
      if (!out) {
        if (key) seen.set(key, n);
        continue;
      }
      const rule = twin ? 'CSE' : n.op;
      stats.rules[rule] = (stats.rules[rule] ?? 0) + 1;
      changed = true;
      if (out instanceof Node) {
        g.nodes[i] = n = out;
        for (const o of n.outputs) o.producer = n;
        for (const x of n.inputs) if (x) uses.set(x, (uses.get(x) ?? 0) + 1);
      } else {
        forward.set(n.outputs[0], out);
        uses.set(out, (uses.get(out) ?? 0) + (uses.get(n.outputs[0]) ?? 0));
      }
    }
    for (let i = 0; i < g.outputs.length; i++) if (forward.has(g.outputs[i])) throw new Error(`optimize: graph output '${g.outputs[i].name}' was forwarded`);
  };
  visit(root, new Map());
  return changed;
}

/** Drop nodes whose outputs nothing reads, Loop bodies first (serialization keeps the same live set). */
function prune(g: Graph): void {
  for (const n of g.nodes) for (const a of Object.values(n.attrs)) if (a.kind === 'graph') prune(a.value);
  g.nodes.splice(0, g.nodes.length, ...liveNodes(g));
}
