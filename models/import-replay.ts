// Replaying an imported ONNX graph into a training graph, the way torch.onnx.export writes graphs: shape
// arithmetic (Shape, Gather, Unsqueeze, Concat, Slice, Mul, ...) is evaluated here, at build time, for the
// batch the training graph fixes, so a Reshape to view(x.shape[0], -1, 4, 4) gets a constant shape and
// every value downstream a static one; an If whose condition folds is replaced by its branch, an If on the
// data by a Where over both branches, and a Loop or Scan of a known count is unrolled. Where the
// batch is symbolic (samplers, exports) a batch-sized entry becomes -1 in a Reshape, or is read from the
// input's Shape at run time. Layers that draw random numbers in training (Dropout in training mode,
// randn_like) take host-fed draws from the forward context, so runs stay reproducible and resumable.
import { Graph, isFloat, tensor, Value, type DType, type Node, type TensorData } from '../graph/ir.ts';
import { add, cast, concat, gather, less, mul, opN, reshape, shapeOf, slice, unsqueeze, where } from '../graph/ops.ts';
import { attrFloat, attrInt, attrInts, sliceBounds } from '../graph/schemas.ts';
import { q } from '../graph/serialize.ts';
import { RECURRENT_OPS, unrollRecurrent, type RecurrentOp } from '../graph/recurrent.ts';
import type { ForwardContext } from './model.ts';

/** An entry of an integer tensor known at build time: a number, or a multiple of the symbolic batch. */
type Entry = number | { batch: number };
interface Known {
  dtype: DType;
  dims: number[];
  data: Entry[];
}

export class ReplayError extends Error {}

/** Constants up to this size are folded at build time (shapes, scales, axes); larger ones stay tensors. */
const SMALL = 4096;
/** The most iterations a Loop or Scan is unrolled to (each a copy of its body in the training graph). */
export const MAX_UNROLL = 1000;

const isNum = (e: Entry): e is number => typeof e === 'number';
const knownFrom = (t: TensorData): Known => ({ dtype: t.dtype, dims: t.dims.slice(), data: Array.from(t.data as ArrayLike<number | bigint>, Number) });
const numeric = (k: Known) => k.data.every(isNum);

/** Elementwise arithmetic on known tensors (scalars broadcast); a batch multiple survives * and / by numbers. */
function arith(op: string, a: Known, b: Known): Known | null {
  const n = Math.max(a.data.length, b.data.length);
  if (a.data.length !== n && a.data.length !== 1) return null;
  if (b.data.length !== n && b.data.length !== 1) return null;
  const at = (k: Known, i: number) => k.data[k.data.length === 1 ? 0 : i];
  const out: Entry[] = [];
  for (let i = 0; i < n; i++) {
    const [x, y] = [at(a, i), at(b, i)];
    if (isNum(x) && isNum(y)) {
      const int = a.dtype !== 'float32' && a.dtype !== 'float64';
      const v = op === 'Add' ? x + y : op === 'Sub' ? x - y : op === 'Mul' ? x * y : op === 'Div' ? (int ? Math.trunc(x / y) : x / y) : op === 'Equal' ? +(x === y) : op === 'Less' ? +(x < y) : op === 'Greater' ? +(x > y) : op === 'Min' ? Math.min(x, y) : op === 'Max' ? Math.max(x, y) : NaN;
      if (Number.isNaN(v)) return null;
      out.push(v);
    } else if (op === 'Mul' && (isNum(x) || isNum(y))) out.push({ batch: (isNum(x) ? x : x.batch) * (isNum(y) ? y : y.batch) });
    else if (op === 'Div' && !isNum(x) && isNum(y) && x.batch % y === 0) out.push({ batch: x.batch / y });
    else return null;
  }
  const dims = a.data.length >= b.data.length ? a.dims : b.dims;
  return { dtype: ['Equal', 'Less', 'Greater'].includes(op) ? 'bool' : a.dtype, dims, data: out };
}

