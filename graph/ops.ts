// ONNX ops as typed functions (opset 17), so that a graph reads like its math:
//   const loss = mean(softplus(neg(realLogits)))
// A plain number argument becomes a scalar constant of the other operand's dtype.
import { attr, Graph, tensor, Value, type Attr, type DType, type TensorData } from './ir.ts';
import { broadcastShapes, schemas, ShapeError, dtypeToOnnx, type InferInput } from './schemas.ts';

export type Operand = Value | number;

/** The innermost graph among the inputs: a node goes where all of its inputs are visible. */
function graphOf(inputs: (Value | null)[]): Graph {
  let g: Graph | null = null;
  for (const v of inputs) {
    if (!v) continue;
    if (!g || isAncestor(g, v.graph)) g = v.graph;
    else if (!isAncestor(v.graph, g)) throw new Error(`values '${v.name}' and others come from unrelated graphs`);
  }
  if (!g) throw new Error('an op needs at least one Value input to know its graph');
  return g;
}
function isAncestor(a: Graph, b: Graph): boolean {
  for (let g: Graph | null = b; g; g = g.parent) if (g === a) return true;
  return false;
}

export function inferInputs(g: Graph, inputs: (Value | null)[]): (InferInput | null)[] {
  return inputs.map((v) => (v ? { dtype: v.dtype, shape: v.shape, constant: g.constantOf(v) } : null));
}

/** Append one node of any op; types come from the schema table. Returns all outputs. */
export function opN(op: string, inputs: (Value | null)[], attrs: Record<string, Attr> = {}, graph?: Graph): Value[] {
  const g = graph ?? graphOf(inputs);
  const infer = schemas[op];
  if (!infer) throw new Error(`no schema for op '${op}'`);
  let types;
  try {
    types = infer(inferInputs(g, inputs), attrs);
  } catch (e) {
    if (e instanceof ShapeError) throw new Error(`${op}(${inputs.map((v) => (v ? v.toString() : '-')).join(', ')}): ${e.message}`);
    throw e;
  }
  return g.addNode(op, inputs, types, attrs);
}
export const op = (name: string, inputs: (Value | null)[], attrs: Record<string, Attr> = {}): Value => opN(name, inputs, attrs)[0];

// ---- constants -------------------------------------------------------------------------------------
export function scalar(g: Graph, x: number, dtype: DType = 'float32'): Value {
  return g.constant(tensor(dtype, [], [x]), 'c');
}
export function constant(g: Graph, t: TensorData, hint = 'const'): Value {
  return g.constant(t, hint);
}
export function ints(g: Graph, xs: number[]): Value {
  return g.constant(tensor('int64', [xs.length], xs), 'ints');
}
function lift(a: Operand, like: Value): Value {
  return typeof a === 'number' ? scalar(graphOf([like]), a, like.dtype) : a;
}
function pair(a: Operand, b: Operand): [Value, Value] {
  if (typeof a === 'number' && typeof b === 'number') throw new Error('an op needs at least one Value operand');
  const like = (typeof a === 'number' ? b : a) as Value;
  // Constants go in the innermost graph of the pair so subgraphs stay self-contained.
  return [lift(a, like), lift(b, like)];
}

