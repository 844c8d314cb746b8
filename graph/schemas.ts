// Type and shape inference, one entry per op. The builder uses it to give every value a dtype and shape,
// the parser to type a foreign graph, and the checker to name the node at fault in a malformed one.
import { shown, type Attr, type DType, type Dim, type Shape, type TensorData } from './ir.ts';

export interface InferInput {
  dtype: DType;
  shape: Shape;
  /** The constant behind the input, when known (initializer or Constant). */
  constant: TensorData | null;
}
export interface OutType {
  dtype: DType;
  shape: Shape;
}
export type Infer = (inputs: (InferInput | null)[], attrs: Record<string, Attr>) => OutType[];

export class ShapeError extends Error {}
const fail = (msg: string): never => {
  throw new ShapeError(msg);
};

export function attrInt(attrs: Record<string, Attr>, name: string, dflt: number): number {
  const a = attrs[name];
  if (!a) return dflt;
  if (a.kind !== 'int') fail(`attribute '${name}' must be an int`);
  return a.value as number;
}
export function attrFloat(attrs: Record<string, Attr>, name: string, dflt: number): number {
  const a = attrs[name];
  if (!a) return dflt;
  if (a.kind !== 'float' && a.kind !== 'int') fail(`attribute '${name}' must be a float`);
  return a.value as number;
}
export function attrInts(attrs: Record<string, Attr>, name: string): number[] | null {
  const a = attrs[name];
  if (!a) return null;
  if (a.kind !== 'ints') fail(`attribute '${name}' must be a list of ints`);
  return a.value as number[];
}

/**
 * An Einsum equation's terms, explicit ('ij,jk->ik') or implicit ('ij,jk': the letters that occur once, in
 * alphabetical order). Ellipses are refused by name.
 */
export function parseEinsum(equation: string, operands: number): { ins: string[]; out: string } {
  const eq = equation.replace(/\s/g, '');
  if (eq.includes('.')) fail(`Einsum '${equation}': an ellipsis (...) is not supported; write the axes out`);
  if (!/^[a-zA-Z,]*(->[a-zA-Z]*)?$/.test(eq)) fail(`Einsum '${equation}': not an equation of letters`);
  const [lhs, rhs] = eq.split('->');
  const ins = lhs.split(',');
  if (ins.length !== operands) fail(`Einsum '${equation}' has ${ins.length} operands, the node has ${operands}`);
  const counts = new Map<string, number>();
  for (const c of lhs.replace(/,/g, '')) counts.set(c, (counts.get(c) ?? 0) + 1);
  const out = rhs ?? [...counts].filter(([, k]) => k === 1).map(([c]) => c).sort().join('');
  for (const c of out) if (!counts.has(c)) fail(`Einsum '${equation}': output letter '${c}' is in no input`);
  return { ins, out };
}

export function constInts(t: TensorData | null): number[] | null {
  if (!t) return null;
  return Array.from(t.data as ArrayLike<number | bigint>, Number);
}

export function broadcastDim(a: Dim, b: Dim): Dim {
  if (a === 1) return b;
  if (b === 1) return a;
  if (a === b) return a;
  if (typeof a === 'number' && typeof b === 'number') fail(`cannot broadcast dimensions ${a} and ${b}`);
  if (a === null) return typeof b === 'number' ? b : null;
  if (b === null) return typeof a === 'number' ? a : null;
  return typeof a === 'number' ? a : typeof b === 'number' ? b : null;
}

export function broadcastShapes(...shapes: Shape[]): Shape {
  if (shapes.some((s) => s === null)) return null;
  const rank = Math.max(...shapes.map((s) => s!.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const k = i - (rank - s!.length);
      if (k >= 0) d = broadcastDim(d, s![k]);
    }
    out.push(d);
  }
  return out;
}

const normAxis = (axis: number, rank: number): number => {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) fail(`axis ${axis} is out of range for rank ${rank}`);
  return a;
};

function need(inputs: (InferInput | null)[], n: number, max = n): InferInput[] {
  if (inputs.length < n || inputs.length > max) fail(`expects ${n === max ? n : `${n} to ${max}`} inputs, got ${inputs.length}`);
  for (let i = 0; i < n; i++) if (!inputs[i]) fail(`input ${i} is required`);
  return inputs as InferInput[];
}

function sameDtype(inputs: InferInput[], allowed?: DType[]): DType {
  const dt = inputs[0].dtype;
  for (const x of inputs) if (x.dtype !== dt) fail(`input dtypes differ: ${inputs.map((i) => i.dtype).join(' vs ')}`);
  if (allowed && !allowed.includes(dt)) fail(`dtype ${dt} is not supported (expects ${allowed.join(', ')})`);
  return dt;
}

const FLOATS: DType[] = ['float32', 'float64'];
const NUMERIC: DType[] = ['float32', 'float64', 'int32', 'int64', 'uint8'];

const elementwise =
  (allowed: DType[]): Infer =>
  (ins) => {
    const xs = need(ins, 1, 1);
    return [{ dtype: sameDtype(xs, allowed), shape: xs[0].shape }];
  };
const binary =
  (allowed: DType[], outDtype?: DType): Infer =>
  (ins) => {
    const xs = need(ins, 2);
    const dt = sameDtype(xs, allowed);
    return [{ dtype: outDtype ?? dt, shape: broadcastShapes(xs[0].shape, xs[1].shape) }];
  };
const variadic =
  (allowed: DType[]): Infer =>
  (ins) => {
    const xs = need(ins, 1, 1 << 20);
    // Every input of a variadic op is required: an empty name in the middle is a malformed model.
    xs.forEach((x, i) => x || fail(`input ${i} is required`));
    return [{ dtype: sameDtype(xs, allowed), shape: broadcastShapes(...xs.map((x) => x.shape)) }];
  };

function reduceShape(shape: Shape, axes: number[] | null, keepdims: boolean, noopWithEmpty = false): Shape {
  if (!shape) return null;
  const rank = shape.length;
  if (axes === null || axes.length === 0) {
    if (noopWithEmpty) return shape;
    return keepdims ? shape.map(() => 1) : [];
  }
  const ax = new Set(axes.map((a) => normAxis(a, rank)));
  const out: Dim[] = [];
  shape.forEach((d, i) => {
    if (!ax.has(i)) out.push(d);
    else if (keepdims) out.push(1);
  });
  return out;
}

