// Every gradient rule, first and second order, against PyTorch autograd (committed fixtures) and against
// central finite differences, in float64 on onnxruntime's CPU kernels.
import { expect } from 'chai';
import { grad } from '../../graph/autodiff.ts';
import { rules } from '../../graph/gradients.ts';
import { Graph, tensor, type DType, type Value } from '../../graph/ir.ts';
import * as o from '../../graph/ops.ts';
import { layerNorm } from '../../models/layers.ts';
import { linearMaxout } from '../../models/maxout.ts';
import { arr, expectClose, fixture, session, type Builder } from '../helpers.ts';

interface Case {
  name: string;
  inputs: { shape: number[]; data: number[] }[];
  W: { shape: number[]; data: number[] };
  V: number[][];
  y: number[];
  L: number;
  grad: number[][];
  L2: number;
  grad2: number[][];
}

const cond = (g: Graph) => g.constant(tensor('bool', [2, 3], [1, 0, 1, 0, 0, 1]));
const idx = (g: Graph, xs: number[]) => g.constant(tensor('int64', [xs.length], xs));

/** make_torch_fixtures.py's _T and _W: the class targets and weights of the loss-op cases. */
const targets = (x: Value) => x.graph.constant(tensor('int64', [4], [2, 0, 1, 2]));
const classWeights = (x: Value) => x.graph.constant(tensor(x.dtype, [3], [0.5, 2, 1.5]));

/** make_torch_fixtures.py's _grid_of: sample points at pixel k + frac, k fixed per point, as a grid in [-1, 1]. */
function gridOf(frac: Value, w: number, h: number, align: boolean): Value {
  const [n, ho, wo] = frac.shape as number[];
  const j = Array.from({ length: n * ho * wo }, (_, i) => i);
  const k = (mult: number, size: number) => frac.graph.constant(tensor(frac.dtype, [n, ho, wo, 1], j.map((i) => ((i * mult) % (size + 1)) - 1)));
  const at = (c: number, mult: number, size: number) => o.add(k(mult, size), o.slice(frac, [c], [c + 1], [3]));
  const norm = (i: Value, size: number) => (align ? o.sub(o.mul(i, 2 / (size - 1)), 1) : o.sub(o.div(o.add(o.mul(i, 2), 1), size), 1));
  return o.concat([norm(at(0, 3, w), w), norm(at(1, 5, h), h)], 3);
}

