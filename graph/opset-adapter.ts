// Models of opsets 18 to 21 read into the opset-17 IR this project writes and trains: an op whose form
// changed is brought back to its opset-17 form (the reductions' axes from an input to an attribute, Split's
// num_outputs to sizes, Pad's axes to full pads, GridSample's new mode names, new attributes at their old
// defaults), and ops that came later are written in opset-17 ops (Mish, Gelu, GroupNormalization,
// CenterCropPad, AffineGrid, Col2Im, DeformConv), as are LpPool, RoiAlign and MaxRoiPool at any opset, so their gradients are their parts' rules. What
// cannot be brought back is refused, naming the op and the reason.
import { tensor, type Attr, type Graph, type Value } from './ir.ts';
import { abs, add, and, averagePool, cast, clip, concat, conv, convTranspose, div, erf, floor, gather, greaterOrEqual, gridSample, less, lessOrEqual, matmul, neg, op, unsqueeze, where, mul, pad, pow, reduceMean, reshape, slice, softplus, sqrt, sub, tanh, transpose } from './ops.ts';
import { attrFloat, attrInt, constInts } from './schemas.ts';

/** The newest opset a model may be written in. */
export const MAX_READ_OPSET = 21;

/**
 * Ops read as other opset-17 ops: ones that came after opset 17 (Col2Im: a ConvTranspose; DeformConv: a
 * GridSample and a 1x1 Conv), LpPool (a power of an average pool), and the box poolings (RoiAlign: a
 * GridSample and an average pool; MaxRoiPool: masked maxima).
 */
export const REWRITTEN_OPS = ['Mish', 'Gelu', 'GroupNormalization', 'CenterCropPad', 'AffineGrid', 'LpPool', 'Col2Im', 'DeformConv', 'RoiAlign', 'MaxRoiPool'];

const REDUCTIONS = ['ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceMax', 'ReduceMean', 'ReduceMin', 'ReduceProd', 'ReduceSumSquare'];

export type Adapted = { op: string; inputs: (Value | null)[]; attrs: Record<string, Attr> } | { outputs: Value[] };

const without = (attrs: Record<string, Attr>, ...names: string[]) => Object.fromEntries(Object.entries(attrs).filter(([k]) => !names.includes(k)));