/**
 * A reshape that keeps one symbolic dimension (the batch) and regroups the static rest keeps its name:
 * [N, 392] -> [-1, 8, 7, 7] is [N, 8, 7, 7]. Null when that cannot be shown.
 */
function keptSymbol(input: Shape, rest: Dim[]): Dim {
  if (!input || !rest.every((d) => typeof d === 'number')) return null;
  const symbols = input.filter((d) => typeof d === 'string');
  if (symbols.length !== 1 || input.some((d) => d === null)) return null;
  const prod = (ds: Dim[]) => (ds as number[]).reduce((a, b) => a * b, 1);
  return prod(input.filter((d) => typeof d === 'number')) === prod(rest) ? symbols[0] : null;
}

function reshapeShape(input: Shape, target: number[], allowZero: boolean): Shape {
  const out: Dim[] = target.map((d, i) => (d === 0 && !allowZero ? (input ? input[i] : null) : d));
  const minus = out.indexOf(-1);
  if (minus >= 0) {
    if (out.indexOf(-1, minus + 1) >= 0) fail('reshape target has more than one -1');
    const known = input && input.every((d) => typeof d === 'number') ? (input as number[]).reduce((a, b) => a * b, 1) : null;
    const rest = out.filter((d, i) => i !== minus);
    if (known !== null && rest.every((d) => typeof d === 'number')) {
      const p = (rest as number[]).reduce((a, b) => a * b, 1);
      if (p === 0 || known % p !== 0) fail(`cannot reshape ${known} elements to ${shown(target)}`);
      out[minus] = known / p;
    } else out[minus] = keptSymbol(input, rest);
  } else if (input && input.every((d) => typeof d === 'number') && out.every((d) => typeof d === 'number')) {
    const a = (input as number[]).reduce((x, y) => x * y, 1);
    const b = (out as number[]).reduce((x, y) => x * y, 1);
    if (a !== b) fail(`cannot reshape ${shown(input)} (${a} elements) to ${shown(target)} (${b} elements)`);
  }
  return out;
}

/** numpy.matmul's shape: a rank-1 operand is a row (a) or a column (b) whose dimension is dropped after. */
function matmulShape(a: Shape, b: Shape): Shape {
  if (!a || !b) return null;
  if (a.length < 1 || b.length < 1) fail(`MatMul needs operands of rank >= 1, got ranks ${a.length} and ${b.length}`);
  const A = a.length === 1 ? [1, a[0]] : a;
  const B = b.length === 1 ? [b[0], 1] : b;
  const [m, k1] = A.slice(-2);
  const [k2, n] = B.slice(-2);
  if (typeof k1 === 'number' && typeof k2 === 'number' && k1 !== k2) fail(`inner dimensions differ: ${shown(a)} x ${shown(b)}`);
  const batch = broadcastShapes(A.slice(0, -2), B.slice(0, -2))!;
  return [...batch, ...(a.length === 1 ? [] : [m]), ...(b.length === 1 ? [] : [n])];
}

/** DepthToSpace / SpaceToDepth: [N, C, H, W] with C divided (or multiplied) by b^2 and H, W the other way. */
const depthSpace = (toSpace: boolean): Infer => (ins, attrs) => {
  const x = need(ins, 1)[0];
  const b = attrInt(attrs, 'blocksize', 0);
  if (b < 1) fail('blocksize must be a positive integer');
  if (x.shape && x.shape.length !== 4) fail(`needs a [N, C, H, W] input, got ${shown(x.shape)}`);
  if (!x.shape) return [{ dtype: x.dtype, shape: null }];
  const [n, c, h, w] = x.shape;
  const times = (d: Dim, f: number) => (typeof d === 'number' ? d * f : null);
  const over = (d: Dim, f: number, what: string) => {
    if (typeof d !== 'number') return null;
    if (d % f) fail(`${what} ${d} is not divisible by ${f}`);
    return d / f;
  };
  return [{ dtype: x.dtype, shape: toSpace ? [n, over(c, b * b, 'channels'), times(h, b), times(w, b)] : [n, times(c, b * b), over(h, b, 'height'), over(w, b, 'width')] }];
};

/** RNN, GRU, LSTM (layout 0): Y [seq, dirs, batch, hidden], Y_h (and LSTM's Y_c) [dirs, batch, hidden]. */
const recurrent = (lstm: boolean): Infer => (ins, attrs) => {
  const [x, w, r] = need(ins, 3, lstm ? 8 : 6);
  sameDtype([x, w, r], FLOATS);
  if (attrInt(attrs, 'layout', 0) !== 0) fail('layout 1 (batch first) is not supported');
  const hidden = attrInt(attrs, 'hidden_size', 0);
  if (hidden < 1) fail('needs hidden_size');
  const dirs = attrs.direction?.value === 'bidirectional' ? 2 : 1;
  const [T, N] = x.shape ?? [null, null];
  const last: OutType = { dtype: x.dtype, shape: [dirs, N, hidden] };
  return [{ dtype: x.dtype, shape: [T, dirs, N, hidden] }, last, ...(lstm ? [last] : [])];
};

/** Pooling over every spatial position: [N, C, 1, ...]. */
const globalPool: Infer = (ins) => {
  const x = need(ins, 1)[0];
  if (x.shape && x.shape.length < 3) fail(`needs [N, C, spatial...], got ${shown(x.shape)}`);
  return [{ dtype: x.dtype, shape: x.shape && [x.shape[0], x.shape[1], ...x.shape.slice(2).map(() => 1)] }];
};