export const builders: Record<string, Builder> = {
  add_bcast: (a, b) => o.add(a, b),
  sub_bcast: (a, b) => o.sub(a, b),
  mul_bcast: (a, b) => o.mul(a, b),
  div: (a, b) => o.div(a, b),
  neg: (a) => o.neg(a),
  pow_const: (a) => o.pow(a, 2.5),
  pow_both: (a, b) => o.pow(a, b),
  sqrt: (a) => o.sqrt(a),
  exp: (a) => o.exp(a),
  log: (a) => o.log(a),
  reciprocal: (a) => o.reciprocal(a),
  abs: (a) => o.abs(a),
  relu: (a) => o.relu(a),
  leaky_relu: (a) => o.leakyRelu(a, 0.2),
  sigmoid: (a) => o.sigmoid(a),
  tanh: (a) => o.tanh(a),
  softplus: (a) => o.softplus(a),
  min: (a, b) => o.min(a, b),
  max_bcast: (a, b) => o.max(a, b),
  clip: (a) => o.clip(a, -0.6, 0.8),
  where: (a, b) => o.where(cond(a.graph), a, b),
  matmul: (a, b) => o.matmul(a, b),
  matmul_batched: (a, b) => o.matmul(a, b),
  gemm_transB: (a, b, c) => o.gemm(a, b, c, { alpha: 0.7, beta: 1.3, transB: true }),
  gemm_transA: (a, b, c) => o.gemm(a, b, c, { transA: true }),
  gemm_transAB: (a, b) => o.gemm(a, b, null, { transA: true, transB: true }),
  reduce_sum_axis: (a) => o.reduceSum(a, [1]),
  reduce_sum_all: (a) => o.reduceSum(a),
  reduce_mean_keep: (a) => o.reduceMean(a, [0], true),
  reduce_mean_all: (a) => o.reduceMean(a),
  reshape: (a) => o.reshape(a, [3, 2]),
  flatten: (a) => o.flatten(a, 1),
  transpose: (a) => o.transpose(a, [2, 0, 1]),
  concat: (a, b) => o.concat([a, b], 1),
  slice: (a) => o.slice(a, [1, 0], [3, 4], [0, 1]),
  gather: (a) => o.gather(a, idx(a.graph, [2, 0, 2])),
  squeeze: (a) => o.squeeze(a, [1]),
  unsqueeze: (a) => o.unsqueeze(a, [0, 2]),
  expand: (a) => o.expand(a, [2, 3, 4]),
  identity: (a) => o.identity(a),
  cast_roundtrip: (a) => o.cast(o.cast(a, 'float32'), 'float64'),
  sum3: (a, b, c) => o.sum(a, b, c),
  reuse: (a) => o.add(o.mul(o.tanh(a), a), o.sigmoid(o.mul(a, a))),
  mlp_chain: (x, w, b) => o.reduceMean(o.softplus(o.leakyRelu(o.gemm(x, w, b, { transB: true }), 0.2)), [1]),
  // test/fixtures/conv_ops.json
  conv_basic: (x, w, b) => o.conv(x, w, b, { pads: [1, 1, 1, 1] }),
  conv_stride_pad_dilation: (x, w) => o.conv(x, w, null, { strides: [2, 3], pads: [1, 0, 2, 1], dilations: [2, 1] }),
  conv_dcgan_down: (x, w, b) => o.conv(x, w, b, { strides: [2, 2], pads: [1, 1, 1, 1] }),
  conv_transpose_dcgan_up: (x, w, b) => o.convTranspose(x, w, b, { strides: [2, 2], pads: [1, 1, 1, 1] }),
  conv_transpose_outpad_dilation: (x, w) => o.convTranspose(x, w, null, { strides: [3, 2], pads: [1, 0, 1, 0], outputPadding: [1, 1], dilations: [1, 2] }),
  conv_transpose_from_1x1: (x, w) => o.convTranspose(x, w),
  avg_pool: (x) => o.averagePool(x, [2, 2], { strides: [2, 2] }),
  avg_pool_pad: (x) => o.averagePool(x, [3, 3], { strides: [2, 2], pads: [1, 1, 1, 1] }),
  // test/fixtures/resize_ops.json
  upsample_nearest: (x) => o.upsampleNearest(x, [1, 1, 2, 3]),
  upsample_conv: (x, w) => o.conv(o.upsampleNearest(x, [1, 1, 2, 2]), w, null, { pads: [1, 1, 1, 1] }),
  // test/fixtures/import_ops.json: what torch.onnx.export writes for these layers
  erf: (x) => o.erf(x),
  gelu_exact: (x) => o.mul(o.mul(x, 0.5), o.add(o.erf(o.div(x, Math.SQRT2)), 1)),
  gelu_tanh: (x) => o.mul(o.mul(x, 0.5), o.add(o.tanh(o.mul(o.add(x, o.mul(o.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI))), 1)),
  silu: (x) => o.mul(x, o.sigmoid(x)),
  mish: (x) => o.mul(x, o.tanh(o.softplus(x))),
  softmax: (x) => o.softmax(x, 1),
  log_softmax: (x) => o.logSoftmax(x, 0),
  bilinear_half_pixel: (x) => o.resize(x, { scales: [1, 1, 2, 2], mode: 'linear', ctm: 'pytorch_half_pixel' }),
  bilinear_align_corners: (x) => o.resize(x, { sizes: [1, 2, 5, 7], mode: 'linear', ctm: 'align_corners' }),
  bilinear_down_fraction: (x) => o.resize(x, { sizes: [1, 1, 3, 4], mode: 'linear', ctm: 'pytorch_half_pixel' }),
  nearest_fraction: (x) => o.resize(x, { sizes: [2, 1, 5, 7], mode: 'nearest', ctm: 'asymmetric', nearest: 'floor' }),
  // test/fixtures/norm_ops.json: ONNX's own normalization ops
  layer_norm_op: (x, s, b) => o.layerNormalization(x, s, b),
  layer_norm_op_axis1_nobias: (x, s) => o.layerNormalization(x, s, null, { axis: 1 }),
  instance_norm_op: (x, s, b) => o.instanceNormalization(x, s, b),
  batch_norm_train_op: (x, s, b) => {
    const c = (v: number) => x.graph.constant(tensor(x.dtype, [3], [v, v, v]));
    return o.batchNormalization(x, s, b, c(0), c(1), { training: true })[0];
  },
  batch_norm_eval_op: (x, s, b, m, v) => o.batchNormalization(x, s, b, m, v)[0],
  // test/fixtures/formulation_ops.json: the gradient formulations chosen by shape
  slice_steps: (a) => o.slice(a, [-1, 1], [-5, 7], [0, 1], [-1, 2]),
  conv_wide: (x, w, b) => o.conv(x, w, b, { pads: [1, 1, 1, 1] }),
  conv_wide_large: (x, w) => o.conv(x, o.mul(w, 0.1), null, { pads: [1, 1, 1, 1] }),
  conv_wide_stride: (x, w) => o.conv(x, w, null, { strides: [2, 2], pads: [1, 1, 1, 1] }),
  conv_wide_1x1: (x, w) => o.conv(x, w),
  conv_transpose_wide: (x, w) => o.convTranspose(x, w, null, { strides: [2, 2], pads: [1, 1, 1, 1] }),
  avg_pool_tiles: (x) => o.averagePool(x, [2, 2], { strides: [2, 2] }),
  linear_maxout: (x, w, b) => linearMaxout(x, { name: 'm', input: 4, output: 2, pieces: 3 }, { 'm.weight': w, 'm.bias': b }),
  conv_block: (x, w, b) => layerNorm(o.leakyRelu(o.conv(x, w, b, { strides: [2, 2], pads: [1, 1, 1, 1] }), 0.2)),
  // test/fixtures/opset_ops.json: issue 27's first batch
  elu: (x) => o.elu(x, 0.7),
  selu: (x) => o.selu(x),
  celu: (x) => o.celu(x, 1.3),
  hard_sigmoid: (x) => o.hardSigmoid(x, 1 / 6, 0.5),
  hard_swish: (x) => o.hardSwish(x),
  softsign: (x) => o.softsign(x),
  thresholded_relu: (x) => o.thresholdedRelu(x, 1),
  prelu: (x, w) => o.prelu(x, o.reshape(w, [3, 1, 1])),
  sin: (x) => o.sin(x),
  cos: (x) => o.cos(x),
  tan: (x) => o.tan(x),
  asin: (x) => o.asin(x),
  acos: (x) => o.acos(x),
  atan: (x) => o.atan(x),
  sinh: (x) => o.sinh(x),
  cosh: (x) => o.cosh(x),
  asinh: (x) => o.asinh(x),
  acosh: (x) => o.acosh(x),
  atanh: (x) => o.atanh(x),
  mean3: (a, b, c) => o.meanOf(a, b, c),
  tile: (x) => o.tile(x, [2, 3]),
  depth_to_space_dcr: (x) => o.depthToSpace(x, 2),
  pixel_shuffle_crd: (x) => o.depthToSpace(x, 2, 'CRD'),
  space_to_depth: (x) => o.spaceToDepth(x, 2),
  global_avg_pool: (x) => o.globalAveragePool(x),
  global_max_pool: (x) => o.globalMaxPool(x),
  matmul_vec_mat: (a, b) => o.matmul(a, b),
  matmul_mat_vec: (a, b) => o.matmul(a, b),
  matmul_vec_vec: (a, b) => o.matmul(a, b),
  split_both: (x) => {
    const [a, b] = o.split(x, [1, 2], 1);
    return o.concat([o.mul(b, 3), o.mul(a, 2)], 1);
  },
  split_second_only: (x) => o.mul(o.split(x, [1, 2], 1)[1], 3),
  // test/fixtures/opset_ops2.json: the second batch
  reduce_min: (x) => o.reduce('ReduceMin', x, [1]),
  reduce_prod: (x) => o.reduce('ReduceProd', x, [1], true),
  reduce_l1: (x) => o.reduce('ReduceL1', x, [0, 2]),
  reduce_l2: (x) => o.reduce('ReduceL2', x, [1]),
  reduce_sum_square: (x) => o.reduce('ReduceSumSquare', x, [0]),
  reduce_log_sum: (x) => o.reduce('ReduceLogSum', x, [1]),
  reduce_log_sum_exp: (x) => o.reduce('ReduceLogSumExp', x, [1], true),
  cumsum: (x) => o.cumSum(x, 1),
  cumsum_exclusive_reverse: (x) => o.cumSum(x, 1, { exclusive: true, reverse: true }),
  trilu_upper: (x) => o.trilu(x, 1, true),
  trilu_lower: (x) => o.trilu(x, -1, false),
  shrink: (x) => o.shrink(x, 0.5, 0.5),
  cast_like: (x) => o.mul(o.castLike(x, x.graph.constant(tensor(x.dtype, [], [0]))), 2),
  fmod: (a, b) => o.fmod(a, b),
  gather_elements: (x) => o.gatherElements(x, x.graph.constant(tensor('int64', [2, 4], [0, 2, 1, 0, 2, 2, 0, 1]))),
  scatter_elements_add: (x, u) => o.scatterElements(x, x.graph.constant(tensor('int64', [2, 4], [0, 2, 1, 0, 2, 2, 0, 1])), u, 0, 'add'),
  scatter_elements_none: (x, u) => o.scatterElements(x, x.graph.constant(tensor('int64', [2, 4], [0, 2, 1, 0, 2, 1, 0, 1])), u, 0),
  max_pool_3x3_s2_p1: (x) => o.maxPool(x, [3, 3], { strides: [2, 2], pads: [1, 1, 1, 1] }),
  max_pool_2x2: (x) => o.maxPool(x, [2, 2], { strides: [2, 2] }),
  max_pool_dilated: (x) => o.maxPool(x, [2, 2], { dilations: [2, 2] }),
  einsum_matmul: (a, b) => o.einsum('ij,jk->ik', [a, b]),
  einsum_attention: (q, k) => o.einsum('bqd,bkd->bqk', [q, k]),
  einsum_three: (a, b, c) => o.einsum('ij,jk,kl->il', [a, b, c]),
  einsum_outer: (a, b) => o.einsum('i,j->ij', [a, b]),
  einsum_sum_out: (a) => o.einsum('ijk->ik', [a]),
  einsum_implicit: (a, b) => o.einsum('ij,jk', [a, b]),
  lp_normalization_l2: (x) => o.lpNormalization(x, 1, 2),
  lp_normalization_l1: (x) => o.lpNormalization(x, 0, 1),
  mean_variance_normalization: (x) => o.meanVarianceNormalization(x),
  topk: (x) => o.topK(x, 2, 1)[0],
  grid_sample_bilinear: (x, f) => o.gridSample(x, gridOf(f, 5, 4, false)),
  grid_sample_bilinear_align: (x, f) => o.gridSample(x, gridOf(f, 5, 4, true), { alignCorners: true }),
  global_lp_pool: (x) => o.globalLpPool(x, 2),
  reverse_sequence: (x) => o.reverseSequence(x, [4, 1, 3]),
  lrn: (x) => o.lrn(x, 3, { alpha: 0.5, beta: 0.75, bias: 1.5 }),
  compress_axis: (x) => o.compress(x, x.graph.constant(tensor('bool', [4], [1, 0, 1, 1])), 1),
  compress_flat: (x) => o.compress(x, x.graph.constant(tensor('bool', [6], [0, 1, 0, 0, 1, 1]))),
  nll_mean: (x) => o.nllLoss(x, targets(x)),
  nll_weighted_mean: (x) => o.nllLoss(x, targets(x), { weight: classWeights(x) }),
  nll_none: (x) => o.nllLoss(x, targets(x), { reduction: 'none' }),
  softmax_cross_entropy: (x) => o.softmaxCrossEntropyLoss(x, targets(x)),
  softmax_cross_entropy_weighted_sum: (x) => o.softmaxCrossEntropyLoss(x, targets(x), { weight: classWeights(x), reduction: 'sum' }),
  grid_sample_nearest: (x, f) => o.gridSample(x, gridOf(f, 5, 4, false), { mode: 'nearest' }),
  // test/fixtures/opset_ops3.json: Det, DFT, STFT, MaxUnpool
  det_2x2: (x) => o.det(x),
  det_3x3: (x) => o.det(x),
  det_4x4: (x) => o.det(x),
  dft_complex: (x) => o.dft(x),
  dft_real: (x) => o.dft(x),
  dft_onesided: (x) => o.dft(x, { onesided: true }),
  dft_onesided_odd: (x) => o.dft(x, { onesided: true }),
  dft_inverse: (x) => o.dft(x, { inverse: true }),
  dft_axis2: (x) => o.dft(x, { axis: 2 }),
  stft_window: (x, w) => o.stft(x, 2, { window: w }),
  stft_rect_twosided: (x) => o.stft(x, 3, { frameLength: 5, onesided: false }),
  max_unpool_2x2: (x) => o.maxUnpool(x, x.graph.constant(tensor('int64', [2, 2, 2, 3], unpoolIndex(2, 2, 2, 3))), [2, 2], { strides: [2, 2] }),
};

/** Where MaxUnpool puts each value: as make_torch_fixtures.py's _unpool_index (one place per 2x2 window, flat over the output). */
function unpoolIndex(n: number, c: number, h: number, w: number): number[] {
  const out: number[] = [];
  for (let a = 0; a < n; a++) for (let b = 0; b < c; b++) for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) out.push(((a * c + b) * 2 * h + 2 * i + ((i + j) % 2)) * 2 * w + 2 * j + ((i + 2 * j + b) % 2));
  return out;
}