/** Fold one node on known inputs; null when it cannot be folded (the node is emitted instead). */
function fold(n: Node, ins: (Known | null | undefined)[], shapeOfInput: (i: number) => (number | string | null)[] | null, batchDim: (v: Value) => boolean): Known[] | null {
  const k = ins[0];
  const int = (dt: DType) => !isFloat(dt);
  switch (n.op) {
    case 'Shape': {
      const s = shapeOfInput(0);
      if (!s) return null;
      const r = s.length;
      const start = (attrInt(n.attrs, 'start', 0) + r) % r || 0;
      const endAttr = n.attrs.end ? attrInt(n.attrs, 'end', r) : r;
      const end = endAttr < 0 ? endAttr + r : Math.min(endAttr, r);
      const data: Entry[] = [];
      for (let i = start; i < end; i++) {
        const d = s[i];
        if (typeof d === 'number') data.push(d);
        else if (i === 0 && batchDim(n.inputs[0]!)) data.push({ batch: 1 });
        else return null;
      }
      return [{ dtype: 'int64', dims: [data.length], data }];
    }
    case 'Size': {
      const s = shapeOfInput(0);
      if (!s || s.some((d) => typeof d !== 'number')) return null;
      return [{ dtype: 'int64', dims: [], data: [(s as number[]).reduce((a, b) => a * b, 1)] }];
    }
    case 'Constant':
      return null; // read from the node's attribute by the caller
  }
  if (ins.some((v, i) => !v && n.inputs[i])) return null;
  switch (n.op) {
    case 'Identity':
      return [k!];
    case 'Cast': {
      const to = n.outputs[0].dtype;
      if (!int(to) && !numeric(k!)) return null;
      return [{ ...k!, dtype: to }];
    }
    case 'Gather': {
      if (attrInt(n.attrs, 'axis', 0) !== 0 || k!.dims.length > 1) return null;
      const idx = ins[1]!;
      if (!numeric(idx)) return null;
      const len = k!.data.length;
      return [{ dtype: k!.dtype, dims: idx.dims, data: (idx.data as number[]).map((i) => k!.data[i < 0 ? i + len : i]) }];
    }
    case 'Reshape': {
      // The target as given (0 copies the input's dim, -1 takes the rest), so a folded value keeps its rank.
      const t = ins[1];
      if (t && numeric(t) && attrInt(n.attrs, 'allowzero', 0) === 0) {
        const dims = (t.data as number[]).map((d, i) => (d === 0 ? k!.dims[i] : d));
        const known = dims.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
        return [{ ...k!, dims: dims.map((d) => (d === -1 ? k!.data.length / known : d)) }];
      }
      return [{ ...k!, dims: n.outputs[0].shape?.every((d) => typeof d === 'number') ? (n.outputs[0].shape as number[]) : [k!.data.length] }];
    }
    case 'Unsqueeze':
    case 'Squeeze':
    case 'Flatten':
      return [{ ...k!, dims: n.outputs[0].shape?.every((d) => typeof d === 'number') ? (n.outputs[0].shape as number[]) : [k!.data.length] }];
    case 'Transpose': {
      const r = k!.dims.length;
      const perm = attrInts(n.attrs, 'perm') ?? [...Array(r).keys()].reverse();
      const dims = perm.map((p) => k!.dims[p]);
      const strides = k!.dims.map((_, i) => k!.dims.slice(i + 1).reduce((a, b) => a * b, 1));
      const out: Entry[] = [];
      const idx = new Array(r).fill(0);
      for (let j = 0; j < k!.data.length; j++) {
        out.push(k!.data[perm.reduce((a, p, i) => a + idx[i] * strides[p], 0)]);
        for (let i = r - 1; i >= 0 && ++idx[i] === dims[i]; i--) idx[i] = 0;
      }
      return [{ dtype: k!.dtype, dims, data: out }];
    }
    case 'Concat':
      if (ins.some((v) => v!.dims.length > 1)) return null;
      return [{ dtype: k!.dtype, dims: [ins.reduce((a, v) => a + v!.data.length, 0)], data: ins.flatMap((v) => v!.data) }];
    case 'Slice': {
      // Any rank, along the axes given (default the first ones), clamped as the spec clamps (INT64_MAX ends too).
      if (!ins.slice(1).every((v) => !v || numeric(v))) return null;
      const r = k!.dims.length;
      const starts = ins[1]!.data as number[];
      const axes = ins[3] ? (ins[3].data as number[]).map((a) => (a < 0 ? a + r : a)) : starts.map((_, i) => i);
      const ranges = k!.dims.map((d) => [0, d, 1]);
      axes.forEach((a, j) => {
        const step = (ins[4]?.data[j] as number | undefined) ?? 1;
        const [b, e] = sliceBounds(starts[j], ins[2]!.data[j] as number, step, k!.dims[a]);
        ranges[a] = [b, e, step];
      });
      const picks = ranges.map(([b, e, st]) => {
        const xs: number[] = [];
        for (let i = b; st > 0 ? i < e : i > e; i += st) xs.push(i);
        return xs;
      });
      const strides = k!.dims.map((_, i) => k!.dims.slice(i + 1).reduce((a, b) => a * b, 1));
      let flat = [0];
      picks.forEach((xs, i) => (flat = flat.flatMap((base) => xs.map((x) => base + x * strides[i]))));
      return [{ dtype: k!.dtype, dims: picks.map((xs) => xs.length), data: flat.map((f) => k!.data[f]) }];
    }
    case 'Add':
    case 'Sub':
    case 'Mul':
    case 'Div':
    case 'Equal':
    case 'Less':
    case 'Greater':
    case 'Min':
    case 'Max': {
      if ((n.op === 'Min' || n.op === 'Max') && ins.length !== 2) return null;
      const r = arith(n.op, k!, ins[1]!);
      return r ? [r] : null;
    }
    case 'Not':
      return numeric(k!) ? [{ ...k!, data: (k!.data as number[]).map((v) => +!v) }] : null;
    case 'Where': {
      const [c, a, b] = ins as Known[];
      if (!numeric(c)) return null;
      const n_ = Math.max(c.data.length, a.data.length, b.data.length);
      const at = (t: Known, i: number) => t.data[t.data.length === 1 ? 0 : i];
      return [{ dtype: a.dtype, dims: c.data.length === n_ ? c.dims : a.dims, data: Array.from({ length: n_ }, (_, i) => (at(c, i) ? at(a, i) : at(b, i))) }];
    }
    case 'ConstantOfShape': {
      if (!numeric(k!)) return null;
      const v = n.attrs.value;
      const fill = v && v.kind === 'tensor' ? Number(v.value.data[0]) : 0;
      const dtype = n.outputs[0].dtype;
      if (!int(dtype)) return null; // a float fill becomes a constant of the training graph (emitted by the caller)
      const size = (k!.data as number[]).reduce((a, b) => a * b, 1);
      return [{ dtype, dims: k!.data as number[], data: new Array(size).fill(fill) }];
    }
    case 'Range': {
      if (!ins.every((v) => numeric(v!))) return null;
      const [a, b, d] = ins.map((v) => v!.data[0] as number);
      const out: number[] = [];
      for (let v = a; d > 0 ? v < b : v > b; v += d) out.push(v);
      return [{ dtype: k!.dtype, dims: [out.length], data: out }];
    }
  }
  return null;
}

