// Every backward rule, one entry per op. A rule receives the gradient of the node's output and the node,
// and returns, per input, a thunk that builds that input's gradient (null: no gradient flows there).
// Thunks are called only for inputs that lead back to the requested sources, so no dead gradient node
// is emitted. Rules are written in the same ops as the forward pass: the gradient of a gradient
// needs no extra code.
import { isFloat, staticShape, tensor, type Node, type Value } from './ir.ts';
import {
  abs, add, cast, det, dft, gather, clip, concat, conv, cos, cosh, cumSum, einsum, exp, expand, floor, fmod, gatherElements, scatterElements, convTranspose, div, expandAs, gatherND, op, gemm, greater, greaterOrEqual, less, lessOrEqual, log, matmul, mul, neg, and, equal,
  pad, pow, reciprocal, reduceMean, reduceSum, reshape, sin, sinh, sqrt, square, reshapeAs, scalar, scatterNDAdd, sigmoid, sign, slice, squeeze, sub, transpose, unsqueeze, upsampleNearest, where, zerosLike,
} from './ops.ts';
import { attrFloat, attrInt, attrInts, constInts, parseEinsum, sliceBounds, windowAttrs } from './schemas.ts';

export type GradThunk = (() => Value) | null;
/** `dys`: every output's gradient (null where none flows), for the ops with several outputs (MULTI_OUTPUT). */
export type GradRule = (dy: Value, node: Node, dys?: (Value | null)[]) => GradThunk[];

/** Ops whose rule takes the gradients of all their outputs; the others differentiate output 0 only. */
export const MULTI_OUTPUT = new Set(['Split']);

const x0 = (n: Node) => n.inputs[0]!;
const y0 = (n: Node) => n.outputs[0];
const constOf = (n: Node, i: number) => (n.inputs[i] ? constInts(n.outputs[0].graph.constantOf(n.inputs[i]!)) : null);

/** Sum `dy` over the axes along which `x` was broadcast, so the result has x's shape. */
export function unbroadcast(dy: Value, x: Value): Value {
  if (!dy.shape || !x.shape) throw new Error(`cannot undo broadcasting from ${dy} to ${x}: rank unknown`);
  const lead = dy.shape.length - x.shape.length;
  if (lead < 0) throw new Error(`cannot undo broadcasting from ${dy} to ${x}: gradient has lower rank`);
  const kept: number[] = [];
  x.shape.forEach((d, i) => {
    const e = dy.shape![i + lead];
    if (d === e) return;
    if (d === 1) kept.push(i + lead);
    else if (d === null || e === null) throw new Error(`cannot undo broadcasting from ${dy} to ${x}: dimension ${i} unknown`);
  });
  let r = dy;
  if (kept.length) r = reduceSum(r, kept, true);
  if (lead > 0) r = reduceSum(r, [...Array(lead).keys()], false);
  return r;
}

const axesOf = (n: Node): number[] | null => {
  const fromInput = n.op === 'ReduceSum' ? constOf(n, 1) : attrInts(n.attrs, 'axes');
  if (n.op === 'ReduceSum' && n.inputs[1] && !fromInput) throw new Error(`${n.name}: ReduceSum gradient needs constant axes`);
  const r = x0(n).rank!;
  return fromInput && fromInput.length ? fromInput.map((a) => (a < 0 ? a + r : a)) : null;
};

/** Broadcast the gradient of a reduction back over the reduced axes. */
function unreduce(dy: Value, n: Node): Value {
  const axes = axesOf(n);
  const keep = attrInt(n.attrs, 'keepdims', 1) === 1;
  const d = !keep && axes ? unsqueeze(dy, axes) : dy;
  return expandAs(d, x0(n));
}

/** 1 / (elements reduced into each output): a constant when the reduced dimensions are static. */
function meanScale(n: Node): number | Value {
  const s = x0(n).shape!;
  const axes = axesOf(n) ?? s.map((_, i) => i);
  let c = 1;
  for (const a of axes) {
    const d = s[a];
    if (typeof d !== 'number') return div(cast(op('Size', [y0(n)]), y0(n).dtype), cast(op('Size', [x0(n)]), y0(n).dtype));
    c *= d;
  }
  return 1 / c;
}

const swapLast2 = (v: Value) => {
  const r = v.rank!;
  return transpose(v, [...Array(r - 2).keys(), r - 1, r - 2]);
};

/** A convolution node's window: kernel, strides, pads, dilations, and the static spatial dims of x and y. */
function windowOf(n: Node, kernelFrom: Value | null) {
  const x = x0(n);
  const k = kernelFrom ? staticShape(kernelFrom)?.slice(2) : attrInts(n.attrs, 'kernel_shape');
  const xs = x.shape?.slice(2);
  const ys = y0(n).shape?.slice(2);
  if (!k || !xs || !ys || [...xs, ...ys].some((d) => typeof d !== 'number')) throw new Error(`${n.name}: ${n.op} gradient needs static kernel and spatial dims`);
  if (attrInt(n.attrs, 'group', 1) !== 1) throw new Error(`${n.name}: ${n.op} gradient is implemented for group = 1`);
  return { k, xs: xs as number[], ys: ys as number[], ...windowAttrs(n.attrs, k.length) };
}

/** Rows of `g` along `axis` each followed by step - 1 zero rows, cut to `len` rows: a strided read's gradient. */
function spread(g: Value, axis: number, step: number, len: number): Value {
  const gs = staticShape(g)!;
  const r = gs.length;
  const pads = new Array<number>(2 * (r + 1)).fill(0);
  pads[r + 1 + axis + 1] = step - 1;
  const padded = pad(unsqueeze(g, [axis + 1]), pads);
  const merged = reshape(padded, gs.map((d, i) => (i === axis ? d * step : d)));
  return len < gs[axis] * step ? slice(merged, [0], [len], [axis]) : merged;
}

/** A 2-D window's input [N, C, H, W] with its pads (begin h, begin w, end h, end w) as zeros. */
const padSpatial2d = (x: Value, pads: number[]) => (pads.some((p) => p > 0) ? pad(x, [0, 0, pads[0], pads[1], 0, 0, pads[2], pads[3]]) : x);

/**
 * The (padded) input rows and columns a 2-D window's offset (a, b) meets at every output position, as one
 * strided slice along axes h, h + 1: what convolution and pooling gradients read per kernel offset.
 */
function windowAt(v: Value, a: number, b: number, h: number, w: { strides: number[]; dilations: number[]; out: number[] }): Value {
  const [ra, cb] = [a * w.dilations[0], b * w.dilations[1]];
  const unit = w.strides.every((s) => s === 1);
  return slice(v, [ra, cb], [ra + w.strides[0] * (w.out[0] - 1) + 1, cb + w.strides[1] * (w.out[1] - 1) + 1], [h, h + 1], unit ? undefined : w.strides);
}

/**
 * The weight gradient of a convolution whose input is `input` and whose output gradient is `dOut`:
 * dW[m, c, k] = sum over n and positions o of dOut[n, m, o] input[n, c, o s + k d - pad].
 * For 2-D convolutions with static shapes: per kernel offset, the input window that offset reads
 * (a strided slice of the padded input, channels last) times dOut, a matrix product per sample summed over
 * the batch; inputs with few channels (an image) gather all offsets into one im2col matrix instead. Measured
 * at one thread (`npx tsx bench/formulations.ts`), 1.7-4x faster than the convolution form below, which
 * ORT runs as a GEMM with only k x k output columns. Other ranks keep that form.
 */