// ---- elementwise -----------------------------------------------------------------------------------
export const add = (a: Operand, b: Operand) => op('Add', pair(a, b));
export const sub = (a: Operand, b: Operand) => op('Sub', pair(a, b));
export const mul = (a: Operand, b: Operand) => op('Mul', pair(a, b));
export const div = (a: Operand, b: Operand) => op('Div', pair(a, b));
export const pow = (a: Value, b: Operand) => op('Pow', [a, lift(b, a)]);
export const neg = (x: Value) => op('Neg', [x]);
export const abs = (x: Value) => op('Abs', [x]);
export const sign = (x: Value) => op('Sign', [x]);
export const sqrt = (x: Value) => op('Sqrt', [x]);
export const exp = (x: Value) => op('Exp', [x]);
export const log = (x: Value) => op('Log', [x]);
export const reciprocal = (x: Value) => op('Reciprocal', [x]);
export const square = (x: Value) => mul(x, x);
export const relu = (x: Value) => op('Relu', [x]);
export const leakyRelu = (x: Value, alpha = 0.01) => op('LeakyRelu', [x], { alpha: attr.float(alpha) });
export const sigmoid = (x: Value) => op('Sigmoid', [x]);
export const tanh = (x: Value) => op('Tanh', [x]);
export const softplus = (x: Value) => op('Softplus', [x]);
/** Round half to even (no gradient rule: for outputs, not for training). */
export const round = (x: Value) => op('Round', [x]);
export const floor = (x: Value) => op('Floor', [x]);
export const erf = (x: Value) => op('Erf', [x]);
export const elu = (x: Value, alpha = 1) => op('Elu', [x], { alpha: attr.float(alpha) });
/** SELU's constants are the paper's (Klambauer et al. 2017), as ONNX's and PyTorch's defaults. */
export const selu = (x: Value, alpha = 1.67326319217681884765625, gamma = 1.05070102214813232421875) => op('Selu', [x], { alpha: attr.float(alpha), gamma: attr.float(gamma) });
export const celu = (x: Value, alpha = 1) => op('Celu', [x], { alpha: attr.float(alpha) });
export const hardSigmoid = (x: Value, alpha = 0.2, beta = 0.5) => op('HardSigmoid', [x], { alpha: attr.float(alpha), beta: attr.float(beta) });
export const hardSwish = (x: Value) => op('HardSwish', [x]);
export const softsign = (x: Value) => op('Softsign', [x]);
export const thresholdedRelu = (x: Value, alpha = 1) => op('ThresholdedRelu', [x], { alpha: attr.float(alpha) });
/** Leaky ReLU with a learned slope that broadcasts to x (per channel: [C, 1, 1]). */
export const prelu = (x: Value, slope: Value) => op('PRelu', [x, slope]);
export const sin = (x: Value) => op('Sin', [x]);
export const cos = (x: Value) => op('Cos', [x]);
export const tan = (x: Value) => op('Tan', [x]);
export const asin = (x: Value) => op('Asin', [x]);
export const acos = (x: Value) => op('Acos', [x]);
export const atan = (x: Value) => op('Atan', [x]);
export const sinh = (x: Value) => op('Sinh', [x]);
export const cosh = (x: Value) => op('Cosh', [x]);
export const asinh = (x: Value) => op('Asinh', [x]);
export const acosh = (x: Value) => op('Acosh', [x]);
export const atanh = (x: Value) => op('Atanh', [x]);
export const softmax = (x: Value, axis = -1) => op('Softmax', [x], { axis: attr.int(axis) });
export const logSoftmax = (x: Value, axis = -1) => op('LogSoftmax', [x], { axis: attr.int(axis) });
/** log(sigmoid(x)) = -softplus(-x), stable for large |x|. */
export const logSigmoid = (x: Value) => neg(softplus(neg(x)));
export const identity = (x: Value) => op('Identity', [x]);
export const min = (a: Operand, b: Operand) => op('Min', pair(a, b));
export const max = (a: Operand, b: Operand) => op('Max', pair(a, b));
export const sum = (...xs: Value[]) => (xs.length === 1 ? xs[0] : op('Sum', xs));
/** The elementwise mean of several tensors (ONNX Mean; `mean` below is the mean over a tensor's elements). */
export const meanOf = (...xs: Value[]) => op('Mean', xs);
export function clip(x: Value, lo?: number | Value, hi?: number | Value): Value {
  const b = (v?: number | Value) => (v === undefined ? null : lift(v, x));
  return op('Clip', [x, b(lo), b(hi)]);
}
export const where = (c: Value, a: Operand, b: Operand) => op('Where', [c, ...pair(a, b)]);
export const greater = (a: Operand, b: Operand) => op('Greater', pair(a, b));
export const less = (a: Operand, b: Operand) => op('Less', pair(a, b));
export const greaterOrEqual = (a: Operand, b: Operand) => op('GreaterOrEqual', pair(a, b));
export const lessOrEqual = (a: Operand, b: Operand) => op('LessOrEqual', pair(a, b));
export const equal = (a: Operand, b: Operand) => op('Equal', pair(a, b));
export const and = (a: Value, b: Value) => op('And', [a, b]);
export const or = (a: Value, b: Value) => op('Or', [a, b]);
export const not = (a: Value) => op('Not', [a]);
export const isNaN = (x: Value) => op('IsNaN', [x]);
export const isInf = (x: Value) => op('IsInf', [x]);
export const cast = (x: Value, to: DType) => (x.dtype === to ? x : op('Cast', [x], { to: attr.int(dtypeToOnnx(to)) }));