/** One node of an opset-`opset` model in the form the opset-17 IR takes; `why` names the node for refusals. */
export function adaptNode(g: Graph, opset: number, op: string, inputs: (Value | null)[], attrs: Record<string, Attr>, why: string): Adapted {
  const refuse = (msg: string): never => {
    throw new Error(`${why}: ${msg} (opset ${opset} model)`);
  };
  const constant = (v: Value | null, what: string) => {
    const c = v ? g.constantOf(v) : null;
    return c ? (constInts(c) as number[]) : refuse(`${what} must be a constant`);
  };
  if (opset >= 18 && REDUCTIONS.includes(op) && inputs.length > 1) {
    // Axes as an input (18): as the attribute; no axes with noop_with_empty_axes is the identity.
    const axes = inputs[1] ? constant(inputs[1], `${op}'s axes`) : [];
    if (!axes.length && attrInt(attrs, 'noop_with_empty_axes', 0)) return { op: 'Identity', inputs: [inputs[0]], attrs: {} };
    return { op, inputs: [inputs[0]], attrs: { ...without(attrs, 'noop_with_empty_axes'), ...(axes.length ? { axes: { kind: 'ints', value: axes } } : {}) } };
  }
  if (opset >= 18 && op === 'Split' && attrs.num_outputs) {
    const n = attrInt(attrs, 'num_outputs', 1);
    const x = inputs[0]!;
    const axis = attrInt(attrs, 'axis', 0);
    const d = x.shape?.[axis < 0 ? axis + x.shape.length : axis];
    if (typeof d !== 'number') refuse('Split by num_outputs needs a static size along its axis');
    const each = Math.ceil((d as number) / n);
    const sizes = Array.from({ length: n }, (_, i) => Math.max(0, Math.min(each, (d as number) - i * each)));
    return { op, inputs: [x, g.constant(tensor('int64', [n], sizes), 'split')], attrs: without(attrs, 'num_outputs') };
  }
  if (opset >= 18 && op === 'Pad') {
    if (attrs.mode?.value === 'wrap') refuse("Pad mode 'wrap' is not supported");
    if (inputs[3]) {
      // Pads for some axes (18): spread to every axis.
      const axes = constant(inputs[3], "Pad's axes");
      const given = constant(inputs[1], "Pad's pads");
      const r = inputs[0]!.rank!;
      const full = new Array<number>(2 * r).fill(0);
      axes.forEach((a, i) => {
        const ax = a < 0 ? a + r : a;
        full[ax] = given[i];
        full[ax + r] = given[i + axes.length];
      });
      return { op, inputs: [inputs[0], g.constant(tensor('int64', [2 * r], full), 'pads'), inputs[2] ?? null], attrs };
    }
  }
  if (opset >= 18 && op === 'Resize') {
    if (attrInt(attrs, 'antialias', 0)) refuse('Resize with antialias is not supported');
    if ((attrs.keep_aspect_ratio_policy?.value ?? 'stretch') !== 'stretch') refuse(`Resize keep_aspect_ratio_policy '${attrs.keep_aspect_ratio_policy!.value}' is not supported`);
    if (attrs.axes) refuse('Resize with axes is not supported');
    return { op, inputs, attrs: without(attrs, 'antialias', 'keep_aspect_ratio_policy') };
  }
  if (opset >= 19 && op === 'AveragePool' && (attrs.dilations?.value as number[] | undefined)?.some((d) => d !== 1)) refuse('AveragePool with dilations is not supported');
  if (opset >= 19 && (op === 'Cast' || op === 'CastLike')) return { op, inputs, attrs: without(attrs, 'saturate') };
  if (opset >= 20 && op === 'GridSample') {
    const mode = (attrs.mode?.value as string | undefined) ?? 'linear';
    return { op, inputs, attrs: { ...attrs, mode: { kind: 'string', value: mode === 'linear' ? 'bilinear' : mode === 'cubic' ? 'bicubic' : mode } } };
  }
  if (op === 'Mish') return { outputs: [mul(inputs[0]!, tanh(softplus(inputs[0]!)))] };
  if (op === 'Gelu') {
    const x = inputs[0]!;
    const half = mul(x, 0.5);
    if ((attrs.approximate?.value ?? 'none') === 'tanh') return { outputs: [mul(half, add(tanh(mul(add(x, mul(pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI))), 1))] };
    return { outputs: [mul(half, add(erf(div(x, Math.SQRT2)), 1))] };
  }
  if (op === 'GroupNormalization') return { outputs: [groupNorm(inputs, attrs, opset, refuse)] };
  if (op === 'CenterCropPad') return { outputs: [centerCropPad(inputs, attrs, constant, refuse)] };
  if (op === 'AffineGrid') return { outputs: [affineGrid(g, inputs, attrs, constant, refuse)] };
  if (op === 'LpPool') return { outputs: [lpPool(inputs, attrs, refuse)] };
  if (op === 'Col2Im') return { outputs: [col2Im(g, inputs, attrs, constant, refuse)] };
  if (op === 'DeformConv') return { outputs: [deformConv(g, inputs, attrs, refuse)] };
  if (op === 'RoiAlign') return { outputs: [roiAlign(g, inputs, attrs, refuse)] };
  if (op === 'MaxRoiPool') return { outputs: [maxRoiPool(g, inputs, attrs, refuse)] };
  return { op, inputs, attrs };
}

/**
 * GroupNormalization: x [N, C, ...] normalized over each group of C / G channels and the spatial positions,
 * then scaled and shifted per group (opset 18) or per channel (opset 21).
 */
function groupNorm(inputs: (Value | null)[], attrs: Record<string, Attr>, opset: number, refuse: (m: string) => never): Value {
  const [x, scale, bias] = inputs as Value[];
  const G = attrInt(attrs, 'num_groups', 0);
  const eps = attrFloat(attrs, 'epsilon', 1e-5);
  const s = x.shape;
  if (!s || s.slice(1).some((d) => typeof d !== 'number')) refuse('GroupNormalization needs static channel and spatial dims');
  const C = s![1] as number;
  if (!G || C % G) refuse(`GroupNormalization: ${C} channels do not split into ${G} groups`);
  const rest = (s!.slice(2) as number[]).reduce((a, b) => a * b, 1);
  const grouped = reshape(x, [-1, G, (C / G) * rest]);
  const centered = sub(grouped, reduceMean(grouped, [2], true));
  const xhat = div(centered, sqrt(add(reduceMean(mul(centered, centered), [2], true), eps)));
  if (opset < 21) {
    const byGroup = (v: Value) => reshape(v, [1, G, 1]);
    return reshape(add(mul(xhat, byGroup(scale)), byGroup(bias)), [-1, ...(s!.slice(1) as number[])]);
  }
  const byChannel = (v: Value) => reshape(v, [1, C, ...new Array(s!.length - 2).fill(1)]);
  return add(mul(reshape(xhat, [-1, ...(s!.slice(1) as number[])]), byChannel(scale)), byChannel(bias));
}

/** CenterCropPad: each axis cut to its centre or padded with zeros on both sides (the extra cell at the end). */
function centerCropPad(inputs: (Value | null)[], attrs: Record<string, Attr>, constant: (v: Value | null, what: string) => number[], refuse: (m: string) => never): Value {
  const x = inputs[0]!;
  const r = x.rank!;
  const target = constant(inputs[1], "CenterCropPad's shape");
  const axes = ((attrs.axes?.value as number[] | undefined) ?? [...Array(r).keys()]).map((a) => (a < 0 ? a + r : a));
  let y = x;
  const pads = new Array<number>(2 * r).fill(0);
  axes.forEach((a, i) => {
    const d = x.shape?.[a];
    if (typeof d !== 'number') refuse('CenterCropPad needs static sizes on its axes');
    const t = target[i];
    if ((d as number) > t) {
      const start = Math.floor(((d as number) - t) / 2);
      y = slice(y, [start], [start + t], [a]);
    } else if ((d as number) < t) {
      pads[a] = Math.floor((t - (d as number)) / 2);
      pads[a + r] = t - (d as number) - pads[a];
    }
  });
  return pads.some((p) => p > 0) ? pad(y, pads) : y;
}

/** AffineGrid (2-D): the base grid of pixel centres (or corners) times each sample's theta, as a MatMul. */
function affineGrid(g: Graph, inputs: (Value | null)[], attrs: Record<string, Attr>, constant: (v: Value | null, what: string) => number[], refuse: (m: string) => never): Value {
  const [theta, sizeIn] = inputs as Value[];
  const size = constant(sizeIn, "AffineGrid's size");
  if (size.length !== 4) refuse('AffineGrid is supported for 2-D grids (size [N, C, H, W])');
  const [, , H, W] = size;
  const align = attrInt(attrs, 'align_corners', 0) === 1;
  const at = (i: number, n: number) => (align ? (n > 1 ? -1 + (2 * i) / (n - 1) : 0) : (2 * i + 1) / n - 1);
  const base: number[] = [];
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) base.push(at(x, W), at(y, H), 1);
  const grid = matmul(g.constant(tensor(theta.dtype, [H * W, 3], base), 'affine_base'), transpose(theta, [0, 2, 1]));
  return reshape(grid, [-1, H, W, 2]);
}