function convWeightGrad(input: Value, dOut: Value, k: number[], strides: number[], pads: number[], dilations: number[]): Value {
  const xs = staticShape(input);
  const ys = staticShape(dOut);
  if (k.length !== 2 || !xs || !ys) return convWeightGradByConv(input, dOut, k, strides, pads, dilations);
  const [N, I] = xs;
  const [, O, Ho, Wo] = ys;
  const [kh, kw] = k;
  const padded = padSpatial2d(input, pads);
  const window = (v: Value, a: number, b: number, h: number) => windowAt(v, a, b, h, { strides, dilations, out: [Ho, Wo] });
  const offsets: [number, number][] = [];
  for (let a = 0; a < kh; a++) for (let b = 0; b < kw; b++) offsets.push([a, b]);
  const dy = reshape(dOut, [N, O, Ho * Wo]);
  const stack = (vs: Value[], axis: number) => (vs.length > 1 ? concat(vs.map((v) => unsqueeze(v, [axis])), axis) : unsqueeze(vs[0], [axis]));
  if (I < 16) {
    const cols = reshape(stack(offsets.map(([a, b]) => window(padded, a, b, 2)), 2), [N, I * kh * kw, Ho * Wo]);
    return reshape(reduceSum(matmul(dy, transpose(cols, [0, 2, 1])), [0]), [O, I, kh, kw]);
  }
  const nhwc = transpose(padded, [0, 2, 3, 1]);
  if (Ho * Wo <= 256) {
    // Small outputs: the batch goes into the product's inner dimension, [O, N HW] x [N HW, I], after one
    // transpose of dOut (the per-sample products below are too small for the GEMM: 13-33 % slower here).
    const dyT = reshape(transpose(dOut, [1, 0, 2, 3]), [O, N * Ho * Wo]);
    return reshape(stack(offsets.map(([a, b]) => matmul(dyT, reshape(window(nhwc, a, b, 1), [N * Ho * Wo, I]))), 2), [O, I, kh, kw]);
  }
  const perOffset = offsets.map(([a, b]) => reduceSum(matmul(dy, reshape(window(nhwc, a, b, 1), [N, Ho * Wo, I])), [0]));
  return reshape(stack(perOffset, 2), [O, I, kh, kw]);
}

/**
 * The same weight gradient as a convolution, of input with batch and channels swapped, by dOut as the
 * kernel, with stride and dilation swapped; rows past the kernel (from a stride that did not divide the
 * input) are cropped.
 */
function convWeightGradByConv(input: Value, dOut: Value, k: number[], strides: number[], pads: number[], dilations: number[]): Value {
  const swap = [1, 0, ...k.map((_, i) => i + 2)];
  const full = conv(transpose(input, swap), transpose(dOut, swap), null, { strides: dilations, dilations: strides, pads });
  const got = staticShape(full)!.slice(2);
  const cropped = got.some((d, i) => d !== k[i]) ? slice(full, k.map(() => 0), k, k.map((_, i) => i + 2)) : full;
  return transpose(cropped, swap);
}

/**
 * dL/dx of a convolution: the transposed convolution by the same kernel. At unit stride and dilation that
 * is a plain convolution by the kernel flipped in space with its channel axes swapped, padded k - 1 - pad:
 * measured 1.2-4x faster than ConvTranspose at one thread (bench/formulations.ts).
 */
function convInputGrad(dy: Value, w: Value, k: number[], strides: number[], pads: number[], dilations: number[], outputPadding: number[]): Value {
  const r = k.length;
  const plain = strides.every((s) => s === 1) && dilations.every((d) => d === 1) && outputPadding.every((p) => p === 0) && pads.every((p, i) => p <= k[i % r] - 1);
  if (!plain) return convTranspose(dy, w, null, { strides, pads, dilations, outputPadding });
  const spatial = k.map((_, i) => i + 2);
  const flipped = slice(w, k.map(() => -1), k.map((d) => -d - 1), spatial, k.map(() => -1));
  return conv(dy, transpose(flipped, [1, 0, ...spatial]), null, { pads: pads.map((p, i) => k[i % r] - 1 - p) });
}

const spatialAxes = (v: Value) => [0, ...[...Array(v.rank! - 2).keys()].map((i) => i + 2)];

const once = <T>(f: () => T): (() => T) => {
  let v: T | undefined;
  return () => (v ??= f());
};
/** [C] as [1, C, 1, ...] against x [N, C, ...]. */
const perChannel = (v: Value, x: Value) => reshape(v, [1, -1, ...new Array(x.rank! - 2).fill(1)]);

/**
 * y = xhat * scale + b, xhat = (x - mean) / sqrt(var + eps), mean and biased var taken over `axes` of x
 * itself: dx = (g - mean(g) - xhat mean(g xhat)) / sqrt(var + eps) with g = dy * scale, means over `axes`.
 */
function normalizedGrads(dy: Value, x: Value, scale: Value, axes: number[], eps: number) {
  const stats = once(() => {
    const xc = sub(x, reduceMean(x, axes, true));
    const rstd = reciprocal(sqrt(add(reduceMean(mul(xc, xc), axes, true), eps)));
    return { rstd, xhat: mul(xc, rstd) };
  });
  const dx = () => {
    const { rstd, xhat } = stats();
    const g = mul(dy, scale);
    return mul(rstd, sub(sub(g, reduceMean(g, axes, true)), mul(xhat, reduceMean(mul(g, xhat), axes, true))));
  };
  return { dx, xhat: () => stats().xhat };
}

/** The three normalization ops share one shape of rule: x, then scale and bias per channel (or trailing dims). */
function normRule(dy: Value, n: Node, axes: number[], channelParams: boolean): GradThunk[] {
  const [x, scale, b] = n.inputs as (Value | null)[];
  const s = channelParams ? perChannel(scale!, x!) : scale!;
  const back = (v: Value) => (channelParams ? reshape(v, [-1]) : v);
  const r = normalizedGrads(dy, x!, s, axes, attrFloat(n.attrs, 'epsilon', 1e-5));
  return [r.dx, () => back(unbroadcast(mul(dy, r.xhat()), s)), b ? () => back(unbroadcast(dy, channelParams ? perChannel(b, x!) : b)) : null];
}

/** BatchNormalization in inference mode: the given mean and variance are inputs like any other. */
function batchNormInferenceRule(dy: Value, n: Node): GradThunk[] {
  const [x, scale, , mean, variance] = n.inputs as Value[];
  const ch = (v: Value) => perChannel(v, x);
  const eps = attrFloat(n.attrs, 'epsilon', 1e-5);
  const rstd = once(() => reciprocal(sqrt(add(ch(variance), eps))));
  const xc = once(() => sub(x, ch(mean)));
  const g = once(() => mul(dy, ch(scale)));
  const perC = (v: Value) => reshape(reduceSum(v, spatialAxes(v)), [-1]);
  return [
    () => mul(g(), rstd()),
    () => perC(mul(dy, mul(xc(), rstd()))),
    () => perC(dy),
    () => neg(perC(mul(g(), rstd()))),
    () => mul(perC(mul(g(), xc())), reshape(mul(pow(rstd(), 3), -0.5), [-1])),
  ];
}