// ---- linear algebra --------------------------------------------------------------------------------
export const matmul = (a: Value, b: Value) => op('MatMul', [a, b]);
export interface GemmOptions {
  alpha?: number;
  beta?: number;
  transA?: boolean;
  transB?: boolean;
}
/** alpha * op(A) op(B) + beta * C */
export function gemm(a: Value, b: Value, c: Value | null = null, o: GemmOptions = {}): Value {
  const attrs: Record<string, Attr> = {};
  if (o.alpha !== undefined && o.alpha !== 1) attrs.alpha = attr.float(o.alpha);
  if (o.beta !== undefined && o.beta !== 1) attrs.beta = attr.float(o.beta);
  if (o.transA) attrs.transA = attr.int(1);
  if (o.transB) attrs.transB = attr.int(1);
  return op('Gemm', c ? [a, b, c] : [a, b], attrs);
}

// ---- convolution -----------------------------------------------------------------------------------
export interface ConvOptions {
  strides?: number[];
  /** [begin per spatial dim..., end per spatial dim...] as in ONNX. */
  pads?: number[];
  dilations?: number[];
  /** ConvTranspose only: extra rows/columns at the end of the output. */
  outputPadding?: number[];
}
/** `w`: the weight (its kernel shape is written out) or, for pooling, the number of spatial dims. */
function convAttrs(o: ConvOptions, w: Value | number): Record<string, Attr> {
  const n = typeof w === 'number' ? w : w.rank! - 2;
  const a: Record<string, Attr> = {};
  // Explicit, though ONNX infers it from W: some consumers (OpenCV's DNN importer) require it.
  const k = typeof w === 'number' ? null : w.shape?.slice(2);
  if (k && k.every((d) => typeof d === 'number')) a.kernel_shape = attr.ints(k as number[]);
  const nonDefault = (v: number[] | undefined, d: number) => v && v.some((x) => x !== d);
  if (nonDefault(o.strides, 1)) a.strides = attr.ints(o.strides!);
  if (nonDefault(o.pads, 0)) a.pads = attr.ints(o.pads!);
  if (nonDefault(o.dilations, 1)) a.dilations = attr.ints(o.dilations!);
  if (nonDefault(o.outputPadding, 0)) a.output_padding = attr.ints(o.outputPadding!);
  if (o.pads && o.pads.length !== 2 * n) throw new Error(`pads needs ${2 * n} entries, got ${o.pads.length}`);
  return a;
}
/** x [N, C, ...] with w [M, C, ...k] (+ b [M]). */
export const conv = (x: Value, w: Value, b: Value | null = null, o: ConvOptions = {}) => op('Conv', b ? [x, w, b] : [x, w], convAttrs(o, w));
/** x [N, C, ...] with w [C, M, ...k] (+ b [M]): the adjoint of conv. */
export const convTranspose = (x: Value, w: Value, b: Value | null = null, o: ConvOptions = {}) => op('ConvTranspose', b ? [x, w, b] : [x, w], convAttrs(o, w));
/** Mean over windows; padded cells count in the divisor (count_include_pad = 1, as PyTorch's default). */
export function averagePool(x: Value, kernel: number[], o: Omit<ConvOptions, 'outputPadding' | 'dilations'> = {}): Value {
  return op('AveragePool', [x], { kernel_shape: attr.ints(kernel), count_include_pad: attr.int(1), ...convAttrs(o, kernel.length) });
}