/** Graph with inputs x_i, outputs y, L = <y, W>, dL/dx_i, L2 = sum_i <dL/dx_i, V_i>, dL2/dx_i. */
function caseGraph(c: Case, dt: DType) {
  const g = new Graph(c.name);
  const xs = c.inputs.map((x, i) => g.input(`x${i}`, dt, x.shape));
  const y = builders[c.name](...xs);
  const W = g.constant(tensor(dt, c.W.shape, c.W.data), 'W');
  const L = o.reduceSum(o.mul(y, W));
  const g1 = grad(L, xs);
  const L2 = o.sum(...g1.map((gi, i) => o.reduceSum(o.mul(gi, g.constant(tensor(dt, c.inputs[i].shape, c.V[i]), `V${i}`)))));
  const g2 = grad(L2, xs);
  g.output(y, 'y');
  g.output(L, 'L');
  g.output(L2, 'L2');
  g1.forEach((v, i) => g.output(v, `g${i}`));
  g2.forEach((v, i) => g.output(v, `gg${i}`));
  return g;
}

const cases = ['ops.json', 'conv_ops.json', 'norm_ops.json', 'resize_ops.json', 'import_ops.json', 'formulation_ops.json', 'opset_ops.json', 'opset_ops2.json', 'opset_ops3.json'].flatMap((f) => fixture<{ cases: Case[] }>(f).cases);
// onnxruntime has no float64 Softplus, Conv, ConvTranspose, AveragePool, InstanceNormalization, Resize, Det or MaxUnpool kernel, nor for most of
// the activations, inverse trigonometric and hyperbolic functions, Mean and the global pools (and its float64 Shrink
// rounds through float32): those cases run in
// float32, with float32 tolerances.
const FLOAT32_ONLY = new Set(['max_unpool_2x2', 'det_2x2', 'det_3x3', 'det_4x4', 'lrn', 'global_lp_pool', 'grid_sample_bilinear', 'grid_sample_bilinear_align', 'grid_sample_nearest', 'mean_variance_normalization', 'shrink', 'elu', 'selu', 'celu', 'hard_sigmoid', 'hard_swish', 'softsign', 'thresholded_relu', 'tan', 'asin', 'acos', 'atan', 'sinh', 'cosh', 'asinh', 'acosh', 'atanh', 'mean3', 'global_avg_pool', 'global_max_pool', 'softplus', 'mlp_chain', 'instance_norm_op', 'upsample_conv', 'upsample_nearest', 'erf', 'gelu_exact', 'mish', 'bilinear_half_pixel', 'bilinear_align_corners', 'bilinear_down_fraction', 'nearest_fraction', ...cases.filter((c) => /^(conv|avg_pool)/.test(c.name)).map((c) => c.name)]);
// ONNX float attributes (LeakyRelu alpha, Gemm alpha/beta) are float32, so 0.2 is 0.2 + 3e-9.
const FLOAT_ATTRS = new Set(['leaky_relu', 'gemm_transB', 'conv_block']);
// onnxruntime's float64 DFT of a length that is not a power of two agrees with torch to about 3e-8 (measured;
// lengths 4 and 8 to 1e-12): the gradient of a transform runs the inverse one.
const ROUGH_DFT = new Set(['dft_complex', 'dft_real', 'dft_onesided', 'dft_onesided_odd', 'stft_rect_twosided']);
const tol = (name: string) => (FLOAT32_ONLY.has(name) ? 2e-5 : name === 'cast_roundtrip' ? 1e-6 : FLOAT_ATTRS.has(name) || ROUGH_DFT.has(name) ? 1e-7 : 1e-9);