export const rules: Record<string, GradRule> = {
  Identity: (dy) => [() => dy],
  Add: (dy, n) => [() => unbroadcast(dy, n.inputs[0]!), () => unbroadcast(dy, n.inputs[1]!)],
  Sub: (dy, n) => [() => unbroadcast(dy, n.inputs[0]!), () => unbroadcast(neg(dy), n.inputs[1]!)],
  Mul: (dy, { inputs: [a, b] }) => [() => unbroadcast(mul(dy, b!), a!), () => unbroadcast(mul(dy, a!), b!)],
  Div: (dy, n) => [() => unbroadcast(div(dy, n.inputs[1]!), n.inputs[0]!), () => unbroadcast(neg(div(mul(dy, y0(n)), n.inputs[1]!)), n.inputs[1]!)],
  Neg: (dy) => [() => neg(dy)],
  Pow: (dy, n) => {
    const [a, b] = n.inputs as Value[];
    return [() => unbroadcast(mul(dy, mul(b, pow(a, sub(b, 1)))), a), () => unbroadcast(mul(dy, mul(y0(n), log(a))), b)];
  },
  Sqrt: (dy, n) => [() => div(mul(dy, 0.5), y0(n))],
  Exp: (dy, n) => [() => mul(dy, y0(n))],
  Log: (dy, n) => [() => div(dy, x0(n))],
  Reciprocal: (dy, n) => [() => neg(mul(dy, mul(y0(n), y0(n))))],
  Abs: (dy, n) => [() => mul(dy, sign(x0(n)))],
  Sign: () => [null],
  // The activation family, each in the ops of its forward formula.
  Elu: (dy, n) => [() => where(greater(x0(n), 0), dy, mul(dy, add(y0(n), attrFloat(n.attrs, 'alpha', 1))))],
  Selu: (dy, n) => {
    const [alpha, gamma] = [attrFloat(n.attrs, 'alpha', 1.67326319217681884765625), attrFloat(n.attrs, 'gamma', 1.05070102214813232421875)];
    return [() => where(greater(x0(n), 0), mul(dy, gamma), mul(dy, add(y0(n), alpha * gamma)))];
  },
  Celu: (dy, n) => [() => where(greater(x0(n), 0), dy, mul(dy, exp(div(x0(n), attrFloat(n.attrs, 'alpha', 1)))))],
  HardSigmoid: (dy, n) => {
    const [alpha, beta] = [attrFloat(n.attrs, 'alpha', 0.2), attrFloat(n.attrs, 'beta', 0.5)];
    const t = () => add(mul(x0(n), alpha), beta);
    return [() => where(and(greater(t(), 0), less(t(), 1)), mul(dy, alpha), 0)];
  },
  // x * hardsigmoid(x, 1/6, 1/2): slope x / 3 + 1/2 between -3 and 3, 0 below, 1 above.
  HardSwish: (dy, n) => [() => where(less(x0(n), -3), 0, where(greater(x0(n), 3), dy, mul(dy, add(div(x0(n), 3), 0.5))))],
  Softsign: (dy, n) => [() => div(dy, square(add(abs(x0(n)), 1)))],
  ThresholdedRelu: (dy, n) => [() => where(greater(x0(n), attrFloat(n.attrs, 'alpha', 1)), dy, 0)],
  PRelu: (dy, { inputs: [x, slope] }) => [() => where(greater(x!, 0), dy, mul(dy, slope!)), () => unbroadcast(where(greater(x!, 0), 0, mul(dy, x!)), slope!)],
  // Trigonometric and hyperbolic functions and their inverses.
  Sin: (dy, n) => [() => mul(dy, cos(x0(n)))],
  Cos: (dy, n) => [() => neg(mul(dy, sin(x0(n))))],
  Tan: (dy, n) => [() => mul(dy, add(square(y0(n)), 1))],
  Asin: (dy, n) => [() => div(dy, sqrt(sub(1, square(x0(n)))))],
  Acos: (dy, n) => [() => neg(div(dy, sqrt(sub(1, square(x0(n))))))],
  Atan: (dy, n) => [() => div(dy, add(square(x0(n)), 1))],
  Sinh: (dy, n) => [() => mul(dy, cosh(x0(n)))],
  Cosh: (dy, n) => [() => mul(dy, sinh(x0(n)))],
  Asinh: (dy, n) => [() => div(dy, sqrt(add(square(x0(n)), 1)))],
  Acosh: (dy, n) => [() => div(dy, sqrt(sub(square(x0(n)), 1)))],
  Atanh: (dy, n) => [() => div(dy, sub(1, square(x0(n))))],
  // The slope is a mask times dy, so the double backward is one Mul by the same mask (PyTorch's convention
  // at 0: slope 0 for Relu, alpha for LeakyRelu). Measured alternatives built on Sign or Clip were slower
  // in onnxruntime's CPU kernels.
  Relu: (dy, n) => [() => mul(dy, cast(greater(x0(n), 0), dy.dtype))],
  LeakyRelu: (dy, n) => [() => mul(dy, where(greater(x0(n), 0), scalar(dy.graph, 1, dy.dtype), attrFloat(n.attrs, 'alpha', 0.01)))],
  Sigmoid: (dy, n) => [() => mul(dy, mul(y0(n), sub(1, y0(n))))],
  Tanh: (dy, n) => [() => mul(dy, sub(1, mul(y0(n), y0(n))))],
  Softplus: (dy, n) => [() => mul(dy, sigmoid(x0(n)))],
  // d erf(x) / dx = 2 / sqrt(pi) exp(-x^2): exact GELU (x / 2 (1 + erf(x / sqrt 2))) differentiates through it.
  Erf: (dy, n) => [() => mul(dy, mul(exp(neg(mul(x0(n), x0(n)))), 2 / Math.sqrt(Math.PI)))],
  // y = softmax(x): dx = y (dy - sum(dy y)); y = log softmax(x): dx = dy - exp(y) sum(dy), sums along the axis.
  Softmax: (dy, n) => [() => mul(y0(n), sub(dy, reduceSum(mul(dy, y0(n)), [softmaxAxis(n)], true)))],
  LogSoftmax: (dy, n) => [() => sub(dy, mul(exp(y0(n)), reduceSum(dy, [softmaxAxis(n)], true)))],
  // Piecewise constant: zero almost everywhere.
  Floor: () => [null],
  Ceil: () => [null],
  Round: () => [null],
  Sum: (dy, n) => n.inputs.map((x) => () => unbroadcast(dy, x!)),
  Mean: (dy, n) => n.inputs.map((x) => () => unbroadcast(div(dy, n.inputs.length), x!)),
  Max: (dy, n) => minMax(dy, n, greater),
  Min: (dy, n) => minMax(dy, n, less),
  Clip: (dy, n) => {
    const [x, lo, hi] = n.inputs;
    const inLo = lo ? greaterOrEqual(x!, lo) : null;
    const inHi = hi ? lessOrEqual(x!, hi) : null;
    const inside = inLo && inHi ? and(inLo, inHi) : (inLo ?? inHi);
    return [
      () => (inside ? where(inside, dy, 0) : dy),
      lo ? () => unbroadcast(where(less(x!, lo), dy, 0), lo) : null,
      hi ? () => unbroadcast(where(greater(x!, hi), dy, 0), hi) : null,
    ];
  },
  Where: (dy, { inputs: [c, a, b] }) => [null, () => unbroadcast(where(c!, dy, 0), a!), () => unbroadcast(where(c!, 0, dy), b!)],
  MatMul: (dy, { inputs: [a, b] }) => {
    if (a!.rank === 2 && b!.rank === 2) return [() => gemm(dy, b!, null, { transB: true }), () => gemm(a!, dy, null, { transA: true })];
    if (a!.rank! > 1 && b!.rank! > 1) return [() => unbroadcast(matmul(dy, swapLast2(b!)), a!), () => unbroadcast(matmul(swapLast2(a!), dy), b!)];
    // A rank-1 operand is a row (a) or a column (b): lift it and dy to rank 2, take the usual rule, drop the axis again.
    const A = a!.rank === 1 ? unsqueeze(a!, [0]) : a!;
    const B = b!.rank === 1 ? unsqueeze(b!, [1]) : b!;
    const dY = b!.rank === 1 ? unsqueeze(a!.rank === 1 ? unsqueeze(dy, [0]) : dy, [-1]) : a!.rank === 1 ? unsqueeze(dy, [-2]) : dy;
    const back = (g: Value, x: Value) => (x.rank === 1 ? reshapeAs(g, x) : g);
    return [() => back(unbroadcast(matmul(dY, swapLast2(B)), A), a!), () => back(unbroadcast(matmul(swapLast2(A), dY), B), b!)];
  },
  Gemm: (dy, n) => {
    const [a, b, c] = n.inputs;
    const alpha = attrFloat(n.attrs, 'alpha', 1);
    const beta = attrFloat(n.attrs, 'beta', 1);
    const tA = attrInt(n.attrs, 'transA', 0) === 1;
    const tB = attrInt(n.attrs, 'transB', 0) === 1;
    // Y = alpha op(A) op(B) + beta C; each input gradient is itself one Gemm.
    const dA = () => (tA ? gemm(b!, dy, null, { alpha, transA: tB, transB: true }) : gemm(dy, b!, null, { alpha, transB: !tB }));
    const dB = () => (tB ? gemm(dy, a!, null, { alpha, transA: true, transB: tA }) : gemm(a!, dy, null, { alpha, transA: !tA }));
    return [dA, dB, c ? () => unbroadcast(beta === 1 ? dy : mul(dy, beta), c) : null];
  },
  ReduceSum: (dy, n) => [() => unreduce(dy, n), null],
  ReduceMean: (dy, n) => [() => mul(unreduce(dy, n), meanScale(n))],
  // The gradient goes to the entries equal to the maximum (maxout's winning piece); ties share it whole.
  ReduceMax: (dy, n) => [() => mul(unreduce(dy, n), cast(equal(x0(n), unreduce(y0(n), n)), dy.dtype))],
  ReduceMin: (dy, n) => [() => mul(unreduce(dy, n), cast(equal(x0(n), unreduce(y0(n), n)), dy.dtype))],
  ReduceSumSquare: (dy, n) => [() => mul(unreduce(dy, n), mul(x0(n), 2))],
  ReduceL1: (dy, n) => [() => mul(unreduce(dy, n), sign(x0(n)))],
  ReduceL2: (dy, n) => [() => div(mul(unreduce(dy, n), x0(n)), unreduce(y0(n), n))],
  ReduceLogSumExp: (dy, n) => [() => mul(unreduce(dy, n), exp(sub(x0(n), unreduce(y0(n), n))))],
  ReduceLogSum: (dy, n) => [() => div(unreduce(dy, n), unreduce(exp(y0(n)), n))],
  // prod / x: the inputs must be non-zero (a zero's gradient is the product of the others).
  ReduceProd: (dy, n) => [() => div(mul(unreduce(dy, n), unreduce(y0(n), n)), x0(n))],
  CumSum: (dy, n) => [() => cumSum(dy, constOf(n, 1)![0], { exclusive: attrInt(n.attrs, 'exclusive', 0) === 1, reverse: attrInt(n.attrs, 'reverse', 0) !== 1 }), null],
  Trilu: (dy, n) => [() => op('Trilu', [dy, n.inputs[1] ?? null], n.attrs), null],
  Shrink: (dy, n) => [() => where(greater(abs(x0(n)), attrFloat(n.attrs, 'lambd', 0.5)), dy, 0)],
  CastLike: (dy, n) => [isFloat(x0(n).dtype) ? () => cast(dy, x0(n).dtype) : null, null],
  // fmod(a, b) = a - b trunc(a / b), trunc(q) = q - fmod(q, 1).
  Mod: (dy, { inputs: [a, b] }) => {
    const q = once(() => div(a!, b!));
    return [() => unbroadcast(dy, a!), () => unbroadcast(neg(mul(dy, sub(q(), fmod(q(), scalar(dy.graph, 1, dy.dtype))))), b!)];
  },
  GatherElements: (dy, n) => [() => scatterElements(zerosLike(x0(n)), n.inputs[1]!, dy, attrInt(n.attrs, 'axis', 0), 'add'), null],
  ScatterElements: (dy, n) => {
    const [, idx, u] = n.inputs as Value[];
    const axis = attrInt(n.attrs, 'axis', 0);
    const add_ = n.attrs.reduction?.value === 'add';
    if (n.attrs.reduction && !add_ && n.attrs.reduction.value !== 'none') throw new Error(`${n.name}: ScatterElements gradient with reduction '${n.attrs.reduction.value}' is not implemented`);
    // Written-over entries get no gradient (none); added-into ones pass it on (add). Indices must be unique for 'none'.
    return [() => (add_ ? dy : scatterElements(dy, idx, zerosLike(u), axis)), null, () => gatherElements(dy, idx, axis)];
  },
  MaxPool: (dy, n) => [() => maxPoolGrad(dy, n)],
  GridSample: (dy, n) => gridSampleGrads(dy, n),
  // d det(X) / dX is X's cofactor matrix, each cofactor a Det of a minor: the rule of Det is written in Det.
  Det: (dy, n) => [() => mul(unsqueeze(dy, [dy.rank!, dy.rank! + 1]), cofactors(x0(n)))],
  // The DFT is linear: its adjoint is n times the inverse transform (the inverse's: the transform over n).
  DFT: (dy, n) => [() => dftAdjoint(dy, x0(n), n), null],
  STFT: (dy, n) => stftGrads(dy, n),
  // Each input value went to one place of the output: its gradient is read back from there.
  MaxUnpool: (dy, n) => [() => gather(reshape(dy, [-1]), n.inputs[1]!, 0), null, null],
  // Each operand's gradient is the einsum of dy with the other operands onto its letters; letters found
  // nowhere else (summed out by the forward) come back by broadcasting.
  Einsum: (dy, n) => {
    const { ins, out } = parseEinsum(n.attrs.equation.value as string, n.inputs.length);
    return n.inputs.map((x, i) => () => {
      const term = ins[i];
      if (new Set(term).size !== term.length) throw new Error(`${n.name}: Einsum gradient for a repeated letter in '${term}' (a diagonal) is not implemented`);
      const others = ins.map((t, j) => ({ t, v: n.inputs[j]! })).filter((_, j) => j !== i);
      const avail = new Set([...out, ...others.flatMap((o) => [...o.t])]);
      const kept = [...term].filter((c) => avail.has(c)).join('');
      const g = einsum(`${[out, ...others.map((o) => o.t)].join(',')}->${kept}`, [dy, ...others.map((o) => o.v)]);
      const missing = [...term].flatMap((c, k) => (avail.has(c) ? [] : [k]));
      return missing.length ? expandAs(unsqueeze(g, missing), x!) : g;
    });
  },
  // y = x / |x|_p along the axis: dx = (dy - s sum(dy y)) / |x|_p, s = y (p = 2) or sign(x) (p = 1).
  LpNormalization: (dy, n) => {
    const axis = attrInt(n.attrs, 'axis', -1);
    const p = attrInt(n.attrs, 'p', 2);
    const x = x0(n);
    const norm = () => (p === 2 ? sqrt(reduceSum(mul(x, x), [axis], true)) : reduceSum(abs(x), [axis], true));
    return [() => div(sub(dy, mul(p === 2 ? y0(n) : sign(x), reduceSum(mul(dy, y0(n)), [axis], true))), norm())];
  },
  MeanVarianceNormalization: (dy, n) => {
    const r = normalizedGrads(dy, x0(n), scalar(dy.graph, 1, dy.dtype), attrInts(n.attrs, 'axes') ?? [0, 2, 3], 0);
    return [r.dx];
  },
  // The values' gradient goes back to where they were taken from.
  TopK: (dy, n) => [() => scatterElements(zerosLike(x0(n)), n.outputs[1], dy, attrInt(n.attrs, 'axis', -1), 'add'), null],
  GlobalAveragePool: (dy, n) => [() => mul(expandAs(dy, x0(n)), 1 / spatialSize(x0(n), n))],
  // y = (sum |x|^p)^(1/p) per channel: dx = dy |x|^(p-1) sign(x) / y^(p-1).
  GlobalLpPool: (dy, n) => {
    const p = attrInt(n.attrs, 'p', 2);
    const x = x0(n);
    const y = () => expandAs(y0(n), x);
    return [() => (p === 1 ? mul(expandAs(dy, x), sign(x)) : p === 2 ? div(mul(expandAs(dy, x), x), y()) : mul(expandAs(dy, x), div(mul(pow(abs(x), p - 1), sign(x)), pow(y(), p - 1))))];
  },
  // y = x s^-b, s = bias + alpha / size S(x^2), S a sum over a window of channels; S's adjoint mirrors the window.
  LRN: (dy, n) => {
    const size = attrInt(n.attrs, 'size', 1);
    const [alpha, beta, bias] = [attrFloat(n.attrs, 'alpha', 1e-4), attrFloat(n.attrs, 'beta', 0.75), attrFloat(n.attrs, 'bias', 1)];
    const [lo, hi] = [Math.floor((size - 1) / 2), Math.ceil((size - 1) / 2)];
    const x = x0(n);
    const s = once(() => add(mul(channelWindowSum(mul(x, x), lo, hi), alpha / size), bias));
    return [() => add(mul(dy, pow(s(), -beta)), mul(mul(x, (2 * alpha * -beta) / size), channelWindowSum(mul(mul(dy, x), pow(s(), -beta - 1)), hi, lo)))];
  },
  // Compress with a constant condition reads fixed slices: their gradient goes back to those slices.
  Compress: (dy, n) => {
    const cond = n.outputs[0].graph.constantOf(n.inputs[1]!);
    if (!cond) throw new Error(`${n.name}: Compress gradient needs a constant condition`);
    const kept = Array.from(cond.data as ArrayLike<number>).flatMap((v, i) => (v ? [i] : []));
    const x = x0(n);
    if (!n.attrs.axis) return [() => reshapeAs(scatterElements(zerosLike(reshape(x, [-1])), dy.graph.constant(tensor('int64', [kept.length], kept)), dy, 0), x), null];
    const axis = attrInt(n.attrs, 'axis', 0);
    const r = x.rank!;
    const ax = axis < 0 ? axis + r : axis;
    const at = dy.graph.constant(tensor('int64', Array.from({ length: r }, (_, i) => (i === ax ? kept.length : 1)), kept));
    return [() => scatterElements(zerosLike(x), expandAs(at, dy), dy, ax), null];
  },
  // -x[n, t_n] w[t_n], summed, averaged over the weights, or per sample.
  NegativeLogLikelihoodLoss: (dy, n) => [() => nllInputGrad(dy, n, x0(n)), null, null],
  // NLL of log_softmax(x): dx = g - softmax(x) sum_c g with g the NLL gradient w.r.t. the log-probabilities.
  SoftmaxCrossEntropyLoss: (dy, n) => [
    () => {
      const g = nllInputGrad(dy, n, x0(n));
      return sub(g, mul(op('Softmax', [x0(n)], { axis: { kind: 'int', value: 1 } }), reduceSum(g, [1], true)));
    },
    null,
    null,
  ],
  // Reversing the same prefixes again undoes it.
  ReverseSequence: (dy, n) => [() => op('ReverseSequence', [dy, n.inputs[1]!], n.attrs), null],
  // Ties share the gradient, as ReduceMax's rule.
  GlobalMaxPool: (dy, n) => [() => mul(expandAs(dy, x0(n)), cast(equal(x0(n), expandAs(y0(n), x0(n))), dy.dtype))],
  // Tiles: dy as [r0, d0, r1, d1, ...] summed over the repeats.
  Tile: (dy, n) => {
    const d = staticShape(x0(n));
    const r = constOf(n, 1);
    if (!d || !r) throw new Error(`${n.name}: Tile gradient needs a static input shape and constant repeats`);
    return [() => reshape(reduceSum(reshape(dy, d.flatMap((di, i) => [r[i], di])), d.map((_, i) => 2 * i)), d), null];
  },
  // Split: every output's gradient (zeros for one that reaches no loss) concatenated back along the axis.
  Split: (dy, n, dys) => [() => concat(n.outputs.map((o, i) => (i === 0 ? dy : dys?.[i]) ?? zerosLike(o)), attrInt(n.attrs, 'axis', 0)), null],
  // Dropout in inference mode is the identity; training-mode masks are drawn by the host instead (import replaces the node).
  Dropout: (dy, n) => {
    const training = n.inputs[2] ? constOf(n, 2) : [0];
    if (!training || training[0] !== 0) throw new Error(`${n.name}: Dropout in training mode has no gradient rule here; imported models get a host-drawn mask instead`);
    return [() => dy, null, null];
  },
  // DepthToSpace and SpaceToDepth move elements without touching them: the gradient moves them back.
  DepthToSpace: (dy, n) => [() => blockMove(dy, x0(n), n, true)],
  SpaceToDepth: (dy, n) => [() => blockMove(dy, x0(n), n, false)],
  Reshape: (dy, n) => [() => reshapeAs(dy, x0(n)), null],
  Flatten: (dy, n) => [() => reshapeAs(dy, x0(n))],
  Squeeze: (dy, n) => {
    const axes = constOf(n, 1);
    return [() => (axes ? unsqueeze(dy, axes) : reshapeAs(dy, x0(n))), null];
  },
  Unsqueeze: (dy, n) => [() => squeeze(dy, constOf(n, 1)!), null],
  Transpose: (dy, n) => {
    const r = x0(n).rank!;
    const perm = attrInts(n.attrs, 'perm') ?? [...Array(r).keys()].reverse();
    const inv = new Array<number>(r);
    perm.forEach((p, i) => (inv[p] = i));
    return [() => transpose(dy, inv)];
  },
  Expand: (dy, n) => [() => unbroadcast(dy, x0(n)), null],
  Cast: (dy, n) => [x0(n).dtype === 'float32' || x0(n).dtype === 'float64' ? () => cast(dy, x0(n).dtype) : null],
  Concat: (dy, n) => {
    const r = n.outputs[0].rank!;
    const axis = (attrInt(n.attrs, 'axis', 0) + r) % r;
    let start = 0;
    return n.inputs.map((x) => {
      const d = x!.shape![axis];
      if (typeof d !== 'number') throw new Error(`${n.name}: Concat gradient needs static sizes along axis ${axis}`);
      const s = start;
      start += d;
      return () => slice(dy, [s], [s + d], [axis]);
    });
  },
  Slice: (dy, n) => {
    const x = x0(n);
    const shape = staticShape(x);
    const starts = constOf(n, 1);
    const ends = constOf(n, 2);
    const axes = n.inputs[3] ? constOf(n, 3) : starts?.map((_, i) => i);
    const steps = n.inputs[4] ? constOf(n, 4) : null;
    if (!shape || !starts || !ends || !axes || (steps && steps.some((s) => s === 0 || s < -1)))
      throw new Error(`${n.name}: Slice gradient needs a static input shape, constant bounds and steps that are positive or -1`);
    // Each gradient row goes back to the input row it was read from; rows not read get zero.
    return [() => {
      const r = shape.length;
      const pads = new Array<number>(2 * r).fill(0);
      let g = dy;
      axes.forEach((ax, i) => {
        const a = ax < 0 ? ax + r : ax;
        const step = steps ? steps[i] : 1;
        const [s, e] = sliceBounds(starts[i], ends[i], step, shape[a]);
        if (step === -1) {
          // Rows s, s-1, ..., e+1 read backwards: reverse them back.
          g = slice(g, [-1], [-shape[a] - 1], [a], [-1]);
          pads[a] = e + 1;
          pads[a + r] = shape[a] - 1 - s;
        } else {
          const len = step > 1 ? Math.min(Math.max(0, Math.ceil((e - s) / step)) * step, shape[a] - s) : Math.max(e - s, 0);
          if (step > 1) g = spread(g, a, step, len);
          pads[a] = s;
          pads[a + r] = shape[a] - s - len;
        }
      });
      return pad(g, pads);
    }, null, null, null, null];
  },
  Pad: (dy, n) => {
    const x = x0(n);
    const pads = constOf(n, 1);
    const mode = n.attrs.mode?.value ?? 'constant';
    if (!pads || mode !== 'constant' || pads.some((p) => p < 0)) throw new Error(`${n.name}: Pad gradient needs constant, non-negative pads in constant mode`);
    const r = x.rank!;
    const shape = staticShape(x);
    if (!shape) throw new Error(`${n.name}: Pad gradient needs a static input shape`);
    return [() => slice(dy, pads.slice(0, r), shape.map((d, i) => d + pads[i]), [...Array(r).keys()]), null, null];
  },
  // Conv and ConvTranspose are each other's input gradient; both weight gradients are one more Conv.
  Conv: (dy, n) => {
    const [x, w, b] = n.inputs as Value[];
    const { k, xs, ys, strides, pads, dilations } = windowOf(n, w);
    const r = k.length;
    // Rows of x the forward never reached (stride not dividing the padded size) come back as output_padding.
    const outputPadding = xs.map((d, i) => d + pads[i] + pads[i + r] - (dilations[i] * (k[i] - 1) + 1) - strides[i] * (ys[i] - 1));
    return [
      () => convInputGrad(dy, w, k, strides, pads, dilations, outputPadding),
      () => convWeightGrad(x, dy, k, strides, pads, dilations),
      b ? () => reduceSum(dy, spatialAxes(dy)) : null,
    ];
  },
  ConvTranspose: (dy, n) => {
    const [x, w, b] = n.inputs as Value[];
    const { k, strides, pads, dilations } = windowOf(n, w);
    return [
      () => conv(dy, w, null, { strides, pads, dilations }),
      () => convWeightGrad(dy, x, k, strides, pads, dilations),
      b ? () => reduceSum(dy, spatialAxes(dy)) : null,
    ];
  },
  LayerNormalization: (dy, n) => {
    const r = x0(n).rank!;
    const axis = attrInt(n.attrs, 'axis', -1);
    return normRule(dy, n, [...Array(r).keys()].slice(axis < 0 ? axis + r : axis), false);
  },
  InstanceNormalization: (dy, n) => normRule(dy, n, spatialAxes(x0(n)).slice(1), true),
  BatchNormalization: (dy, n) => (attrInt(n.attrs, 'training_mode', 0) === 1 ? [...normRule(dy, n, spatialAxes(x0(n)), true), null, null] : batchNormInferenceRule(dy, n)),
  // Nearest upsampling by integer factors copies each input cell into a block: its gradient sums the block.
  Resize: (dy, n) => {
    const x = x0(n);
    const xs = staticShape(x);
    const ys = staticShape(y0(n));
    const mode = String(n.attrs.mode?.value ?? 'nearest');
    const ctm = String(n.attrs.coordinate_transformation_mode?.value ?? 'half_pixel');
    const nearest = String(n.attrs.nearest_mode?.value ?? 'round_prefer_floor');
    const factors = xs && ys ? ys.map((d, i) => d / xs[i]) : null;
    // Output cell j reads input floor(j / f) (asymmetric, floor) or round((j + 0.5) / f - 0.5) (half pixel,
    // either rounding): the same block of f cells per input cell. Other pairings shift the blocks.
    const blockwise = (ctm === 'asymmetric' && nearest === 'floor') || (/half_pixel$/.test(ctm) && nearest.startsWith('round'));
    if (!xs || !ys) throw new Error(`${n.name}: Resize gradient needs static shapes, got [${x.shape}] -> [${y0(n).shape}]`);
    // Nearest upsampling by integer factors: each input cell's block of outputs, summed (the fast path).
    if (mode === 'nearest' && blockwise && factors!.every((f) => Number.isInteger(f) && f >= 1)) {
      const blocks = xs.flatMap((d, i) => [d, factors![i]]);
      return [() => reduceSum(reshape(dy, blocks), factors!.map((_, i) => 2 * i + 1)), null, null, null];
    }
    // Otherwise Y = A_h X A_w^T per image, A the per-axis interpolation matrices: dX = A_h^T dY A_w.
    if ((mode !== 'nearest' && mode !== 'linear') || xs.length !== 4 || xs[0] !== ys[0] || xs[1] !== ys[1])
      throw new Error(`${n.name}: Resize gradient is implemented for nearest and (bi)linear resizing of the last two axes of [N, C, H, W], got mode ${mode}, [${xs}] -> [${ys}]`);
    const scales = n.inputs[2] ? dy.graph.constantOf(n.inputs[2]!) : null;
    const scaleOf = (i: number) => (scales && scales.data.length === 4 ? Number(scales.data[i]) : ys[i] / xs[i]);
    const A = (i: number) => dy.graph.constant(tensor(dy.dtype, [ys[i], xs[i]], interpolationMatrix(xs[i], ys[i], scaleOf(i), mode, ctm, nearest, n.name)), 'interp');
    return [() => matmul(matmul(transpose(A(2), [1, 0]), dy), A(3)), null, null, null];
  },
  // The mean over each window is a convolution of each channel by a constant kernel 1/|k|.
  AveragePool: (dy, n) => {
    const { k, xs, ys, strides, pads } = windowOf(n, null);
    if (attrInt(n.attrs, 'count_include_pad', 0) !== 1 && pads.some((p) => p > 0)) throw new Error(`${n.name}: AveragePool gradient with pads needs count_include_pad = 1`);
    const r = k.length;
    const size = k.reduce((a, b) => a * b, 1);
    // Windows that tile the input (k = stride, no pads): each input cell gets its window's gradient / |k|,
    // a nearest upsampling by k. bench/formulations.ts, 2x2 on [128, 64, 16, 16]: 9.3 ms against 16.3 ms
    // for the one-channel ConvTranspose below (and 92 ms for the same as an Expand). Resize's own gradient
    // (penalties differentiate this again) needs static shapes.
    if (staticShape(x0(n)) && pads.every((p) => p === 0) && k.every((d, i) => d === strides[i] && xs[i] === ys[i] * d))
      return [() => mul(upsampleNearest(dy, [1, 1, ...k]), 1 / size)];
    const kernel = dy.graph.constant(tensor(dy.dtype, [1, 1, ...k], new Array(size).fill(1 / size)), 'pool_kernel');
    const outputPadding = xs.map((d, i) => d + pads[i] + pads[i + r] - k[i] - strides[i] * (ys[i] - 1));
    return [() => reshapeAs(convTranspose(reshape(dy, [-1, 1, ...ys]), kernel, null, { strides, pads, outputPadding }), x0(n))];
  },
  // Scattered back along axis 0; another axis is moved first and back after.
  Gather: (dy, n) => {
    const [x, idx] = n.inputs as Value[];
    const at = unsqueeze(cast(idx, 'int64'), [-1]);
    const r = x.rank!;
    const a = attrInt(n.attrs, 'axis', 0) < 0 ? attrInt(n.attrs, 'axis', 0) + r : attrInt(n.attrs, 'axis', 0);
    if (a === 0) return [() => scatterNDAdd(zerosLike(x), at, dy), null];
    const q = idx.rank!;
    const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
    // dy's axes are [x's before a, idx's, x's after a]: idx's first, as a gather along axis 0 would give them.
    const first = [a, ...range(0, a), ...range(a + 1, r)];
    const back = first.map((_, i) => first.indexOf(i));
    return [() => transpose(scatterNDAdd(zerosLike(transpose(x, first)), at, transpose(dy, [...range(a, a + q), ...range(0, a), ...range(a + q, r - 1 + q)])), back), null];
  },
  GatherND: (dy, n) => [() => scatterNDAdd(zerosLike(x0(n)), n.inputs[1]!, dy), null],
  ScatterND: (dy, n) => {
    if (n.attrs.reduction?.value !== 'add') throw new Error(`${n.name}: ScatterND gradient is implemented for reduction='add'`);
    return [() => dy, null, () => gatherND(dy, n.inputs[1]!)];
  },
};