/** LpPool: (sum over the window of |x|^p)^(1/p), the sum as an average pool (pads counted) times the window's size. */
function lpPool(inputs: (Value | null)[], attrs: Record<string, Attr>, refuse: (m: string) => never): Value {
  const x = inputs[0]!;
  const k = attrs.kernel_shape?.value as number[] | undefined;
  if (!k) refuse('LpPool needs kernel_shape');
  if ((attrs.auto_pad?.value ?? 'NOTSET') !== 'NOTSET') refuse(`LpPool auto_pad '${attrs.auto_pad!.value}' is not supported`);
  if (attrInt(attrs, 'ceil_mode', 0)) refuse('LpPool with ceil_mode is not supported');
  if ((attrs.dilations?.value as number[] | undefined)?.some((d) => d !== 1)) refuse('LpPool with dilations is not supported');
  const p = attrInt(attrs, 'p', 2);
  const size = k!.reduce((a, b) => a * b, 1);
  const powered = p === 2 ? mul(x, x) : p === 1 ? abs(x) : pow(abs(x), p);
  const summed = mul(averagePool(powered, k!, { strides: attrs.strides?.value as number[] | undefined, pads: attrs.pads?.value as number[] | undefined }), size);
  return p === 1 ? summed : p === 2 ? sqrt(summed) : pow(summed, 1 / p);
}

/**
 * Col2Im (torch's F.fold): blocks [N, C * kh * kw, L] added back into [N, C, H, W] images. That is a
 * ConvTranspose of the blocks laid out on their [oh, ow] grid by a one-hot kernel (block entry c * kh * kw + k
 * to channel c at kernel place k), with the same strides, dilations and pads.
 */