/** ONNX Resize to `sizes` (or by `scales`): the modes torch.onnx.export writes for F.interpolate. */
export function resize(x: Value, o: { sizes?: number[]; scales?: number[]; mode: 'nearest' | 'linear'; ctm: string; nearest?: string }): Value {
  const g = graphOf([x]);
  const ins: (Value | null)[] = [x, null, o.scales ? g.constant(tensor('float32', [o.scales.length], o.scales), 'scales') : null];
  if (o.sizes) ins.push(g.constant(tensor('int64', [o.sizes.length], o.sizes), 'sizes'));
  return op('Resize', ins, { mode: attr.string(o.mode), coordinate_transformation_mode: attr.string(o.ctm), nearest_mode: attr.string(o.nearest ?? 'floor') });
}

/** Nearest-neighbour upsampling by integer factors per axis (PyTorch's F.interpolate(mode='nearest')). */
export function upsampleNearest(x: Value, scales: number[]): Value {
  const g = graphOf([x]);
  const s = g.constant(tensor('float32', [scales.length], scales), 'scales');
  return op('Resize', [x, null, s], { mode: attr.string('nearest'), coordinate_transformation_mode: attr.string('asymmetric'), nearest_mode: attr.string('floor') });
}

// ---- normalization (ONNX's own ops, for imported models; our models compose theirs from primitives) ----
/** (x - mean) / sqrt(var + eps) * scale + b over axes axis..rank-1. */
export function layerNormalization(x: Value, scale: Value, b: Value | null, o: { axis?: number; epsilon?: number } = {}): Value {
  const attrs: Record<string, Attr> = { axis: attr.int(o.axis ?? -1), epsilon: attr.float(o.epsilon ?? 1e-5) };
  const types = schemas.LayerNormalization(inferInputs(x.graph, [x, scale, b]), attrs);
  return x.graph.addNode('LayerNormalization', b ? [x, scale, b] : [x, scale], types.slice(0, 1), attrs)[0];
}
/** Per sample and channel over the spatial axes, then scale and b per channel. */
export const instanceNormalization = (x: Value, scale: Value, b: Value, epsilon = 1e-5) => op('InstanceNormalization', [x, scale, b], { epsilon: attr.float(epsilon) });
/**
 * Inference mode: the given mean and variance. Training mode: the batch's (biased) statistics, and the new
 * running statistics as outputs 2 and 3 (running * momentum + batch * (1 - momentum), ONNX's convention).
 */
export function batchNormalization(x: Value, scale: Value, b: Value, mean: Value, variance: Value, o: { epsilon?: number; momentum?: number; training?: boolean } = {}): Value[] {
  const attrs: Record<string, Attr> = { epsilon: attr.float(o.epsilon ?? 1e-5), momentum: attr.float(o.momentum ?? 0.9) };
  if (o.training) attrs.training_mode = attr.int(1);
  return opN('BatchNormalization', [x, scale, b, mean, variance], attrs);
}

// ---- reductions ------------------------------------------------------------------------------------
/** Sum over `axes` (all axes when omitted). */
export function reduceSum(x: Value, axes?: number[], keepdims = false): Value {
  const g = graphOf([x]);
  const ins = axes && axes.length ? [x, ints(g, axes)] : [x];
  return op('ReduceSum', ins, { keepdims: attr.int(keepdims ? 1 : 0) });
}
export function reduceMean(x: Value, axes?: number[], keepdims = false): Value {
  const attrs: Record<string, Attr> = { keepdims: attr.int(keepdims ? 1 : 0) };
  if (axes && axes.length) attrs.axes = attr.ints(axes);
  return op('ReduceMean', [x], attrs);
}
/** Max over `axes` (maxout's pieces; a softmax's shift, under stopGradient). */
export function reduceMax(x: Value, axes: number[], keepdims = false): Value {
  return op('ReduceMax', [x], { axes: attr.ints(axes), keepdims: attr.int(keepdims ? 1 : 0) });
}
export const mean = (x: Value) => reduceMean(x);
export type Reduction = 'ReduceMin' | 'ReduceProd' | 'ReduceL1' | 'ReduceL2' | 'ReduceSumSquare' | 'ReduceLogSum' | 'ReduceLogSumExp';
/** One of ONNX's other reductions over `axes` (all axes when omitted). */
export function reduce(kind: Reduction, x: Value, axes?: number[], keepdims = false): Value {
  const attrs: Record<string, Attr> = { keepdims: attr.int(keepdims ? 1 : 0) };
  if (axes && axes.length) attrs.axes = attr.ints(axes);
  return op(kind, [x], attrs);
}