/**
 * Row j of the [out, in] matrix that maps an axis of length `inLen` to `outLen` as ONNX Resize does: the
 * source coordinate of output j under the coordinate transformation, then the nearest cell (by
 * `nearestMode`) or the two neighbouring cells weighted linearly (coordinates clamped to the axis).
 */
export function interpolationMatrix(inLen: number, outLen: number, scale: number, mode: string, ctm: string, nearestMode: string, where = 'Resize'): number[] {
  const m = new Array<number>(outLen * inLen).fill(0);
  for (let j = 0; j < outLen; j++) {
    let c: number;
    if (ctm === 'half_pixel') c = (j + 0.5) / scale - 0.5;
    else if (ctm === 'pytorch_half_pixel') c = outLen > 1 ? (j + 0.5) / scale - 0.5 : 0;
    else if (ctm === 'align_corners') c = outLen > 1 ? (j * (inLen - 1)) / (outLen - 1) : 0;
    else if (ctm === 'asymmetric') c = j / scale;
    else throw new Error(`${where}: Resize gradient: coordinate_transformation_mode ${ctm} is not supported`);
    if (mode === 'nearest') {
      const r = nearestMode === 'floor' ? Math.floor(c) : nearestMode === 'ceil' ? Math.ceil(c) : nearestMode === 'round_prefer_ceil' ? Math.floor(c + 0.5) : Math.ceil(c - 0.5);
      m[j * inLen + Math.min(Math.max(r, 0), inLen - 1)] = 1;
    } else {
      const cc = Math.min(Math.max(c, 0), inLen - 1);
      const i0 = Math.floor(cc);
      const i1 = Math.min(i0 + 1, inLen - 1);
      m[j * inLen + i0] += 1 - (cc - i0);
      m[j * inLen + i1] += cc - i0;
    }
  }
  return m;
}

