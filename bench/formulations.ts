// Gradient formulations side by side on the shapes the profiles point at (`npx tsx bench/formulations.ts`):
// one small graph per formulation, timed by onnxruntime at one thread after a warm-up, with the largest
// difference from the current rule. graph/gradients.ts picks by shape from what this measures.
import * as ort from 'onnxruntime-node';
import { Graph, tensor, type Value } from '../graph/ir.ts';
import { concat, conv, convTranspose, expand, gemm, matmul, mul, pad, reduceSum, reshape, slice, transpose, unsqueeze, upsampleNearest } from '../graph/ops.ts';
import { toBytes } from '../graph/serialize.ts';

// The same pseudo-random feed for every formulation of a shape, so their outputs compare.
const rand = (n: number) => Float32Array.from({ length: n }, (_, i) => ((i * 2654435761) % 1000) / 1000 - 0.5);
async function time(name: string, build: (g: Graph, a: Value, b: Value) => Value, aShape: number[], bShape: number[], flops: number) {
  const g = new Graph('f');
  const a = g.input('a', 'float32', aShape);
  const b = g.input('b', 'float32', bShape);
  g.output(build(g, a, b), 'y');
  const s = await ort.InferenceSession.create(toBytes(g), { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential' });
  const feeds = { a: new ort.Tensor('float32', rand(aShape.reduce((x, y) => x * y)), aShape), b: new ort.Tensor('float32', rand(bShape.reduce((x, y) => x * y)), bShape) };
  await s.run(feeds);
  const reps = 5;
  const t = performance.now();
  for (let i = 0; i < reps; i++) await s.run(feeds);
  const ms = (performance.now() - t) / reps;
  console.log(`${name.padEnd(48)} ${ms.toFixed(2).padStart(8)} ms ${(flops / ms / 1e6).toFixed(1).padStart(7)} GFLOP/s`);
  return (await s.run(feeds)).y.data as Float32Array;
}

for (const [N, I, O, H, k] of [[128, 64, 64, 32, 3], [128, 64, 64, 16, 3], [128, 64, 64, 8, 3], [128, 3, 64, 32, 3], [128, 64, 64, 16, 1]]) {
  const p = (k - 1) / 2;
  const flops = 2 * N * I * O * H * H * k * k;
  console.log(`weight gradient, x [${N},${I},${H},${H}], dy [${N},${O},${H},${H}], ${k}x${k} stride 1 pad ${p}`);
  const swap = [1, 0, 2, 3];
  const ref = await time('  Conv on swapped axes (current)', (_g, x, dy) => {
    const full = conv(transpose(x, swap), transpose(dy, swap), null, { pads: [p, p, p, p] });
    return transpose(full, swap);
  }, [N, I, H, H], [N, O, H, H], flops);
  const cols = (x: Value, perm: number[], axis: number) => {
    const xp = transpose(p ? pad(x, [0, 0, p, p, 0, 0, p, p]) : x, perm);
    const parts: Value[] = [];
    for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) parts.push(unsqueeze(slice(xp, [a, b], [a + H, b + H], [2, 3].map((d) => perm.indexOf(d))), [axis]));
    return parts.length > 1 ? concat(parts, axis) : parts[0];
  };
  const dyM = (dy: Value) => reshape(transpose(dy, swap), [O, -1]);
  const gemmT = await time('  im2col [I k k, N H W] + Gemm transB', (_g, x, dy) => reshape(gemm(dyM(dy), reshape(cols(x, swap, 1), [I * k * k, -1]), null, { transB: true }), [O, I, k, k]), [N, I, H, H], [N, O, H, H], flops);
  const nhwc = await time('  im2col [N H W, k k I] + MatMul', (_g, x, dy) => transpose(reshape(matmul(dyM(dy), reshape(cols(x, [0, 2, 3, 1], 3), [-1, k * k * I])), [O, k, k, I]), [0, 3, 1, 2]), [N, I, H, H], [N, O, H, H], flops);
  const batched = await time('  im2col [N, H W, k k I], MatMul per sample, sum', (_g, x, dy) => transpose(reshape(reduceSum(matmul(reshape(dy, [N, O, H * H]), reshape(cols(x, [0, 2, 3, 1], 3), [N, H * H, k * k * I])), [0]), [O, k, k, I]), [0, 3, 1, 2]), [N, I, H, H], [N, O, H, H], flops);
  const nchw = await time('  im2col [N, I k k, H W], MatMul^T per sample, sum', (_g, x, dy) => reshape(reduceSum(matmul(reshape(dy, [N, O, H * H]), transpose(reshape(cols(x, [0, 1, 2, 3], 2), [N, I * k * k, H * H]), [0, 2, 1])), [0]), [O, I, k, k]), [N, I, H, H], [N, O, H, H], flops);
  // Per kernel offset: the window it reads (channels last, [N, H W, I]), one product each, stacked.
  const perOffsetWith = (x: Value, product: (window: Value) => Value) => {
    const xp = transpose(p ? pad(x, [0, 0, p, p, 0, 0, p, p]) : x, [0, 2, 3, 1]);
    const parts: Value[] = [];
    for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) parts.push(unsqueeze(product(reshape(slice(xp, [a, b], [a + H, b + H], [1, 2]), [N, H * H, I])), [2]));
    return reshape(parts.length > 1 ? concat(parts, 2) : parts[0], [O, I, k, k]);
  };
  const perOffset = await time('  per offset: MatMul [N,O,HW]x[N,HW,I], sum, stack', (_g, x, dy) => perOffsetWith(x, (w) => reduceSum(matmul(reshape(dy, [N, O, H * H]), w), [0])), [N, I, H, H], [N, O, H, H], flops);
  const folded = await time('  per offset, batch in K: [O,N HW]x[N HW,I], stack', (_g, x, dy) => {
    const dyT = reshape(transpose(dy, swap), [O, N * H * H]);
    return perOffsetWith(x, (w) => matmul(dyT, reshape(w, [N * H * H, I])));
  }, [N, I, H, H], [N, O, H, H], flops);
  await time('  (the MatMul alone, [N,O,HW]x[N,HW,kkI])', (_g, x, dy) => matmul(reshape(dy, [N, O, H * H]), reshape(concat(Array(k * k).fill(x), 1), [N, H * H, k * k * I])), [N, I, H, H], [N, O, H, H], flops);
  const err = (y: Float32Array) => y.reduce((m, v, i) => Math.max(m, Math.abs(v - ref[i])), 0);
  console.log(`  max |diff| vs current: ${[gemmT, nhwc, batched, nchw, perOffset, folded].map((y) => err(y).toExponential(1)).join(', ')}`);
}