export const schemas: Record<string, Infer> = {
  Add: binary(NUMERIC),
  Sub: binary(NUMERIC),
  Mul: binary(NUMERIC),
  Div: binary(NUMERIC),
  Pow: (ins) => {
    const [a, b] = need(ins, 2);
    if (!FLOATS.includes(a.dtype)) fail(`Pow base must be float, got ${a.dtype}`);
    return [{ dtype: a.dtype, shape: broadcastShapes(a.shape, b.shape) }];
  },
  Neg: elementwise(['float32', 'float64', 'int32', 'int64']),
  Abs: elementwise(NUMERIC),
  Sign: elementwise(NUMERIC),
  Sqrt: elementwise(FLOATS),
  Exp: elementwise(FLOATS),
  Log: elementwise(FLOATS),
  Reciprocal: elementwise(FLOATS),
  Relu: elementwise(FLOATS),
  LeakyRelu: elementwise(FLOATS),
  Sigmoid: elementwise(FLOATS),
  Tanh: elementwise(FLOATS),
  Softplus: elementwise(FLOATS),
  Round: elementwise(FLOATS),
  Floor: elementwise(FLOATS),
  Ceil: elementwise(FLOATS),
  Erf: elementwise(FLOATS),
  Elu: elementwise(FLOATS),
  Selu: elementwise(FLOATS),
  Celu: elementwise(['float32']),
  HardSigmoid: elementwise(FLOATS),
  HardSwish: elementwise(FLOATS),
  Softsign: elementwise(FLOATS),
  ThresholdedRelu: elementwise(FLOATS),
  PRelu: (ins) => {
    const [x, slope] = need(ins, 2);
    sameDtype([x, slope], FLOATS);
    // The slope broadcasts to x, never the other way (unidirectional).
    if (x.shape && slope.shape && broadcastShapes(x.shape, slope.shape)?.length !== x.shape.length) fail(`slope ${shown(slope.shape)} does not broadcast to x ${shown(x.shape)}`);
    return [{ dtype: x.dtype, shape: x.shape }];
  },
  ...Object.fromEntries(['Sin', 'Cos', 'Tan', 'Asin', 'Acos', 'Atan', 'Sinh', 'Cosh', 'Asinh', 'Acosh', 'Atanh'].map((o) => [o, elementwise(FLOATS)])),
  Mean: variadic(FLOATS),
  DepthToSpace: depthSpace(true),
  SpaceToDepth: depthSpace(false),
  GlobalAveragePool: globalPool,
  GlobalLpPool: globalPool,
  ...Object.fromEntries(['RNN', 'GRU', 'LSTM'].map((op): [string, Infer] => [op, recurrent(op === 'LSTM')])),
  LRN: (ins, attrs) => {
    const x = need(ins, 1)[0];
    if (attrInt(attrs, 'size', 0) < 1) fail('LRN needs a positive size');
    if (x.shape && x.shape.length < 3) fail(`needs [N, C, spatial...], got ${shown(x.shape)}`);
    return [{ dtype: x.dtype, shape: x.shape }];
  },
  Compress: (ins, attrs) => {
    const [x, c] = need(ins, 2);
    if (c.dtype !== 'bool') fail(`condition must be bool, got ${c.dtype}`);
    const kept = c.constant ? Array.from(c.constant.data as ArrayLike<number>).filter(Boolean).length : null;
    if (!attrs.axis) return [{ dtype: x.dtype, shape: [kept] }];
    if (!x.shape) return [{ dtype: x.dtype, shape: null }];
    const axis = normAxis(attrInt(attrs, 'axis', 0), x.shape.length);
    return [{ dtype: x.dtype, shape: x.shape.map((d, i) => (i === axis ? kept : d)) }];
  },
  NegativeLogLikelihoodLoss: (ins, attrs) => {
    const [x, t] = need(ins, 2, 3);
    if (t.dtype !== 'int64' && t.dtype !== 'int32') fail(`target must be int32/int64, got ${t.dtype}`);
    const none = (attrs.reduction?.value ?? 'mean') === 'none';
    return [{ dtype: x.dtype, shape: none ? t.shape : [] }];
  },
  SoftmaxCrossEntropyLoss: (ins, attrs) => {
    const [x, t] = need(ins, 2, 3);
    if (t.dtype !== 'int64' && t.dtype !== 'int32') fail(`labels must be int32/int64, got ${t.dtype}`);
    const none = (attrs.reduction?.value ?? 'mean') === 'none';
    return [{ dtype: x.dtype, shape: none ? t.shape : [] }, { dtype: x.dtype, shape: x.shape }];
  },
  ReverseSequence: (ins) => {
    const [x, lens] = need(ins, 2);
    if (lens.dtype !== 'int64') fail(`sequence_lens must be int64, got ${lens.dtype}`);
    if (x.shape && x.shape.length < 2) fail(`needs rank >= 2, got ${shown(x.shape)}`);
    return [{ dtype: x.dtype, shape: x.shape }];
  },
  GlobalMaxPool: globalPool,
  Tile: (ins) => {
    const [x, repeats] = need(ins, 2);
    if (repeats.dtype !== 'int64') fail(`repeats must be int64, got ${repeats.dtype}`);
    const r = constInts(repeats.constant);
    if (r && x.shape && r.length !== x.shape.length) fail(`repeats has ${r.length} entries for a rank-${x.shape.length} input`);
    return [{ dtype: x.dtype, shape: x.shape && x.shape.map((d, i) => (r && typeof d === 'number' ? d * r[i] : null)) }];
  },
  Softmax: elementwise(FLOATS),
  LogSoftmax: elementwise(FLOATS),
  // Dropout: the output and, when asked for, the mask; ratio and training_mode are optional inputs.
  Dropout: (ins) => {
    const x = need(ins, 1, 3)[0];
    return [{ dtype: x.dtype, shape: x.shape }, { dtype: 'bool', shape: x.shape }];
  },
  RandomNormalLike: (ins, attrs) => {
    const x = need(ins, 1)[0];
    return [{ dtype: attrs.dtype ? dtypeFromOnnx(attrInt(attrs, 'dtype', 1)) : x.dtype, shape: x.shape }];
  },
  RandomUniformLike: (ins, attrs) => {
    const x = need(ins, 1)[0];
    return [{ dtype: attrs.dtype ? dtypeFromOnnx(attrInt(attrs, 'dtype', 1)) : x.dtype, shape: x.shape }];
  },
  Range: (ins) => {
    const [start, limit, delta] = need(ins, 3);
    const [a, b, d] = [start, limit, delta].map((v) => constInts(v.constant)?.[0]);
    const n = a !== undefined && b !== undefined && d ? Math.max(Math.ceil((b - a) / d), 0) : null;
    return [{ dtype: start.dtype, shape: [n] }];
  },
  Identity: (ins) => [{ dtype: need(ins, 1)[0].dtype, shape: ins[0]!.shape }],
  Min: variadic(NUMERIC),
  Max: variadic(NUMERIC),
  Sum: variadic(FLOATS),
  Clip: (ins) => {
    const x = need(ins, 1, 3)[0];
    for (const b of ins.slice(1)) if (b && b.dtype !== x.dtype) fail(`Clip bound dtype ${b.dtype} differs from input ${x.dtype}`);
    return [{ dtype: x.dtype, shape: x.shape }];
  },
  Where: (ins) => {
    const [c, x, y] = need(ins, 3);
    if (c.dtype !== 'bool') fail(`Where condition must be bool, got ${c.dtype}`);
    return [{ dtype: sameDtype([x, y]), shape: broadcastShapes(c.shape, x.shape, y.shape) }];
  },
  Greater: binary(NUMERIC, 'bool'),
  Less: binary(NUMERIC, 'bool'),
  GreaterOrEqual: binary(NUMERIC, 'bool'),
  LessOrEqual: binary(NUMERIC, 'bool'),
  Equal: binary([...NUMERIC, 'bool'], 'bool'),
  And: binary(['bool']),
  Or: binary(['bool']),
  Not: elementwise(['bool']),
  IsNaN: (ins) => [{ dtype: 'bool', shape: need(ins, 1)[0].shape }],
  IsInf: (ins) => [{ dtype: 'bool', shape: need(ins, 1)[0].shape }],
  Cast: (ins, attrs) => {
    const x = need(ins, 1)[0];
    return [{ dtype: dtypeFromOnnx(attrInt(attrs, 'to', 0)), shape: x.shape }];
  },
  Size: (ins) => [{ dtype: 'int64', shape: (need(ins, 1), []) }],
  Shape: (ins) => {
    const x = need(ins, 1)[0];
    return [{ dtype: 'int64', shape: [x.shape ? x.shape.length : null] }];
  },
  MatMul: (ins) => {
    const [a, b] = need(ins, 2);
    return [{ dtype: sameDtype([a, b], FLOATS), shape: matmulShape(a.shape, b.shape) }];
  },
  Gemm: (ins, attrs) => {
    const xs = need(ins, 2, 3);
    const [a, b] = xs;
    const dt = sameDtype(xs.filter(Boolean), FLOATS);
    if (!a.shape || !b.shape) return [{ dtype: dt, shape: [null, null] }];
    if (a.shape.length !== 2 || b.shape.length !== 2) fail(`Gemm needs rank-2 A and B, got ${shown(a.shape)} and ${shown(b.shape)}`);
    const [m, k1] = attrInt(attrs, 'transA', 0) ? [a.shape[1], a.shape[0]] : a.shape;
    const [k2, n] = attrInt(attrs, 'transB', 0) ? [b.shape[1], b.shape[0]] : b.shape;
    if (typeof k1 === 'number' && typeof k2 === 'number' && k1 !== k2) fail(`Gemm inner dimensions differ: ${k1} vs ${k2}`);
    const shape: Shape = [m, n];
    if (xs[2]) broadcastShapes(xs[2].shape, shape);
    return [{ dtype: dt, shape }];
  },
  ReduceSum: (ins, attrs) => {
    const [x] = need(ins, 1, 2);
    const axesIn = ins[1];
    if (axesIn && !axesIn.constant) return [{ dtype: x.dtype, shape: null }];
    const axes = axesIn ? constInts(axesIn.constant) : null;
    return [{ dtype: x.dtype, shape: reduceShape(x.shape, axes, attrInt(attrs, 'keepdims', 1) === 1, attrInt(attrs, 'noop_with_empty_axes', 0) === 1) }];
  },
  ReduceMean: (ins, attrs) => {
    const x = need(ins, 1)[0];
    return [{ dtype: x.dtype, shape: reduceShape(x.shape, attrInts(attrs, 'axes'), attrInt(attrs, 'keepdims', 1) === 1) }];
  },
  ReduceMax: (ins, attrs) => {
    const x = need(ins, 1)[0];
    return [{ dtype: x.dtype, shape: reduceShape(x.shape, attrInts(attrs, 'axes'), attrInt(attrs, 'keepdims', 1) === 1) }];
  },
  // The other reductions take their axes as an attribute up to opset 17, as ReduceMean does.
  ...Object.fromEntries(
    ['ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceSumSquare', 'ReduceLogSum', 'ReduceLogSumExp'].map((op): [string, Infer] => [
      op,
      (ins, attrs) => {
        const x = need(ins, 1)[0];
        return [{ dtype: x.dtype, shape: reduceShape(x.shape, attrInts(attrs, 'axes'), attrInt(attrs, 'keepdims', 1) === 1) }];
      },
    ]),
  ),
  CumSum: (ins) => {
    const [x, axis] = need(ins, 2);
    if (axis.dtype !== 'int64' && axis.dtype !== 'int32') fail(`CumSum axis must be int32/int64, got ${axis.dtype}`);
    return [{ dtype: x.dtype, shape: x.shape }];
  },
  Trilu: (ins) => {
    const x = need(ins, 1, 2)[0];
    if (x.shape && x.shape.length < 2) fail(`needs rank >= 2, got ${shown(x.shape)}`);
    return [{ dtype: x.dtype, shape: x.shape }];
  },
  Shrink: elementwise(FLOATS),
  Einsum: (ins, attrs) => {
    const xs = need(ins, 1, 64);
    const a = attrs.equation;
    if (!a || a.kind !== 'string') fail('Einsum needs an equation');
    const { ins: terms, out } = parseEinsum(a!.value as string, xs.length);
    const dims = new Map<string, Dim>();
    terms.forEach((t, i) => {
      const s = xs[i].shape;
      if (s && s.length !== t.length) fail(`term '${t}' has ${t.length} letters, input ${i} has rank ${s.length}`);
      [...t].forEach((c, k) => {
        const d = s ? s[k] : null;
        const had = dims.get(c);
        if (typeof had === 'number' && typeof d === 'number' && had !== d) fail(`letter '${c}' is ${had} in one input and ${d} in input ${i}`);
        if (typeof had !== 'number') dims.set(c, d);
      });
    });
    return [{ dtype: sameDtype(xs, FLOATS), shape: [...out].map((c) => dims.get(c) ?? null) }];
  },
  GridSample: (ins, attrs) => {
    const [x, grid] = need(ins, 2);
    sameDtype([x, grid], FLOATS);
    if (x.shape && x.shape.length !== 4) fail(`needs a [N, C, H, W] input, got ${shown(x.shape)}`);
    if (grid.shape && (grid.shape.length !== 4 || grid.shape[3] !== 2)) fail(`needs a [N, Ho, Wo, 2] grid, got ${shown(grid.shape)}`);
    const mode = attrs.mode?.value ?? 'bilinear';
    if (mode !== 'bilinear' && mode !== 'nearest') fail(`GridSample mode '${mode}' is not supported (bilinear, nearest)`);
    if ((attrs.padding_mode?.value ?? 'zeros') !== 'zeros') fail(`GridSample padding_mode '${attrs.padding_mode!.value}' is not supported (zeros)`);
    return [{ dtype: x.dtype, shape: x.shape && grid.shape ? [x.shape[0], x.shape[1], grid.shape[1], grid.shape[2]] : null }];
  },
  LpNormalization: (ins, attrs) => {
    const x = need(ins, 1)[0];
    const p = attrInt(attrs, 'p', 2);
    if (p !== 1 && p !== 2) fail(`p must be 1 or 2, got ${p}`);
    return [{ dtype: x.dtype, shape: x.shape }];
  },
  MeanVarianceNormalization: elementwise(FLOATS),
  TopK: (ins, attrs) => {
    const [x, k] = need(ins, 2);
    const kv = constInts(k.constant)?.[0];
    if (!x.shape) return [{ dtype: x.dtype, shape: null }, { dtype: 'int64', shape: null }];
    const axis = normAxis(attrInt(attrs, 'axis', -1), x.shape.length);
    const shape = x.shape.map((d, i) => (i === axis ? (kv ?? null) : d));
    return [{ dtype: x.dtype, shape }, { dtype: 'int64', shape }];
  },
  CastLike: (ins) => {
    const [x, like] = need(ins, 2);
    return [{ dtype: like.dtype, shape: x.shape }];
  },
  Mod: (ins, attrs) => {
    const [a, b] = need(ins, 2);
    const dt = sameDtype([a, b]);
    if (FLOATS.includes(dt) && attrInt(attrs, 'fmod', 0) !== 1) fail('Mod of floats needs fmod = 1');
    return [{ dtype: dt, shape: broadcastShapes(a.shape, b.shape) }];
  },
  GatherElements: (ins) => {
    const [x, idx] = need(ins, 2);
    if (idx.dtype !== 'int64' && idx.dtype !== 'int32') fail(`GatherElements indices must be int32/int64, got ${idx.dtype}`);
    if (x.shape && idx.shape && x.shape.length !== idx.shape.length) fail(`indices ${shown(idx.shape)} and data ${shown(x.shape)} differ in rank`);
    return [{ dtype: x.dtype, shape: idx.shape }];
  },
  ScatterElements: (ins) => {
    const [x, idx, u] = need(ins, 3);
    if (idx.dtype !== 'int64' && idx.dtype !== 'int32') fail(`ScatterElements indices must be int32/int64, got ${idx.dtype}`);
    sameDtype([x, u]);
    return [{ dtype: x.dtype, shape: x.shape }];
  },
  Reshape: (ins, attrs) => {
    const [x, s] = need(ins, 2);
    if (s.dtype !== 'int64') fail(`Reshape shape must be int64, got ${s.dtype}`);
    const target = constInts(s.constant);
    if (!target) return [{ dtype: x.dtype, shape: s.shape && typeof s.shape[0] === 'number' ? new Array(s.shape[0]).fill(null) : null }];
    return [{ dtype: x.dtype, shape: reshapeShape(x.shape, target, attrInt(attrs, 'allowzero', 0) === 1) }];
  },
  Flatten: (ins, attrs) => {
    const x = need(ins, 1)[0];
    if (!x.shape) return [{ dtype: x.dtype, shape: [null, null] }];
    const axis = attrInt(attrs, 'axis', 1);
    const a = axis < 0 ? axis + x.shape.length : axis;
    // All static: the product; one named dimension among ones (the batch): that name; else unknown.
    const prod = (ds: Dim[]): Dim =>
      ds.every((d) => typeof d === 'number') ? (ds as number[]).reduce((p, q) => p * q, 1) : ds.filter((d) => d !== 1).length === 1 && typeof ds.find((d) => d !== 1) === 'string' ? ds.find((d) => d !== 1)! : null;
    return [{ dtype: x.dtype, shape: [prod(x.shape.slice(0, a)), prod(x.shape.slice(a))] }];
  },
  Transpose: (ins, attrs) => {
    const x = need(ins, 1)[0];
    if (!x.shape) return [{ dtype: x.dtype, shape: null }];
    const perm = attrInts(attrs, 'perm') ?? x.shape.map((_, i) => x.shape!.length - 1 - i);
    if (perm.length !== x.shape.length) fail(`perm ${shown(perm)} (${perm.length} entries) does not match rank ${x.shape.length}`);
    return [{ dtype: x.dtype, shape: perm.map((p) => x.shape![p]) }];
  },
  Concat: (ins, attrs) => {
    const xs = need(ins, 1, 1 << 20);
    const dt = sameDtype(xs);
    if (xs.some((x) => !x.shape)) return [{ dtype: dt, shape: null }];
    const rank = xs[0].shape!.length;
    const axis = normAxis(attrInt(attrs, 'axis', 0), rank);
    const out = xs[0].shape!.slice();
    let total: Dim = 0;
    for (const x of xs) {
      if (x.shape!.length !== rank) fail(`Concat inputs have ranks ${xs.map((i) => i.shape!.length).join(', ')}`);
      const d = x.shape![axis];
      total = typeof total === 'number' && typeof d === 'number' ? total + d : null;
    }
    out[axis] = total;
    return [{ dtype: dt, shape: out }];
  },
  Slice: (ins) => {
    const [x] = need(ins, 3, 5);
    const starts = constInts(ins[1]!.constant);
    const ends = constInts(ins[2]!.constant);
    const axesC = ins[3] ? constInts(ins[3].constant) : null;
    const stepsC = ins[4] ? constInts(ins[4].constant) : null;
    if (!x.shape || !starts || !ends || (ins[3] && !axesC) || (ins[4] && !stepsC)) return [{ dtype: x.dtype, shape: x.shape ? x.shape.map(() => null) : null }];
    const out = x.shape.slice();
    const axes = axesC ?? starts.map((_, i) => i);
    axes.forEach((ax, i) => {
      const a = normAxis(ax, x.shape!.length);
      const d = x.shape![a];
      const step = stepsC ? stepsC[i] : 1;
      if (typeof d !== 'number') {
        out[a] = null;
        return;
      }
      const [s, e] = sliceBounds(starts[i], ends[i], step, d);
      out[a] = Math.max(0, Math.ceil((e - s) / step));
    });
    return [{ dtype: x.dtype, shape: out }];
  },
  Pad: (ins, attrs) => {
    const [x, p] = need(ins, 2, 3);
    const pads = constInts(p.constant);
    if (attrs.mode && attrs.mode.kind === 'string' && attrs.mode.value !== 'constant') {
      /* reflect/edge keep the same output shape rule */
    }
    if (!x.shape || !pads) return [{ dtype: x.dtype, shape: x.shape ? x.shape.map(() => null) : null }];
    const r = x.shape.length;
    if (pads.length !== 2 * r) fail(`Pad needs ${2 * r} pads for rank ${r}, got ${pads.length}`);
    return [{ dtype: x.dtype, shape: x.shape.map((d, i) => (typeof d === 'number' ? d + pads[i] + pads[i + r] : null)) }];
  },
  Conv: (ins, attrs) => convShape(ins, attrs, false),
  ConvTranspose: (ins, attrs) => convShape(ins, attrs, true),
  AveragePool: (ins, attrs) => {
    const [x] = need(ins, 1);
    const k = attrInts(attrs, 'kernel_shape') ?? fail('AveragePool needs kernel_shape');
    if (!x.shape) return [{ dtype: x.dtype, shape: null }];
    const sp = spatial(x.shape, k.length, 'AveragePool');
    const { strides, pads, dilations } = windowAttrs(attrs, sp.length);
    if (attrInt(attrs, 'ceil_mode', 0)) fail('AveragePool with ceil_mode is not supported');
    return [{ dtype: x.dtype, shape: [x.shape[0], x.shape[1], ...sp.map((d, i) => (typeof d === 'number' ? Math.floor((d + pads[i] + pads[i + sp.length] - dilations[i] * (k[i] - 1) - 1) / strides[i]) + 1 : null))] }];
  },
  // One output (the indices output is not supported: it would need its own rule).
  MaxPool: (ins, attrs) => {
    const [x] = need(ins, 1);
    const k = attrInts(attrs, 'kernel_shape') ?? fail('MaxPool needs kernel_shape');
    if (attrInt(attrs, 'ceil_mode', 0)) fail('MaxPool with ceil_mode is not supported');
    if (attrInt(attrs, 'storage_order', 0)) fail('MaxPool with storage_order 1 is not supported');
    if (!x.shape) return [{ dtype: x.dtype, shape: null }];
    const sp = spatial(x.shape, k.length, 'MaxPool');
    const { strides, pads, dilations } = windowAttrs(attrs, sp.length);
    return [{ dtype: x.dtype, shape: [x.shape[0], x.shape[1], ...sp.map((d, i) => (typeof d === 'number' ? Math.floor((d + pads[i] + pads[i + sp.length] - dilations[i] * (k[i] - 1) - 1) / strides[i]) + 1 : null))] }];
  },
  MaxUnpool: (ins, attrs) => {
    const [x, idx] = need(ins, 2, 3);
    if (idx.dtype !== 'int64') fail(`MaxUnpool indices must be int64, got ${idx.dtype}`);
    if (ins[2]) fail('MaxUnpool with an output_shape input is not supported (the output size follows from kernel, strides and pads)');
    const k = attrInts(attrs, 'kernel_shape') ?? fail('MaxUnpool needs kernel_shape');
    if (!x.shape) return [{ dtype: x.dtype, shape: null }];
    const sp = spatial(x.shape, k.length, 'MaxUnpool');
    const { strides, pads } = windowAttrs(attrs, sp.length);
    return [{ dtype: x.dtype, shape: [x.shape[0], x.shape[1], ...sp.map((d, i) => (typeof d === 'number' ? (d - 1) * strides[i] - pads[i] - pads[i + sp.length] + k[i] : null))] }];
  },
  Det: (ins) => {
    const x = need(ins, 1)[0];
    sameDtype([x], FLOATS);
    if (!x.shape) return [{ dtype: x.dtype, shape: null }];
    const [m, n] = x.shape.slice(-2);
    if (x.shape.length < 2 || (typeof m === 'number' && typeof n === 'number' && m !== n)) fail(`needs square matrices in the last two axes, got ${shown(x.shape)}`);
    return [{ dtype: x.dtype, shape: x.shape.slice(0, -2) }];
  },
  // Opset 17's DFT: the signal axis an attribute, an optional dft_length input (a constant here).
  DFT: (ins, attrs) => {
    const [x, len] = need(ins, 1, 2);
    sameDtype([x], FLOATS);
    if (!x.shape) return [{ dtype: x.dtype, shape: null }];
    const r = x.shape.length;
    const axis = normAxis(attrInt(attrs, 'axis', 1), r);
    if (axis === r - 1) fail('DFT axis cannot be the last axis (it holds the real and imaginary parts)');
    const c = x.shape[r - 1];
    if (typeof c === 'number' && c !== 1 && c !== 2) fail(`DFT input's last axis must be 1 (real) or 2 (complex), got ${c}`);
    const onesided = attrInt(attrs, 'onesided', 0) === 1;
    if (onesided && attrInt(attrs, 'inverse', 0) === 1) fail('DFT: onesided with inverse is not defined');
    const n = len ? (constInts(len.constant)?.[0] ?? fail('DFT dft_length must be a constant here')) : x.shape[axis];
    const out = typeof n === 'number' ? (onesided ? Math.floor(n / 2) + 1 : n) : null;
    return [{ dtype: x.dtype, shape: x.shape.map((d, i) => (i === axis ? out : i === r - 1 ? 2 : d)) }];
  },
  STFT: (ins, attrs) => {
    const [x, step, window, length] = need(ins, 2, 4);
    sameDtype([x], FLOATS);
    const hop = constInts(step.constant)?.[0] ?? fail('STFT frame_step must be a constant here');
    const fl = length ? (constInts(length.constant)?.[0] ?? fail('STFT frame_length must be a constant here')) : window?.shape?.[0];
    if (typeof fl !== 'number') fail('STFT needs a frame_length or a window of known length');
    if (window?.shape && window.shape[0] !== fl) fail(`STFT window has ${window.shape[0]} samples, frame_length is ${fl}`);
    if (!x.shape) return [{ dtype: x.dtype, shape: null }];
    if (x.shape.length !== 3) fail(`STFT needs a [batch, length, 1 | 2] signal, got ${shown(x.shape)}`);
    const onesided = attrInt(attrs, 'onesided', 1) === 1;
    if (onesided && x.shape[2] === 2) fail('STFT: onesided needs a real signal');
    const L = x.shape[1];
    const frames = typeof L === 'number' ? Math.floor((L - (fl as number)) / hop) + 1 : null;
    return [{ dtype: x.dtype, shape: [x.shape[0], frames, onesided ? Math.floor((fl as number) / 2) + 1 : fl as number, 2] }];
  },
  // Output size from constant scales (floor(d * s)) or sizes; unknown when neither is constant.
  Resize: (ins) => {
    const [x] = need(ins, 1, 4);
    const scales = ins[2] ? constInts(ins[2].constant) : null;
    const sizes = ins[3] ? constInts(ins[3].constant) : null;
    if (!x.shape) return [{ dtype: x.dtype, shape: null }];
    const r = x.shape.length;
    if (sizes && sizes.length === r) return [{ dtype: x.dtype, shape: sizes }];
    if (scales && scales.length) {
      if (scales.length !== r) fail(`Resize scales have ${scales.length} entries, the input has rank ${r}`);
      return [{ dtype: x.dtype, shape: x.shape.map((d, i) => (typeof d === 'number' ? Math.floor(d * scales[i]) : scales[i] === 1 ? d : null)) }];
    }
    return [{ dtype: x.dtype, shape: x.shape.map(() => null) }];
  },
  // Normalization ops: Y like X; BatchNormalization in training mode also gives the new running mean and
  // variance [C]; LayerNormalization optionally its Mean and InvStdDev (X's shape, 1 over the normalized axes).
  BatchNormalization: (ins, attrs) => {
    const [x, scale, b, mean, variance] = need(ins, 5, 5);
    sameDtype([x, scale, b, mean, variance], FLOATS);
    const y = { dtype: x.dtype, shape: x.shape };
    if (attrInt(attrs, 'training_mode', 0) !== 1) return [y];
    const c = x.shape ? [x.shape[1] ?? null] : null;
    return [y, { dtype: x.dtype, shape: c }, { dtype: x.dtype, shape: c }];
  },
  InstanceNormalization: (ins) => {
    const [x, scale, b] = need(ins, 3, 3);
    return [{ dtype: sameDtype([x, scale, b], FLOATS), shape: x.shape }];
  },
  LayerNormalization: (ins, attrs) => {
    const [x, scale] = need(ins, 2, 3);
    const dt = sameDtype([x, scale, ...(ins[2] ? [ins[2]] : [])], FLOATS);
    if (!x.shape) return [{ dtype: dt, shape: null }, { dtype: 'float32', shape: null }, { dtype: 'float32', shape: null }];
    const axis = normAxis(attrInt(attrs, 'axis', -1), x.shape.length);
    const stats = { dtype: 'float32' as DType, shape: x.shape.map((d, i) => (i < axis ? d : 1)) };
    return [{ dtype: dt, shape: x.shape }, stats, { ...stats }];
  },
  Split: (ins, attrs) => {
    const [x] = need(ins, 1, 2);
    const sizes = ins[1] ? constInts(ins[1].constant) : null;
    if (!sizes) fail('Split needs constant split sizes here');
    if (!x.shape) return sizes!.map(() => ({ dtype: x.dtype, shape: null }));
    const axis = normAxis(attrInt(attrs, 'axis', 0), x.shape.length);
    const d = x.shape[axis];
    const total = sizes!.reduce((a, b) => a + b, 0);
    if (typeof d === 'number' && d !== total) fail(`split sizes ${shown(sizes)} add up to ${total}, the axis has ${d}`);
    return sizes!.map((n) => ({ dtype: x.dtype, shape: x.shape!.map((v, i) => (i === axis ? n : v)) }));
  },
  Gather: (ins, attrs) => {
    const [x, idx] = need(ins, 2);
    if (idx.dtype !== 'int64' && idx.dtype !== 'int32') fail(`Gather indices must be int32/int64, got ${idx.dtype}`);
    if (!x.shape || !idx.shape) return [{ dtype: x.dtype, shape: null }];
    const axis = normAxis(attrInt(attrs, 'axis', 0), x.shape.length);
    return [{ dtype: x.dtype, shape: [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)] }];
  },
  GatherND: (ins) => {
    const [x, idx] = need(ins, 2);
    if (!x.shape || !idx.shape) return [{ dtype: x.dtype, shape: null }];
    const k = idx.shape[idx.shape.length - 1];
    if (typeof k !== 'number') return [{ dtype: x.dtype, shape: null }];
    return [{ dtype: x.dtype, shape: [...idx.shape.slice(0, -1), ...x.shape.slice(k)] }];
  },
  ScatterND: (ins) => {
    const [x] = need(ins, 3);
    return [{ dtype: x.dtype, shape: x.shape }];
  },
  Squeeze: (ins) => {
    const [x] = need(ins, 1, 2);
    const axes = ins[1] ? constInts(ins[1].constant) : null;
    if (!x.shape) return [{ dtype: x.dtype, shape: null }];
    if (!axes) {
      if (ins[1]) return [{ dtype: x.dtype, shape: null }];
      return [{ dtype: x.dtype, shape: x.shape.filter((d) => d !== 1) }];
    }
    const ax = new Set(axes.map((a) => normAxis(a, x.shape!.length)));
    for (const a of ax) if (typeof x.shape[a] === 'number' && x.shape[a] !== 1) fail(`cannot squeeze axis ${a} of size ${x.shape[a]}`);
    return [{ dtype: x.dtype, shape: x.shape.filter((_, i) => !ax.has(i)) }];
  },
  Unsqueeze: (ins) => {
    const [x, a] = need(ins, 2);
    const axes = constInts(a.constant);
    if (!x.shape || !axes) return [{ dtype: x.dtype, shape: null }];
    const rank = x.shape.length + axes.length;
    const ax = new Set(axes.map((v) => normAxis(v, rank)));
    const out: Dim[] = [];
    let k = 0;
    for (let i = 0; i < rank; i++) out.push(ax.has(i) ? 1 : x.shape[k++]);
    return [{ dtype: x.dtype, shape: out }];
  },
  Expand: (ins) => {
    const [x, s] = need(ins, 2);
    const target = constInts(s.constant);
    if (!target) return [{ dtype: x.dtype, shape: null }];
    return [{ dtype: x.dtype, shape: broadcastShapes(x.shape, target) }];
  },
  ConstantOfShape: (ins, attrs) => {
    const [s] = need(ins, 1);
    const v = attrs.value;
    const dtype = v && v.kind === 'tensor' ? v.value.dtype : 'float32';
    const dims = constInts(s.constant);
    return [{ dtype, shape: dims ?? (s.shape && typeof s.shape[0] === 'number' ? new Array(s.shape[0]).fill(null) : null) }];
  },
  Constant: (_ins, attrs) => {
    const v = attrs.value;
    if (!v || v.kind !== 'tensor') fail('Constant needs a tensor attribute "value"');
    const t = (v as { value: TensorData }).value;
    return [{ dtype: t.dtype, shape: t.dims.slice() }];
  },
};