const softmaxAxis = (n: Node) => (attrInt(n.attrs, 'axis', -1) + x0(n).rank!) % x0(n).rank!;

/**
 * MaxPool's input gradient: per kernel offset, the strided window of the (padded) input that offset reads,
 * compared with the output; where it is the maximum the output's gradient goes back to that cell. Ties share
 * it (as ReduceMax's rule), which PyTorch gives to one cell; with float data ties are rare.
 */
function maxPoolGrad(dy: Value, n: Node): Value {
  const { k, xs, ys, strides, pads, dilations } = windowOf(n, null);
  if (k.length !== 2 || n.outputs.length > 1) throw new Error(`${n.name}: MaxPool gradient is implemented for 2-D pooling without the indices output`);
  const [Ho, Wo] = ys;
  const [Hp, Wp] = [xs[0] + pads[0] + pads[2], xs[1] + pads[1] + pads[3]];
  const xp = padSpatial2d(x0(n), pads);
  const terms: Value[] = [];
  for (let a = 0; a < k[0]; a++)
    for (let b = 0; b < k[1]; b++) {
      const [ra, cb] = [a * dilations[0], b * dilations[1]];
      const g = where(equal(windowAt(xp, a, b, 2, { strides, dilations, out: ys }), y0(n)), dy, 0);
      // Back to the rows and columns the window read: zeros between (the stride), then the offset in front.
      const rows = Math.min(Ho * strides[0], Hp - ra);
      const cols = Math.min(Wo * strides[1], Wp - cb);
      const placed = spread(spread(g, 2, strides[0], Hp - ra), 3, strides[1], Wp - cb);
      terms.push(pad(placed, [0, 0, ra, cb, 0, 0, Hp - ra - rows, Wp - cb - cols]));
    }
  const total = terms.length > 1 ? op('Sum', terms) : terms[0];
  return pads.some((p) => p > 0) ? slice(total, [pads[0], pads[1]], [pads[0] + xs[0], pads[1] + xs[1]], [2, 3]) : total;
}