describe('autodiff: every rule against PyTorch and finite differences (float64 where onnxruntime has the kernels)', () => {
  it('has a fixture case for every builder and a rule for every differentiable op used', () => {
    expect(cases.map((c) => c.name).sort()).to.deep.equal(Object.keys(builders).sort());
    for (const op of ['Add', 'Sub', 'Mul', 'Div', 'Neg', 'Pow', 'Sqrt', 'Exp', 'Log', 'Abs', 'Relu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'Softplus', 'Min', 'Max', 'Clip', 'Where', 'MatMul', 'Gemm', 'ReduceSum', 'ReduceMean', 'Reshape', 'Flatten', 'Transpose', 'Concat', 'Slice', 'Gather', 'Squeeze', 'Unsqueeze', 'Expand', 'Identity', 'Cast', 'Conv', 'ConvTranspose', 'AveragePool', 'LayerNormalization', 'InstanceNormalization', 'BatchNormalization', 'Resize', 'ReduceMax'])
      expect(rules, op).to.have.property(op);
  });

  for (const c of cases) {
    it(`${c.name}: values, gradient and double backward match PyTorch and finite differences`, async () => {
      const dt: DType = FLOAT32_ONLY.has(c.name) ? 'float32' : 'float64';
      const s = await session(caseGraph(c, dt));
      const feeds = (data: number[][]) => Object.fromEntries(c.inputs.map((x, i) => [`x${i}`, tensor(dt, x.shape, data[i])]));
      const base = c.inputs.map((x) => x.data.slice());
      const r = await s.run(feeds(base));
      const t = tol(c.name);
      expectClose(arr(r.y), c.y, t, t, `${c.name} y`);
      expectClose(arr(r.L), [c.L], t, t, `${c.name} L`);
      expectClose(arr(r.L2), [c.L2], t, t, `${c.name} L2`);
      c.grad.forEach((gt, i) => expectClose(arr(r[`g${i}`]), gt, t, t, `${c.name} dL/dx${i} vs torch`));
      c.grad2.forEach((gt, i) => expectClose(arr(r[`gg${i}`]), gt, t, t, `${c.name} dL2/dx${i} vs torch`));

      // Central differences of L and L2 in every input element.
      const h = dt === 'float32' ? 1e-2 : 1e-6;
      for (let i = 0; i < base.length; i++) {
        const fd1: number[] = [];
        const fd2: number[] = [];
        for (let k = 0; k < base[i].length; k++) {
          const plus = base.map((b) => b.slice());
          const minus = base.map((b) => b.slice());
          plus[i][k] += h;
          minus[i][k] -= h;
          const [rp, rm] = [await s.run(feeds(plus), ['L', 'L2']), await s.run(feeds(minus), ['L', 'L2'])];
          fd1.push((arr(rp.L)[0] - arr(rm.L)[0]) / (2 * h));
          fd2.push((arr(rp.L2)[0] - arr(rm.L2)[0]) / (2 * h));
        }
        // float32 rounding dominates the differences where the graph computes in float32.
        const ft = c.name === 'cast_roundtrip' ? 1e-1 : dt === 'float32' ? 2e-3 : 1e-6;
        expectClose(arr(r[`g${i}`]), fd1, ft, ft, `${c.name} dL/dx${i} vs finite differences`);
        expectClose(arr(r[`gg${i}`]), fd2, ft, ft, `${c.name} dL2/dx${i} vs finite differences`);
      }
      await s.release();
    });
  }
});