// ---- shape -----------------------------------------------------------------------------------------
export const reshape = (x: Value, shape: number[] | Value) => op('Reshape', [x, Array.isArray(shape) ? ints(graphOf([x]), shape) : shape]);
export const flatten = (x: Value, axis = 1) => op('Flatten', [x], { axis: attr.int(axis) });
export const transpose = (x: Value, perm?: number[]) => op('Transpose', [x], perm ? { perm: attr.ints(perm) } : {});
export const concat = (xs: Value[], axis: number) => op('Concat', xs, { axis: attr.int(axis) });
export function slice(x: Value, starts: number[], ends: number[], axes?: number[], steps?: number[]): Value {
  const g = graphOf([x]);
  const ins: (Value | null)[] = [x, ints(g, starts), ints(g, ends)];
  if (axes || steps) ins.push(ints(g, axes ?? starts.map((_, i) => i)));
  if (steps) ins.push(ints(g, steps));
  return op('Slice', ins);
}
/** Split along `axis` into pieces of the given sizes (one node, many outputs). */
export function split(x: Value, sizes: number[], axis = 0): Value[] {
  return opN('Split', [x, ints(graphOf([x]), sizes)], { axis: attr.int(axis) });
}
export function pad(x: Value, pads: number[]): Value {
  return op('Pad', [x, ints(graphOf([x]), pads)]);
}
export const gather = (x: Value, indices: Value, axis = 0) => op('Gather', [x, indices], { axis: attr.int(axis) });
export const gatherND = (x: Value, indices: Value) => op('GatherND', [x, indices]);
export const scatterNDAdd = (x: Value, indices: Value, updates: Value) => op('ScatterND', [x, indices, updates], { reduction: attr.string('add') });
export const squeeze = (x: Value, axes?: number[]) => op('Squeeze', axes ? [x, ints(graphOf([x]), axes)] : [x]);
export const unsqueeze = (x: Value, axes: number[]) => op('Unsqueeze', [x, ints(graphOf([x]), axes)]);
export const expand = (x: Value, shape: number[] | Value) => op('Expand', [x, Array.isArray(shape) ? ints(graphOf([x]), shape) : shape]);
export const shapeOf = (x: Value) => op('Shape', [x]);

const isStatic = (v: Value) => !!v.shape && v.shape.every((d) => typeof d === 'number');

/** x broadcast to the shape of `like`; the result keeps like's static or symbolic shape. */
export function expandAs(x: Value, like: Value): Value {
  if (isStatic(like)) return expand(x, like.shape as number[]);
  const g = graphOf([x, like]);
  return g.addNode('Expand', [x, shapeOf(like)], [{ dtype: x.dtype, shape: broadcastShapes(x.shape, like.shape) }])[0];
}

/** x reshaped to the shape of `like` (same element count); the result keeps like's shape. */
export function reshapeAs(x: Value, like: Value): Value {
  if (isStatic(like)) return reshape(x, like.shape as number[]);
  const g = graphOf([x, like]);
  return g.addNode('Reshape', [x, shapeOf(like)], [{ dtype: x.dtype, shape: like.shape }])[0];
}
export function zerosLike(x: Value): Value {
  const g = graphOf([x]);
  const s = x.shape && x.shape.every((d) => typeof d === 'number') ? ints(g, x.shape as number[]) : shapeOf(x);
  return op('ConstantOfShape', [s], { value: attr.tensor(tensor(x.dtype, [1], [0])) });
}

/** Identity whose gradient is zero: what flows through it is treated as a constant by grad(). */
export function stopGradient(x: Value): Value {
  const y = identity(x);
  y.graph.noGrad.add(y);
  return y;
}

/** Rows of the identity [classes, classes] picked by integer labels [N]: one-hot [N, classes]. */
export function oneHot(labels: Value, classes: number, dtype: DType = 'float32'): Value {
  const eye = new Float32Array(classes * classes).map((_, i) => (i % (classes + 1) === 0 ? 1 : 0));
  return gather(labels.graph.constant({ dtype, dims: [classes, classes], data: dtype === 'float64' ? Float64Array.from(eye) : eye }, 'eye'), labels);
}