export interface ReplayOptions {
  /** Where the model came from, for messages. */
  source: string;
  /** The imported graph's input and the value that stands for it in the training graph. */
  input: Value;
  given: Value;
  /** A weight's value in the training graph (its parameter), or undefined for a plain constant. */
  param(v: Value): Value | undefined;
  ctx?: ForwardContext;
}

/** The imported graph's `output` as a value of `given`'s graph. */
export function replay(g: Graph, output: Value, o: ReplayOptions): Value {
  const target = o.given.graph;
  const map = new Map<Value, Value>([[o.input, o.given]]);
  const known = new Map<Value, Known>();
  const at = (n: Node) => `${o.source}: node ${q(n.name)} (${n.op})`;

  const knownOf = (v: Value): Known | undefined => {
    const hit = known.get(v);
    if (hit) return hit;
    if (map.has(v) || o.param(v)) return undefined;
    const c = g.constantOf(v) ?? target.constantOf(v);
    if (!c || c.data.length > SMALL) return undefined;
    const k = knownFrom(c);
    known.set(v, k);
    return k;
  };

  /** A known tensor as a training-graph value: a constant, or a batch-sized entry read at run time. */
  const materialize = (k: Known): Value => {
    if (numeric(k)) return target.constant(tensor(k.dtype, k.dims, k.data as number[]), 'folded');
    const batch = slice(shapeOf(o.given), [0], [1], [0]);
    const parts = k.data.map((e) => (isNum(e) ? target.constant(tensor('int64', [1], [e]), 'dim') : e.batch === 1 ? batch : mul(batch, target.constant(tensor('int64', [1], [e.batch]), 'k'))));
    return reshape(concat(parts, 0), k.dims.length ? k.dims : []);
  };

  /** Reshape's target with a symbolic batch: the batch entry becomes -1, a -1 elsewhere its size. */
  const reshapeTarget = (n: Node, k: Known): Value => {
    if (numeric(k)) return materialize(k);
    const x = valueOf(n.inputs[0]!);
    const per = (x.shape ?? []).slice(1);
    const batchAt = k.data.findIndex((e) => !isNum(e));
    if (per.every((d) => typeof d === 'number') && k.data.filter((e) => !isNum(e)).length === 1 && (k.data[batchAt] as { batch: number }).batch === 1) {
      const rest = (per as number[]).reduce((a, b) => a * b, 1);
      const fixed = k.data.filter((e, i) => i !== batchAt && isNum(e) && e !== -1) as number[];
      const free = rest / fixed.reduce((a, b) => a * b, 1);
      if (Number.isInteger(free)) return materialize({ ...k, data: k.data.map((e, i) => (i === batchAt ? -1 : e === -1 ? free : e)) });
    }
    return materialize(k);
  };

  const valueOf = (v: Value): Value => {
    const hit = map.get(v);
    if (hit) return hit;
    const p = o.param(v);
    if (p) return p;
    const k = knownOf(v);
    if (k) {
      const c = materialize(k);
      map.set(v, c);
      return c;
    }
    const c = g.constantOf(v);
    if (c) {
      const t = target.constant(c, v.name);
      map.set(v, t);
      return t;
    }
    throw new ReplayError(`${o.source}: value ${q(v.name)} is not available`);
  };

  const random = (n: Node, dist: 'normal' | 'uniform', like: Value): Value | null => {
    const ctx = o.ctx;
    if (!ctx?.training || !ctx.random) return null;
    const shape = like.shape;
    if (!shape || shape.some((d) => typeof d !== 'number')) throw new ReplayError(`${at(n)}: draws need a static shape, got [${shape}]`);
    // The caller numbers draws within its step: the node's name is enough here.
    return ctx.random(`${o.source.split(/[\\/]/).pop()}:${n.name}`, dist, shape as number[]);
  };

  /** A value of the imported graph stands for a known tensor or a training-graph value from now on. */
  const bind = (v: Value, r: Known | Value) => {
    if (r instanceof Value) {
      known.delete(v);
      map.set(v, r);
    } else {
      map.delete(v);
      known.set(v, r);
    }
  };
  const asValue = (r: Known | Value) => (r instanceof Value ? r : materialize(r));
  const resultOf = (v: Value): Known | Value => known.get(v) ?? valueOf(v);
  /** Forget what a body computed last time (a value folded in one iteration may not fold in the next). */
  const forget = (body: Graph) => {
    for (const b of body.nodes) {
      for (const v of b.outputs) (known.delete(v), map.delete(v));
      for (const a of Object.values(b.attrs)) if (a.kind === 'graph') forget(a.value);
    }
  };
  const bodyOf = (n: Node): Graph => {
    const b = n.attrs.body;
    if (b?.kind !== 'graph') throw new ReplayError(`${at(n)}: missing body`);
    return b.value;
  };
  const stack = (xs: Value[], axis: number) => concat(xs.map((x) => unsqueeze(x, [axis])), axis);

  /**
   * Loop with a trip count and a condition known at build time: its body replayed once per iteration (the
   * iteration number and the condition as known scalars), carried values threaded through, scan outputs
   * stacked; so training goes through the rules of the ops inside.
   */
  const unrollLoop = (n: Node) => {
    const body = bodyOf(n);
    const [mIn, cIn, ...initial] = n.inputs;
    const m = mIn ? knownOf(mIn) : undefined;
    if (mIn && (!m || !numeric(m))) throw new ReplayError(`${at(n)}: a Loop whose trip count depends on the data cannot be unrolled for training`);
    const trip = m ? Number(m.data[0]) : Infinity;
    let cond = cIn ? knownOf(cIn) : { dtype: 'bool' as DType, dims: [], data: [1] };
    if (!cond || !numeric(cond)) throw new ReplayError(`${at(n)}: a Loop whose condition depends on the data cannot be unrolled for training`);
    let carried = initial.map((v) => resultOf(v!));
    const scans: Value[][] = body.outputs.slice(1 + carried.length).map(() => []);
    let i = 0;
    for (; i < trip && cond.data[0]; i++) {
      if (i >= MAX_UNROLL) throw new ReplayError(`${at(n)}: a Loop of more than ${MAX_UNROLL} iterations is not unrolled for training`);
      forget(body);
      bind(body.inputs[0], { dtype: 'int64', dims: [], data: [i] });
      bind(body.inputs[1], cond);
      carried.forEach((r, j) => bind(body.inputs[2 + j], r));
      run(body.nodes);
      const next = knownOf(body.outputs[0]);
      if (!next || !numeric(next)) throw new ReplayError(`${at(n)}: a Loop whose condition depends on the data cannot be unrolled for training`);
      cond = next;
      carried = body.outputs.slice(1, 1 + carried.length).map(resultOf);
      scans.forEach((list, k) => list.push(asValue(resultOf(body.outputs[1 + carried.length + k]))));
    }
    if (scans.length && i === 0) throw new ReplayError(`${at(n)}: a Loop of no iterations has empty scan outputs`);
    carried.forEach((r, j) => bind(n.outputs[j], r));
    scans.forEach((list, k) => n.outputs[carried.length + k] && bind(n.outputs[carried.length + k], stack(list, 0)));
  };

  /** Scan over a static sequence length: its body replayed once per step on that step's slices, outputs stacked. */
  const unrollScan = (n: Node) => {
    const body = bodyOf(n);
    const m = attrInt(n.attrs, 'num_scan_inputs', 0);
    const states = n.inputs.slice(0, n.inputs.length - m).map((v) => resultOf(v!));
    const seqs = n.inputs.slice(n.inputs.length - m).map((v) => valueOf(v!));
    const inAxes = attrInts(n.attrs, 'scan_input_axes') ?? seqs.map(() => 0);
    const inDirs = attrInts(n.attrs, 'scan_input_directions') ?? seqs.map(() => 0);
    const k = body.outputs.length - states.length;
    const outAxes = attrInts(n.attrs, 'scan_output_axes') ?? new Array<number>(k).fill(0);
    const outDirs = attrInts(n.attrs, 'scan_output_directions') ?? new Array<number>(k).fill(0);
    const axisOf = (x: Value, a: number) => (a < 0 ? a + x.rank! : a);
    const len = seqs[0]?.shape?.[axisOf(seqs[0], inAxes[0])];
    if (typeof len !== 'number') throw new ReplayError(`${at(n)}: a Scan over a sequence of unknown length cannot be unrolled for training`);
    if (len > MAX_UNROLL) throw new ReplayError(`${at(n)}: a Scan of more than ${MAX_UNROLL} steps is not unrolled for training`);
    let cur = states;
    const outs: Value[][] = Array.from({ length: k }, () => []);
    for (let t = 0; t < len; t++) {
      forget(body);
      cur.forEach((r, j) => bind(body.inputs[j], r));
      seqs.forEach((x, j) => {
        const step = inDirs[j] ? len - 1 - t : t;
        bind(body.inputs[cur.length + j], gather(x, target.constant(tensor('int64', [], [step]), 'step'), axisOf(x, inAxes[j])));
      });
      run(body.nodes);
      cur = body.outputs.slice(0, cur.length).map(resultOf);
      outs.forEach((list, j) => list.push(asValue(resultOf(body.outputs[cur.length + j]))));
    }
    cur.forEach((r, j) => bind(n.outputs[j], r));
    outs.forEach((list, j) => {
      const y = n.outputs[cur.length + j];
      if (!y) return;
      const ordered = outDirs[j] ? [...list].reverse() : list;
      bind(y, stack(ordered, outAxes[j] < 0 ? outAxes[j] + ordered[0].rank! + 1 : outAxes[j]));
    });
  };

  /** The graph's own nodes (not a subgraph's, replayed once per iteration) show their outputs to ctx.tensor. */
  const run = (nodes: Node[], top = false) => {
    for (const n of nodes) {
      replayNode(n);
      // Only values of the training graph: what folds to a known tensor (shape arithmetic) is not a tensor to rewrite.
      if (top && o.ctx?.tensor) for (const out of n.outputs) if (map.has(out)) map.set(out, o.ctx.tensor(out.name, map.get(out)!));
    }
  };
  const replayNode = (n: Node) => {
    if (n.op === 'Constant') {
      const v = n.attrs.value;
      if (v?.kind === 'tensor' && v.value.data.length <= SMALL) known.set(n.outputs[0], knownFrom(v.value));
      else if (v?.kind === 'tensor') map.set(n.outputs[0], target.constant(v.value, n.outputs[0].name));
      else throw new ReplayError(`${at(n)}: only tensor constants are supported`);
      return;
    }
    if (n.op === 'If') {
      const c = knownOf(n.inputs[0]!);
      const branch = (k: string) => {
        const b = n.attrs[k];
        if (b?.kind !== 'graph') throw new ReplayError(`${at(n)}: missing ${k}`);
        run(b.value.nodes);
        return b.value.outputs.map(resultOf);
      };
      if (c && numeric(c)) {
        // A condition on shapes folds: the branch taken is replayed in the If's place.
        branch(c.data[0] ? 'then_branch' : 'else_branch').forEach((r, i) => bind(n.outputs[i], r));
        return;
      }
      // A condition on the data: both branches, each output chosen by Where (its gradient goes to the
      // branch taken), so both branches' outputs need one shape.
      const [a, b] = [branch('then_branch'), branch('else_branch')].map((rs) => rs.map(asValue));
      const cond = valueOf(n.inputs[0]!);
      n.outputs.forEach((out, i) => {
        const [ta, tb] = [a[i], b[i]];
        if (!ta.shape || !tb.shape || ta.shape.length !== tb.shape.length || ta.shape.some((d, j) => d !== tb.shape![j] || typeof d !== 'number')) throw new ReplayError(`${at(n)}: an If on the data is trained as a choice between both branches, whose outputs need one static shape; output ${i} is ${ta} in one, ${tb} in the other`);
        map.set(out, where(cond.dtype === 'bool' ? cond : cast(cond, 'bool'), ta, tb));
      });
      return;
    }
    if (n.op === 'Loop') {
      unrollLoop(n);
      return;
    }
    if (n.op === 'Scan') {
      unrollScan(n);
      return;
    }
    if (Object.values(n.attrs).some((a) => a.kind === 'graph')) throw new ReplayError(`${at(n)}: subgraphs of ${n.op} are not supported`);
    const ins = n.inputs.map((v) => (v ? knownOf(v) : undefined));
    const folded = fold(n, ins, (i) => valueOf(n.inputs[i]!).shape, (v) => valueOf(v).shape?.[0] === o.given.shape?.[0]);
    if (folded) {
      folded.forEach((k, i) => n.outputs[i] && known.set(n.outputs[i], k));
      return;
    }
    if (n.op === 'Dropout') {
      // Training mode (its third input true) drops with the host's draws in training passes; else identity.
      const train = n.inputs[2] ? knownOf(n.inputs[2]!) : undefined;
      // The ratio: a Constant (known), or an initializer (which import otherwise makes a parameter).
      const ratio = n.inputs[1] ? (knownOf(n.inputs[1]!) ?? g.constantOf(n.inputs[1]!)) : null;
      const p = ratio ? Number(ratio.data[0]) : 0.5;
      const x = valueOf(n.inputs[0]!);
      const u = train && train.data[0] ? random(n, 'uniform', x) : null;
      map.set(n.outputs[0], u ? mul(mul(x, cast(less(u, 1 - p), x.dtype)), 1 / (1 - p)) : x);
      return;
    }
    if (n.op === 'RandomNormalLike' || n.op === 'RandomUniformLike') {
      const x = valueOf(n.inputs[0]!);
      const normal = n.op === 'RandomNormalLike';
      const d = random(n, normal ? 'normal' : 'uniform', x);
      if (d) {
        const [a, b] = normal ? [attrFloat(n.attrs, 'mean', 0), attrFloat(n.attrs, 'scale', 1)] : [attrFloat(n.attrs, 'low', 0), attrFloat(n.attrs, 'high', 1) - attrFloat(n.attrs, 'low', 0)];
        map.set(n.outputs[0], add(mul(d, b), a));
        return;
      }
    }
    const args = n.inputs.map((v, i) => {
      if (!v) return null;
      const k = ins[i];
      if (k && n.op === 'Reshape' && i === 1) return reshapeTarget(n, k);
      return valueOf(v);
    });
    // Recurrent ops are unrolled over their (now static) length into ops that have gradient rules.
    const outs = (RECURRENT_OPS as string[]).includes(n.op) ? unrollRecurrent(n.op as RecurrentOp, args, n.attrs) : opN(n.op, args, n.attrs, target);
    n.outputs.forEach((out, i) => map.set(out, outs[i]));
  };
  run(g.nodes, true);
  return valueOf(output);
}