/**
 * GridSample (zeros padding) by its corners: bilinear reads the four pixels around each sample point with
 * weights linear in the grid, nearest one pixel. The input's gradient scatters dy back to those pixels with
 * the same weights; the grid's (bilinear only) is the weights' slope times the pixel differences, times the
 * grid-to-pixel scale. Written with GatherElements and ScatterElements, so it differentiates again.
 */
function gridSampleGrads(dy: Value, n: Node): GradThunk[] {
  const [x, grid] = n.inputs as Value[];
  const [xs, gs] = [staticShape(x), staticShape(grid)];
  if (!xs || !gs) throw new Error(`${n.name}: GridSample gradient needs static input and grid shapes`);
  const [N, C, H, W] = xs;
  const [, Ho, Wo] = gs;
  const P = Ho * Wo;
  const align = attrInt(n.attrs, 'align_corners', 0) === 1;
  const bilinear = (n.attrs.mode?.value ?? 'bilinear') === 'bilinear';
  const dt = dy.dtype;
  const coord = (i: number, size: number) => {
    const g = reshape(slice(grid, [i], [i + 1], [3]), [N, 1, P]);
    return align ? mul(add(g, 1), (size - 1) / 2) : div(sub(mul(add(g, 1), size), 1), 2);
  };
  const ix = once(() => coord(0, W));
  const iy = once(() => coord(1, H));
  /** Pixel (cx, cy) [N, 1, P] as an index into x flattened to [N, C, H W], and whether it lies inside. */
  const pixel = (cx: Value, cy: Value) => {
    const inside = and(and(greaterOrEqual(cx, 0), lessOrEqual(cx, W - 1)), and(greaterOrEqual(cy, 0), lessOrEqual(cy, H - 1)));
    const idx = cast(add(mul(clip(cy, 0, H - 1), W), clip(cx, 0, W - 1)), 'int64');
    return { idx: expand(idx, [N, C, P]), inside: cast(inside, dt) };
  };
  const dyFlat = once(() => reshape(dy, [N, C, P]));
  const xFlat = once(() => reshape(x, [N, C, H * W]));
  const scatterBack = (terms: { idx: Value; w: Value }[]) => {
    let acc = zerosLike(xFlat());
    for (const t of terms) acc = scatterElements(acc, t.idx, mul(dyFlat(), t.w), 2, 'add');
    return reshape(acc, xs);
  };
  if (!bilinear) {
    const p = once(() => pixel(op('Round', [ix()]), op('Round', [iy()])));
    return [() => scatterBack([{ idx: p().idx, w: p().inside }]), null];
  }
  const c = once(() => {
    const [x0, y0] = [floor(ix()), floor(iy())];
    const [wx1, wy1] = [sub(ix(), x0), sub(iy(), y0)];
    const [wx0, wy0] = [sub(1, wx1), sub(1, wy1)];
    const at = (ddx: number, ddy: number) => pixel(add(x0, ddx), add(y0, ddy));
    return { wx0, wx1, wy0, wy1, p00: at(0, 0), p01: at(1, 0), p10: at(0, 1), p11: at(1, 1) };
  });
  const dx = () => {
    const { wx0, wx1, wy0, wy1, p00, p01, p10, p11 } = c();
    return scatterBack([
      { idx: p00.idx, w: mul(mul(wx0, wy0), p00.inside) },
      { idx: p01.idx, w: mul(mul(wx1, wy0), p01.inside) },
      { idx: p10.idx, w: mul(mul(wx0, wy1), p10.inside) },
      { idx: p11.idx, w: mul(mul(wx1, wy1), p11.inside) },
    ]);
  };
  const dgrid = () => {
    const { wx0, wx1, wy0, wy1, p00, p01, p10, p11 } = c();
    const v = (p: { idx: Value; inside: Value }) => mul(gatherElements(xFlat(), p.idx, 2), p.inside);
    const [v00, v01, v10, v11] = [v(p00), v(p01), v(p10), v(p11)];
    const perX = add(mul(wy0, sub(v01, v00)), mul(wy1, sub(v11, v10)));
    const perY = add(mul(wx0, sub(v10, v00)), mul(wx1, sub(v11, v01)));
    const [sx, sy] = align ? [(W - 1) / 2, (H - 1) / 2] : [W / 2, H / 2];
    const gx = mul(reduceSum(mul(dyFlat(), perX), [1]), sx);
    const gy = mul(reduceSum(mul(dyFlat(), perY), [1]), sy);
    return reshape(concat([unsqueeze(gx, [-1]), unsqueeze(gy, [-1])], 2), gs);
  };
  return [dx, dgrid];
}