// ---- data movement and pooling, as exporters write them ---------------------------------------------
/** x repeated `repeats[i]` times along each axis (torch's x.repeat). */
export const tile = (x: Value, repeats: number[]) => op('Tile', [x, ints(x.graph, repeats)]);
/** [N, C, H, W] -> [N, C / b^2, H b, W b]; DCR is ONNX's default, CRD is PixelShuffle's order. */
export const depthToSpace = (x: Value, blocksize: number, mode: 'DCR' | 'CRD' = 'DCR') => op('DepthToSpace', [x], { blocksize: attr.int(blocksize), mode: attr.string(mode) });
/** [N, C, H, W] -> [N, C b^2, H / b, W / b] (PixelUnshuffle's inverse order is DepthToSpace CRD's). */
export const spaceToDepth = (x: Value, blocksize: number) => op('SpaceToDepth', [x], { blocksize: attr.int(blocksize) });
export const globalAveragePool = (x: Value) => op('GlobalAveragePool', [x]);
export const globalMaxPool = (x: Value) => op('GlobalMaxPool', [x]);
export const cumSum = (x: Value, axis: number, o: { exclusive?: boolean; reverse?: boolean } = {}) =>
  op('CumSum', [x, ints(x.graph, [axis])], { exclusive: attr.int(o.exclusive ? 1 : 0), reverse: attr.int(o.reverse ? 1 : 0) });
/** The upper (or lower) triangle of the last two axes, from diagonal k. */
export const trilu = (x: Value, k = 0, upper = true) => op('Trilu', [x, x.graph.constant(tensor('int64', [], [k]), 'k')], { upper: attr.int(upper ? 1 : 0) });
export const shrink = (x: Value, lambd = 0.5, bias = 0) => op('Shrink', [x], { lambd: attr.float(lambd), bias: attr.float(bias) });
export const castLike = (x: Value, like: Value) => op('CastLike', [x, like]);
/** Floating remainder with the dividend's sign (C's fmod, torch.fmod). */
export const fmod = (a: Value, b: Value) => op('Mod', [a, b], { fmod: attr.int(1) });
export const gatherElements = (x: Value, indices: Value, axis = 0) => op('GatherElements', [x, indices], { axis: attr.int(axis) });
export const scatterElements = (x: Value, indices: Value, updates: Value, axis = 0, reduction: 'none' | 'add' = 'none') =>
  op('ScatterElements', [x, indices, updates], { axis: attr.int(axis), ...(reduction === 'none' ? {} : { reduction: attr.string(reduction) }) });
export function maxPool(x: Value, kernel: number[], o: { strides?: number[]; pads?: number[]; dilations?: number[] } = {}): Value {
  const attrs: Record<string, Attr> = { kernel_shape: attr.ints(kernel) };
  if (o.strides) attrs.strides = attr.ints(o.strides);
  if (o.pads) attrs.pads = attr.ints(o.pads);
  if (o.dilations) attrs.dilations = attr.ints(o.dilations);
  return op('MaxPool', [x], attrs);
}
export const einsum = (equation: string, xs: Value[]) => op('Einsum', xs, { equation: attr.string(equation) });
/** x divided by its L1 or L2 norm along `axis`. */
export const lpNormalization = (x: Value, axis = -1, p: 1 | 2 = 2) => op('LpNormalization', [x], { axis: attr.int(axis), p: attr.int(p) });
/** (x - mean) / std over `axes` (default [0, 2, 3]: per channel of an NCHW batch). */
export const meanVarianceNormalization = (x: Value, axes = [0, 2, 3]) => op('MeanVarianceNormalization', [x], { axes: attr.ints(axes) });
/** The k largest (or smallest) values along `axis` and their indices. */
export const topK = (x: Value, k: number, axis = -1, largest = true) => opN('TopK', [x, ints(x.graph, [k])], { axis: attr.int(axis), largest: attr.int(largest ? 1 : 0) });
/** x sampled at grid's (x, y) positions in [-1, 1] (torch's F.grid_sample; zeros outside). */
export const gridSample = (x: Value, grid: Value, o: { mode?: 'bilinear' | 'nearest'; alignCorners?: boolean } = {}) =>
  op('GridSample', [x, grid], { mode: attr.string(o.mode ?? 'bilinear'), padding_mode: attr.string('zeros'), align_corners: attr.int(o.alignCorners ? 1 : 0) });