export function sliceBounds(start: number, end: number, step: number, dim: number): [number, number] {
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) {
    s = clamp(s, 0, dim);
    e = clamp(e, 0, dim);
  } else {
    s = clamp(s, 0, dim - 1);
    e = clamp(e, -1, dim - 1);
  }
  return [s, e];
}

// ONNX TensorProto.DataType codes.
const ONNX_CODES: Record<DType, number> = { float32: 1, uint8: 2, int32: 6, int64: 7, bool: 9, float64: 11 };
export function dtypeToOnnx(dt: DType): number {
  return ONNX_CODES[dt];
}
export function dtypeFromOnnx(code: number): DType {
  const hit = (Object.keys(ONNX_CODES) as DType[]).find((k) => ONNX_CODES[k] === code);
  if (!hit) throw new ShapeError(`unsupported ONNX element type ${code}`);
  return hit;
}

// ---- convolution windows ----------------------------------------------------------------------------

function spatial(shape: Dim[], n: number, op: string): Dim[] {
  if (shape.length !== n + 2) fail(`${op} needs input [N, C, ${n} spatial dims], got ${shown(shape)}`);
  return shape.slice(2);
}

/** strides, pads ([begin..., end...]) and dilations with their defaults; auto_pad other than NOTSET refused. */
export function windowAttrs(attrs: Record<string, Attr>, n: number): { strides: number[]; pads: number[]; dilations: number[] } {
  const auto = attrs.auto_pad?.value;
  if (auto !== undefined && auto !== 'NOTSET') fail(`auto_pad '${auto}' is not supported (use explicit pads)`);
  const strides = attrInts(attrs, 'strides') ?? new Array(n).fill(1);
  const pads = attrInts(attrs, 'pads') ?? new Array(2 * n).fill(0);
  const dilations = attrInts(attrs, 'dilations') ?? new Array(n).fill(1);
  if (strides.length !== n || pads.length !== 2 * n || dilations.length !== n) fail(`strides, pads and dilations must have ${n}, ${2 * n} and ${n} entries`);
  return { strides, pads, dilations };
}