function col2Im(g: Graph, inputs: (Value | null)[], attrs: Record<string, Attr>, constant: (v: Value | null, what: string) => number[], refuse: (m: string) => never): Value {
  const x = inputs[0]!;
  const image = constant(inputs[1], "Col2Im's image_shape");
  const block = constant(inputs[2], "Col2Im's block_shape");
  const r = image.length;
  if (block.length !== r) refuse(`Col2Im: image_shape has ${r} dims, block_shape ${block.length}`);
  const ones = new Array<number>(r).fill(1);
  const strides = (attrs.strides?.value as number[] | undefined) ?? ones;
  const dilations = (attrs.dilations?.value as number[] | undefined) ?? ones;
  const pads = (attrs.pads?.value as number[] | undefined) ?? new Array<number>(2 * r).fill(0);
  const K = block.reduce((a, b) => a * b, 1);
  const rows = x.shape?.[1];
  if (typeof rows !== 'number' || rows % K) refuse(`Col2Im needs a static input of C x ${K} rows, got ${x}`);
  const C = (rows as number) / K;
  const grid = image.map((d, i) => Math.floor((d + pads[i] + pads[i + r] - dilations[i] * (block[i] - 1) - 1) / strides[i]) + 1);
  if (typeof x.shape?.[2] === 'number' && x.shape[2] !== grid.reduce((a, b) => a * b, 1)) refuse(`Col2Im: ${x.shape[2]} blocks, the image and block shapes make ${grid.join('x')}`);
  const w = new Array<number>(C * K * C * K).fill(0);
  for (let c = 0; c < C; c++) for (let k = 0; k < K; k++) w[(c * K + k) * C * K + c * K + k] = 1;
  const kernel = g.constant(tensor(x.dtype, [C * K, C, ...block], w), 'col2im_kernel');
  const outputPadding = image.map((d, i) => d + pads[i] + pads[i + r] - ((grid[i] - 1) * strides[i] + dilations[i] * (block[i] - 1) + 1));
  return convTranspose(reshape(x, [-1, C * K, ...grid]), kernel, null, { strides, dilations, pads, outputPadding });
}

/**
 * DeformConv (19; torchvision's deform_conv2d): each kernel place k reads x at its usual position plus a
 * learned offset, bilinearly (zero outside), times a mask where given; then the weights contract channels and
 * places. Written as one GridSample at every (place, output position), in pixel coordinates with
 * align_corners, and a 1x1 Conv, so its gradients (offsets and mask too) are those ops' rules.
 */
function deformConv(g: Graph, inputs: (Value | null)[], attrs: Record<string, Attr>, refuse: (m: string) => never): Value {
  const [x, w, offset, bias, mask] = inputs;
  if (attrInt(attrs, 'group', 1) !== 1 || attrInt(attrs, 'offset_group', 1) !== 1) refuse('DeformConv is supported with group = 1 and offset_group = 1');
  const ws = w!.shape;
  const xs = x!.shape;
  const os = offset!.shape;
  if (!ws || ws.some((d) => typeof d !== 'number') || ws.length !== 4) refuse('DeformConv needs a static 2-D weight [M, C, kH, kW]');
  if (!xs || typeof xs[1] !== 'number' || typeof xs[2] !== 'number' || typeof xs[3] !== 'number') refuse('DeformConv needs static channels and image size');
  if (!os || typeof os[2] !== 'number' || typeof os[3] !== 'number') refuse('DeformConv needs a static output size (the offsets\' last two dims)');
  const [M, C, kH, kW] = ws as number[];
  const [H, W] = [xs![2] as number, xs![3] as number];
  const [oH, oW] = [os![2] as number, os![3] as number];
  if (H < 2 || W < 2) refuse('DeformConv needs images of at least 2 x 2');
  const K = kH * kW;
  const [sH, sW] = (attrs.strides?.value as number[] | undefined) ?? [1, 1];
  const [dH, dW] = (attrs.dilations?.value as number[] | undefined) ?? [1, 1];
  const [pT, pL] = (attrs.pads?.value as number[] | undefined) ?? [0, 0, 0, 0];
  // Each place's sampling position before its offset, already in grid units ([-1, 1] over pixel centres).
  const base = (size: number, at: (k: number, i: number) => number) => {
    const v: number[] = [];
    for (let k = 0; k < K; k++) for (let i = 0; i < oH; i++) for (let j = 0; j < oW; j++) v.push((2 * at(k, size === H ? i : j)) / (size - 1) - 1);
    return g.constant(tensor(x!.dtype, [1, K, oH, oW, 1], v), 'deform_base');
  };
  const by = base(H, (k, i) => i * sH - pT + Math.floor(k / kW) * dH);
  const bx = base(W, (k, j) => j * sW - pL + (k % kW) * dW);
  // offset [N, K * 2, oH, oW]: (dy, dx) per place, in pixels.
  const off = reshape(offset!, [-1, K, 2, oH, oW, 1]);
  const part = (i: number, size: number) => mul(reshape(slice(off, [i], [i + 1], [2]), [-1, K, oH, oW, 1]), 2 / (size - 1));
  const grid = concat([add(bx, part(1, W)), add(by, part(0, H))], 4);
  let sampled = reshape(gridSample(x!, reshape(grid, [-1, K * oH, oW, 2]), { alignCorners: true }), [-1, C, K, oH, oW]);
  if (mask) sampled = mul(sampled, unsqueeze(reshape(mask, [-1, K, oH, oW]), [1]));
  return conv(reshape(sampled, [-1, C * K, oH, oW]), reshape(w!, [M, C * K, 1, 1]), bias ?? null);
}