/** The p-norm of each channel over every spatial position: [N, C, 1, 1]. */
export const globalLpPool = (x: Value, p = 2) => op('GlobalLpPool', [x], { p: attr.int(p) });
/** Each batch entry's first lens[b] steps along the time axis reversed, the rest kept (RNN exports). */
export const reverseSequence = (x: Value, lens: number[], o: { batchAxis?: number; timeAxis?: number } = {}) =>
  op('ReverseSequence', [x, ints(x.graph, lens)], { batch_axis: attr.int(o.batchAxis ?? 1), time_axis: attr.int(o.timeAxis ?? 0) });
/** Local response normalization across channels (AlexNet): x / (bias + alpha / size sum of squares)^beta. */
export const lrn = (x: Value, size: number, o: { alpha?: number; beta?: number; bias?: number } = {}) =>
  op('LRN', [x], { size: attr.int(size), alpha: attr.float(o.alpha ?? 1e-4), beta: attr.float(o.beta ?? 0.75), bias: attr.float(o.bias ?? 1) });
/** The slices of x along `axis` where `condition` is true (flattened x when no axis). */
export const compress = (x: Value, condition: Value, axis?: number) => op('Compress', [x, condition], axis === undefined ? {} : { axis: attr.int(axis) });
export const nllLoss = (x: Value, target: Value, o: { weight?: Value; reduction?: 'mean' | 'sum' | 'none' } = {}) =>
  op('NegativeLogLikelihoodLoss', o.weight ? [x, target, o.weight] : [x, target], { reduction: attr.string(o.reduction ?? 'mean') });
export const softmaxCrossEntropyLoss = (x: Value, labels: Value, o: { weight?: Value; reduction?: 'mean' | 'sum' | 'none' } = {}) =>
  op('SoftmaxCrossEntropyLoss', o.weight ? [x, labels, o.weight] : [x, labels], { reduction: attr.string(o.reduction ?? 'mean') });
/** The determinant of each square matrix in x's last two axes. */
export const det = (x: Value) => op('Det', [x]);
/**
 * The discrete Fourier transform along `axis` of x [..., n, 1 | 2] (real, or complex as (re, im) pairs):
 * [..., n, 2], or n / 2 + 1 bins of a real signal with `onesided`; `inverse` divides by n (opset 17).
 */
export const dft = (x: Value, o: { axis?: number; inverse?: boolean; onesided?: boolean } = {}) =>
  op('DFT', [x], { axis: attr.int(o.axis ?? 1), inverse: attr.int(o.inverse ? 1 : 0), onesided: attr.int(o.onesided ? 1 : 0) });
/**
 * The short-time Fourier transform of signals [batch, length, 1 | 2]: frames of `frameLength` every
 * `step` samples, each times `window`, transformed: [batch, frames, bins, 2].
 */
export const stft = (x: Value, step: number, o: { window?: Value; frameLength?: number; onesided?: boolean } = {}) =>
  op('STFT', [x, x.graph.constant(tensor('int64', [], [step]), 'frame_step'), o.window ?? null, o.frameLength === undefined ? null : x.graph.constant(tensor('int64', [], [o.frameLength]), 'frame_length')], { onesided: attr.int(o.onesided === false ? 0 : 1) });
/** MaxPool's inverse: x's values put at `indices` (flat over the whole output) of a zero tensor. */
export const maxUnpool = (x: Value, indices: Value, kernel: number[], o: { strides?: number[]; pads?: number[] } = {}) =>
  op('MaxUnpool', [x, indices], { kernel_shape: attr.ints(kernel), ...(o.strides ? { strides: attr.ints(o.strides) } : {}), ...(o.pads ? { pads: attr.ints(o.pads) } : {}) });