// DCGAN's 4x4 stride-2 convolutions (critic, batch 128 = real and fake; a generator layer's transposed
// convolution has the same weight gradient with input and output swapped, batch 64).
for (const [N, I, O, H] of [[128, 32, 64, 14], [64, 32, 64, 14], [128, 64, 128, 16]]) {
  const [k, s, p, Ho] = [4, 2, 1, H / 2];
  const flops = 2 * N * I * O * Ho * Ho * k * k;
  console.log(`weight gradient, x [${N},${I},${H},${H}], dy [${N},${O},${Ho},${Ho}], ${k}x${k} stride ${s} pad ${p}`);
  const windows = (x: Value) => {
    const xp = transpose(pad(x, [0, 0, p, p, 0, 0, p, p]), [0, 2, 3, 1]);
    const out: Value[] = [];
    for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) out.push(reshape(slice(xp, [a, b], [a + s * (Ho - 1) + 1, b + s * (Ho - 1) + 1], [1, 2], [s, s]), [N, Ho * Ho, I]));
    return out;
  };
  const stack = (parts: Value[]) => reshape(concat(parts.map((v) => unsqueeze(v, [2])), 2), [O, I, k, k]);
  const ref = await time('  per offset: MatMul [N,O,HW]x[N,HW,I], sum (current)', (_g, x, dy) => stack(windows(x).map((w) => reduceSum(matmul(reshape(dy, [N, O, Ho * Ho]), w), [0]))), [N, I, H, H], [N, O, Ho, Ho], flops);
  const alt = await time('  per offset, batch in K: [O,N HW]x[N HW,I]', (_g, x, dy) => {
    const dyT = reshape(transpose(dy, [1, 0, 2, 3]), [O, N * Ho * Ho]);
    return stack(windows(x).map((w) => matmul(dyT, reshape(w, [N * Ho * Ho, I]))));
  }, [N, I, H, H], [N, O, Ho, Ho], flops);
  console.log(`  max |diff| vs current: ${alt.reduce((m, v, i) => Math.max(m, Math.abs(v - ref[i])), 0).toExponential(1)}`);
}