/** The image size a box pooling reads, static. */
function imageSize(x: Value, what: string, refuse: (m: string) => never): [number, number] {
  const s = x.shape;
  if (!s || s.length !== 4 || typeof s[2] !== 'number' || typeof s[3] !== 'number') refuse(`${what} needs [N, C, H, W] images of static size`);
  return [s![2] as number, s![3] as number];
}

/** A row vector [1, n] of numbers, in x's dtype. */
const row = (g: Graph, like: Value, v: number[]) => g.constant(tensor(like.dtype, [1, v.length], v), 'box_positions');

/**
 * RoiAlign (avg, a fixed sampling_ratio): each box's bins are the mean of sampling_ratio^2 bilinear samples,
 * clamped to the image's edge pixels within one pixel outside it and zero beyond (onnxruntime's and
 * torchvision's rule). Written as one GridSample per box at every sample point, then an average pool.
 */
function roiAlign(g: Graph, inputs: (Value | null)[], attrs: Record<string, Attr>, refuse: (m: string) => never): Value {
  const [x, rois, batch] = inputs as Value[];
  const [H, W] = imageSize(x, 'RoiAlign', refuse);
  if (H < 2 || W < 2) refuse('RoiAlign needs images of at least 2 x 2');
  if ((attrs.mode?.value ?? 'avg') !== 'avg') refuse("RoiAlign mode 'max' is not supported (onnxruntime's takes the largest weighted corner, not the largest sample)");
  const sr = attrInt(attrs, 'sampling_ratio', 0);
  if (sr < 1) refuse('RoiAlign with sampling_ratio 0 is not supported (the number of samples would depend on the boxes)');
  const [oh, ow] = [attrInt(attrs, 'output_height', 1), attrInt(attrs, 'output_width', 1)];
  const scale = attrFloat(attrs, 'spatial_scale', 1);
  const halfPixel = (attrs.coordinate_transformation_mode?.value ?? 'half_pixel') === 'half_pixel';
  const offset = halfPixel ? 0.5 : 0;
  const coord = (i: number) => sub(mul(slice(rois, [i], [i + 1], [1]), scale), offset); // [R, 1]
  const [x1, y1, x2, y2] = [0, 1, 2, 3].map(coord);
  const extent = (a: Value, b: Value) => (halfPixel ? sub(b, a) : op('Max', [sub(b, a), g.constant(tensor(x.dtype, [], [1]), 'one')]));
  // Sample positions in each box's bins: start + bin * (p + (i + 0.5) / sr), p the bin, i the sample.
  const at = (n: number) => Array.from({ length: n * sr }, (_, k) => Math.floor(k / sr) + ((k % sr) + 0.5) / sr);
  const ys = add(y1, mul(div(extent(y1, y2), oh), row(g, x, at(oh)))); // [R, oh * sr]
  const xs = add(x1, mul(div(extent(x1, x2), ow), row(g, x, at(ow)))); // [R, ow * sr]
  const inside = (v: Value, size: number) => cast(and(greaterOrEqual(v, -1), lessOrEqual(v, size)), x.dtype);
  const norm = (v: Value, size: number) => sub(mul(clip(v, 0, size - 1), 2 / (size - 1)), 1);
  const zeros = (n: number, shape: number[]) => g.constant(tensor(x.dtype, shape, new Array(n).fill(0)), 'zeros');
  // [R, oh sr, ow sr, 2] of (x, y) in [-1, 1] (align_corners: -1 and 1 are the edge pixels' centres).
  const gx = add(unsqueeze(norm(xs, W), [1]), zeros(oh * sr, [1, oh * sr, 1]));
  const gy = add(unsqueeze(norm(ys, H), [2]), zeros(ow * sr, [1, 1, ow * sr]));
  const grid = concat([unsqueeze(gx, [3]), unsqueeze(gy, [3])], 3);
  const valid = mul(unsqueeze(inside(ys, H), [1, 3]), unsqueeze(inside(xs, W), [1, 2])); // [R, 1, oh sr, ow sr]
  const samples = mul(gridSample(gather(x, cast(batch, 'int64'), 0), grid, { alignCorners: true }), valid);
  return averagePool(samples, [sr, sr], { strides: [sr, sr] });
}