/** sum over channels c - lo .. c + hi of v [N, C, ...] (zeros past the ends), by padding and slicing. */
function channelWindowSum(v: Value, lo: number, hi: number): Value {
  const s = staticShape(v);
  if (!s) throw new Error('LRN gradient needs static shapes');
  const r = s.length;
  const pads = new Array<number>(2 * r).fill(0);
  pads[1] = lo;
  pads[r + 1] = hi;
  const p = lo + hi > 0 ? pad(v, pads) : v;
  const parts = Array.from({ length: lo + hi + 1 }, (_, k) => slice(p, [k], [k + s[1]], [1]));
  return parts.length > 1 ? op('Sum', parts) : parts[0];
}

/** The gradient of NegativeLogLikelihoodLoss (and of SoftmaxCrossEntropyLoss's NLL part) w.r.t. its [N, C, ...] input. */
function nllInputGrad(dy: Value, n: Node, x: Value): Value {
  if (n.attrs.ignore_index) throw new Error(`${n.name}: ${n.op} gradient with ignore_index is not implemented`);
  const [, t, w] = n.inputs as (Value | null)[];
  const reduction = (n.attrs.reduction?.value as string | undefined) ?? 'mean';
  const tt = unsqueeze(cast(t!, 'int64'), [1]);
  // Per target: -w[t] (or -1), times dy (per sample for 'none'), over sum w[t] (or the count) for 'mean'.
  const wt = w ? op('Gather', [w, t!], { axis: { kind: 'int', value: 0 } }) : null;
  let g: Value = wt ? neg(wt) : neg(expandAs(scalar(dy.graph, 1, dy.dtype), cast(t!, dy.dtype)));
  g = mul(g, dy);
  if (reduction === 'mean') g = div(g, wt ? reduceSum(wt) : cast(op('Size', [t!]), dy.dtype));
  return scatterElements(zerosLike(x), tt, unsqueeze(g, [1]), 1);
}