/** Conv: floor((d + pads - dil (k - 1) - 1) / s) + 1; ConvTranspose: s (d - 1) + out_pad + dil (k - 1) + 1 - pads. */
function convShape(ins: (InferInput | null)[], attrs: Record<string, Attr>, transposed: boolean): OutType[] {
  const op = transposed ? 'ConvTranspose' : 'Conv';
  const xs = need(ins, 2, 3);
  const [x, w, b] = xs;
  const dt = sameDtype(xs.filter(Boolean), FLOATS);
  const group = attrInt(attrs, 'group', 1);
  if (!x.shape || !w.shape) return [{ dtype: dt, shape: null }];
  const n = w.shape.length - 2;
  const sp = spatial(x.shape, n, op);
  const k = attrInts(attrs, 'kernel_shape') ?? w.shape.slice(2).map((d) => (typeof d === 'number' ? d : fail(`${op} needs a static kernel`)));
  const { strides, pads, dilations } = windowAttrs(attrs, n);
  const [cIn, wIn] = [x.shape[1], transposed ? w.shape[0] : w.shape[1]];
  const expectIn = transposed ? wIn : typeof wIn === 'number' ? wIn * group : null;
  if (typeof cIn === 'number' && typeof expectIn === 'number' && cIn !== expectIn) fail(`${op}: input has ${cIn} channels, the weight ${shown(w.shape)} expects ${expectIn}`);
  const cOut = transposed ? (typeof w.shape[1] === 'number' ? w.shape[1] * group : null) : w.shape[0];
  if (b && b.shape && b.shape.length === 1 && typeof b.shape[0] === 'number' && typeof cOut === 'number' && b.shape[0] !== cOut) fail(`${op}: bias has ${b.shape[0]} entries for ${cOut} output channels`);
  if (transposed && attrs.output_shape) fail('ConvTranspose with output_shape is not supported (use pads and output_padding)');
  const outPad = attrInts(attrs, 'output_padding') ?? new Array(n).fill(0);
  const out = sp.map((d, i) => {
    if (typeof d !== 'number') return null;
    const span = dilations[i] * (k[i] - 1) + 1;
    const o = transposed ? strides[i] * (d - 1) + outPad[i] + span - pads[i] - pads[i + n] : Math.floor((d + pads[i] + pads[i + n] - span) / strides[i]) + 1;
    if (o < 1) fail(`${op}: spatial dim ${i} of size ${d} gives an empty output`);
    return o;
  });
  return [{ dtype: dt, shape: [x.shape[0], cOut, ...out] }];
}