for (const [N, I, O, H, k] of [[128, 64, 64, 32, 3], [128, 64, 64, 16, 3], [128, 64, 3, 32, 3]]) {
  const p = (k - 1) / 2;
  const flops = 2 * N * I * O * H * H * k * k;
  console.log(`input gradient, dy [${N},${O},${H},${H}], w [${O},${I},${k},${k}], stride 1 pad ${p}`);
  const ref = await time('  ConvTranspose (current)', (_g, dy, w) => convTranspose(dy, w, null, { pads: [p, p, p, p] }), [N, O, H, H], [O, I, k, k], flops);
  const alt = await time('  Conv by the flipped, transposed kernel', (_g, dy, w) => conv(dy, transpose(slice(w, [k - 1, k - 1], [-k - 1, -k - 1], [2, 3], [-1, -1]), [1, 0, 2, 3]), null, { pads: [k - 1 - p, k - 1 - p, k - 1 - p, k - 1 - p] }), [N, O, H, H], [O, I, k, k], flops);
  console.log(`  max |diff| vs current: ${alt.reduce((m, v, i) => Math.max(m, Math.abs(v - ref[i])), 0).toExponential(1)}`);
}

// DCGAN's stride-2 transposed convolution (generator forward, critic input gradient) against the sub-pixel
// form: one stride-1 convolution with s*s*O outputs over the input padded T - 1 (T = k / s taps per phase),
// the phases interleaved (DepthToSpace as Reshape + Transpose) and the pad cropped. Not used: slower here.
for (const [N, I, O, H] of [[128, 64, 32, 7], [64, 64, 32, 7], [64, 32, 1, 14], [64, 128, 64, 8]]) {
  const [k, s, p] = [4, 2, 1];
  const [T, Hz, Ho] = [k / s, H + k / s - 1, (H - 1) * s - 2 * p + k];
  const flops = 2 * N * I * O * H * H * k * k;
  console.log(`transposed conv, x [${N},${I},${H},${H}], w [${I},${O},${k},${k}], stride ${s} pad ${p}`);
  const ref = await time('  ConvTranspose (current)', (_g, x, w) => convTranspose(x, w, null, { strides: [s, s], pads: [p, p, p, p] }), [N, I, H, H], [I, O, k, k], flops);
  const alt = await time('  sub-pixel: Conv, DepthToSpace, crop', (_g, x, w) => {
    // w[i, o, s j + r] is phase r's tap T - 1 - j: flip j, phases first, as [s s O, I, T, T].
    const flipped = slice(reshape(w, [I, O, T, s, T, s]), [-1, -1], [-T - 1, -T - 1], [2, 4], [-1, -1]);
    const z = conv(x, reshape(transpose(flipped, [3, 5, 1, 0, 2, 4]), [s * s * O, I, T, T]), null, { pads: [T - 1, T - 1, T - 1, T - 1] });
    const d = reshape(transpose(reshape(z, [N, s, s, O, Hz, Hz]), [0, 3, 4, 1, 5, 2]), [N, O, Hz * s, Hz * s]);
    return slice(d, [p, p], [p + Ho, p + Ho], [2, 3]);
  }, [N, I, H, H], [I, O, k, k], flops);
  console.log(`  max |diff| vs current: ${alt.reduce((m, v, i) => Math.max(m, Math.abs(v - ref[i])), 0).toExponential(1)}`);
}

for (const [N, C, h] of [[128, 64, 16], [128, 64, 8], [128, 3, 16]]) {
  const [H, size] = [2 * h, 4];
  console.log(`average pool 2x2 gradient, dy [${N},${C},${h},${h}] -> [${N},${C},${H},${H}]`);
  const ref = await time('  one-channel ConvTranspose by 1/4 (before)', (g, dy) => reshape(convTranspose(reshape(dy, [-1, 1, h, h]), g.constant(tensor('float32', [1, 1, 2, 2], [0.25, 0.25, 0.25, 0.25])), null, { strides: [2, 2] }), [N, C, H, H]), [N, C, h, h], [1], N * C * H * H);
  const blocks = (dy: Value) => reshape(dy, [N, C, h, 1, h, 1]);
  const alts = [
    await time('  Expand of each cell over its window', (_g, dy) => reshape(expand(mul(blocks(dy), 1 / size), [N, C, h, 2, h, 2]), [N, C, H, H]), [N, C, h, h], [1], N * C * H * H),
    await time('  Mul broadcasting each cell by a 2x2 of 1/4', (g, dy) => reshape(mul(blocks(dy), g.constant(tensor('float32', [1, 1, 1, 2, 1, 2], [0.25, 0.25, 0.25, 0.25]))), [N, C, H, H]), [N, C, h, h], [1], N * C * H * H),
    await time('  nearest Resize x2, times 1/4', (_g, dy) => mul(upsampleNearest(dy, [1, 1, 2, 2]), 1 / size), [N, C, h, h], [1], N * C * H * H),
  ];
  console.log(`  max |diff| vs before: ${alts.map((y) => y.reduce((m, v, i) => Math.max(m, Math.abs(v - ref[i])), 0).toExponential(1)).join(', ')}`);
}