/** The number of spatial positions of x [N, C, ...], static or computed. */
function spatialSize(x: Value, n: Node): number {
  const s = staticShape(x);
  if (!s) throw new Error(`${n.name}: ${n.op} gradient needs static spatial dims`);
  return s.slice(2).reduce((a, b) => a * b, 1);
}

/**
 * The inverse of DepthToSpace (toSpace) or SpaceToDepth applied to dy: both are a reshape, a transpose and
 * a reshape, so the gradient is the inverse transpose between the same two reshapes.
 */
function blockMove(dy: Value, x: Value, n: Node, toSpace: boolean): Value {
  const b = attrInt(n.attrs, 'blocksize', 1);
  const s = staticShape(x);
  if (!s) throw new Error(`${n.name}: ${n.op} gradient needs a static input shape`);
  const [N, C, H, W] = s;
  if (!toSpace) return reshape(transpose(reshape(dy, [N, b, b, C, H / b, W / b]), [0, 3, 4, 1, 5, 2]), s);
  const crd = n.attrs.mode?.value === 'CRD';
  const c = C / (b * b);
  // Forward DCR: [N, b, b, c, H, W] -> perm [0, 3, 4, 1, 5, 2]; CRD: [N, c, b, b, H, W] -> perm [0, 1, 4, 2, 5, 3].
  const blocks = reshape(dy, [N, c, H, b, W, b]);
  return reshape(transpose(blocks, crd ? [0, 1, 3, 5, 2, 4] : [0, 3, 5, 1, 2, 4]), s);
}

function minMax(dy: Value, n: Node, wins: (a: Value, b: Value) => Value): GradThunk[] {
  if (n.inputs.length !== 2) throw new Error(`${n.name}: ${n.op} gradient is implemented for two inputs`);
  const [a, b] = n.inputs as Value[];
  const aWins = () => wins(a, b);
  return [() => unbroadcast(where(aWins(), dy, 0), a), () => unbroadcast(where(aWins(), 0, dy), b)];
}

export const supportedOps = (): string[] => Object.keys(rules).sort();

/** Each entry's cofactor, (-1)^(i+j) times the determinant of X without row i and column j ([..., n, n]). */
function cofactors(x: Value): Value {
  const s = x.shape;
  const n = s?.[s.length - 1];
  if (!s || typeof n !== 'number') throw new Error(`Det gradient needs a static matrix size, got ${x}`);
  const g = x.graph;
  if (n === 1) return expandAs(g.constant(tensor(x.dtype, [], [1]), 'one'), x);
  const r = s.length;
  // Row i's minor rows (every row but i), then column j's: [..., i, a, j, b], a and b the minor's axes.
  const others = g.constant(tensor('int64', [n, n - 1], Array.from({ length: n }, (_, i) => [...Array(n).keys()].filter((k) => k !== i)).flat()), 'minor_index');
  const minors = gather(gather(x, others, r - 2), others, r);
  const batch = [...Array(r - 2).keys()];
  const sign = g.constant(tensor(x.dtype, [n, n], Array.from({ length: n * n }, (_, k) => ((Math.floor(k / n) + (k % n)) % 2 ? -1 : 1))), 'cofactor_sign');
  return mul(det(transpose(minors, [...batch, r - 2, r, r - 1, r + 1])), sign);
}

/** The adjoint of a DFT node (opset 17) applied to dy, in the shape of its input x. */
function dftAdjoint(dy: Value, x: Value, node: Node): Value {
  const r = x.rank!;
  const axis = attrInt(node.attrs, 'axis', 1) < 0 ? attrInt(node.attrs, 'axis', 1) + r : attrInt(node.attrs, 'axis', 1);
  const n = x.shape![axis];
  if (typeof n !== 'number') throw new Error(`${node.name}: DFT gradient needs a static signal length`);
  const len = constOf(node, 1)?.[0];
  if (len !== undefined && len !== n) throw new Error(`${node.name}: DFT gradient with dft_length ${len} other than the signal's ${n} (padding or cutting) is not implemented`);
  return adjointOfTransform(dy, axis, n, attrInt(node.attrs, 'inverse', 0) === 1, attrInt(node.attrs, 'onesided', 0) === 1, x.shape![r - 1] === 1);
}

/**
 * What a length-n transform along `axis` sends back: its missing negative frequencies zero where it was
 * one-sided, then n times the inverse transform (or the transform over n, for an inverse), the real part
 * only for a real input.
 */
function adjointOfTransform(dy: Value, axis: number, n: number, inverse: boolean, onesided: boolean, real: boolean): Value {
  const r = dy.rank!;
  let g = dy;
  if (onesided) {
    const pads = new Array(2 * r).fill(0);
    pads[r + axis] = n - (Math.floor(n / 2) + 1);
    g = pad(g, pads);
  }
  const back = mul(dft(g, { axis, inverse: !inverse }), inverse ? 1 / n : n);
  return real ? slice(back, [0], [1], [r - 1]) : back;
}

/**
 * STFT: each frame (frame_length samples every frame_step, times the window) is DFT'd, so a frame's
 * gradient is the DFT's adjoint; the signal's is those frames' gradients times the window, added back where
 * each frame was read (frames overlap); the window's is the frames' gradients times the signal they read.
 */
function stftGrads(dy: Value, node: Node): GradThunk[] {
  const x = x0(node);
  const window = node.inputs[2];
  const hop = constOf(node, 1)?.[0];
  const [frames, bins] = [dy.shape?.[1], dy.shape?.[2]];
  const L = x.shape?.[1];
  const fl = constOf(node, 3)?.[0] ?? window?.shape?.[0];
  if (typeof hop !== 'number' || typeof frames !== 'number' || typeof L !== 'number' || typeof fl !== 'number' || typeof bins !== 'number') throw new Error(`${node.name}: STFT gradient needs static lengths`);
  const g = x.graph;
  const c = x.shape![2] as number;
  const read = Array.from({ length: frames * fl }, (_, k) => Math.floor(k / fl) * hop + (k % fl));
  // The frames' gradients [batch, frames, frame_length, c], built once for the signal's and the window's.
  let adjoint: Value | null = null;
  const framesGrad = () => (adjoint ??= adjointOfTransform(dy, 2, fl, false, attrInt(node.attrs, 'onesided', 1) === 1, c === 1));
  const w = window ? reshape(window, [1, 1, fl, 1]) : null;
  return [
    () => {
      const contrib = reshape(w ? mul(framesGrad(), w) : framesGrad(), [-1, frames * fl, c]);
      const at = expandAs(g.constant(tensor('int64', [1, frames * fl, 1], read), 'stft_read'), contrib);
      return scatterElements(zerosLike(x), at, contrib, 1, 'add');
    },
    null,
    window ? () => reduceSum(mul(framesGrad(), gather(x, g.constant(tensor('int64', [frames, fl], read), 'stft_read'), 1)), [0, 1, 3]) : null,
    null,
  ];
}