/**
 * MaxRoiPool (Caffe's): each box, its corners rounded to pixels, cut into pooled_shape bins of whole pixels;
 * each bin's maximum, zero for an empty bin. Written as masked maxima over the columns, then over the rows.
 */
function maxRoiPool(g: Graph, inputs: (Value | null)[], attrs: Record<string, Attr>, refuse: (m: string) => never): Value {
  const [x, rois] = inputs as Value[];
  const [H, W] = imageSize(x, 'MaxRoiPool', refuse);
  const [ph, pw] = (attrs.pooled_shape?.value as number[] | undefined) ?? refuse('MaxRoiPool needs pooled_shape');
  const scale = attrFloat(attrs, 'spatial_scale', 1);
  const round = (v: Value) => floor(add(v, 0.5));
  const col = (i: number) => slice(rois, [i], [i + 1], [1]); // [R, 1]
  const batch = cast(reshape(col(0), [-1]), 'int64');
  // Bin p covers [floor(p * size / n), ceil((p + 1) * size / n)) + start, clamped to the image.
  const bins = (start: Value, end: Value, n: number, size: number) => {
    const s = round(mul(start, scale));
    const len = op('Max', [add(sub(round(mul(end, scale)), s), 1), g.constant(tensor(x.dtype, [], [1]), 'one')]);
    const step = div(len, n);
    const p = row(g, x, [...Array(n).keys()]);
    const lo = clip(add(floor(mul(step, p)), s), 0, size);
    const hi = clip(add(neg(floor(neg(mul(step, add(p, 1))))), s), 0, size);
    const pixels = g.constant(tensor(x.dtype, [1, 1, size], [...Array(size).keys()]), 'pixels');
    // [R, n, size]: pixel in bin; and [R, n]: the bin is empty.
    return { mask: and(greaterOrEqual(pixels, unsqueeze(lo, [2])), less(pixels, unsqueeze(hi, [2]))), empty: lessOrEqual(hi, lo) };
  };
  const rowsIn = bins(col(2), col(4), ph, H);
  const colsIn = bins(col(1), col(3), pw, W);
  const lowest = g.constant(tensor(x.dtype, [], [-Infinity]), 'lowest');
  const xr = gather(x, batch, 0); // [R, C, H, W]
  // Max over each bin's columns: [R, C, H, pw]; then over its rows: [R, C, ph, pw].
  const maxOver = (v: Value, axis: number) => op('ReduceMax', [v], { axes: { kind: 'ints', value: [axis] }, keepdims: { kind: 'int', value: 0 } });
  const byCols = maxOver(where(unsqueeze(colsIn.mask, [1, 2]), unsqueeze(xr, [3]), lowest), 4);
  const byRows = maxOver(where(unsqueeze(rowsIn.mask, [1, 4]), unsqueeze(byCols, [2]), lowest), 3);
  const empty = op('Or', [unsqueeze(rowsIn.empty, [1, 3]), unsqueeze(colsIn.empty, [1, 2])]);
  return where(empty, g.constant(tensor(x.dtype, [], [0]), 'zero'), byRows);
}
