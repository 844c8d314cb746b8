// graph/opset-adapter.ts: models written at opsets 18, 20 and 21 (the forms that changed, and Mish, Gelu and
// GroupNormalization, which came later) read into the opset-17 IR give what onnxruntime gives for the
// original model, and a critic written at opset 18 trains.
import { expect } from 'chai';
import onnxProto from 'onnx-proto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromBytes, toBytes } from '../../graph/serialize.ts';
import { MAX_READ_OPSET } from '../../graph/opset-adapter.ts';
import { Rng } from '../../data/random.ts';
import { tensor, type Graph } from '../../graph/ir.ts';
import * as o from '../../graph/ops.ts';
import { grad } from '../../graph/autodiff.ts';
import { importedModel } from '../../models/imported.ts';
import { arr, cli, expectClose, rt } from '../helpers.ts';

const { onnx } = onnxProto;
const F32 = 1;
const I64 = 7;

type Init = { name: string; dims: number[]; data: number[]; int?: boolean };
interface Spec {
  opset: number;
  inputs: { name: string; dims: (number | string)[] }[];
  outputs: string[];
  nodes: { op: string; inputs: string[]; outputs: string[]; attrs?: Record<string, number | string | number[]> }[];
  inits?: Init[];
}

/** An ONNX model written directly (not by our builder), at the opset given. */
function model(s: Spec): Uint8Array {
  const attr = (name: string, v: number | string | number[]) =>
    typeof v === 'string' ? { name, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(v) }
    : Array.isArray(v) ? { name, type: onnx.AttributeProto.AttributeType.INTS, ints: v }
    : Number.isInteger(v) ? { name, type: onnx.AttributeProto.AttributeType.INT, i: v }
    : { name, type: onnx.AttributeProto.AttributeType.FLOAT, f: v };
  const vi = (name: string, dims: (number | string)[]) => ({ name, type: { tensorType: { elemType: F32, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } } });
  const m = onnx.ModelProto.create({
    irVersion: 10,
    opsetImport: [{ domain: '', version: s.opset }],
    graph: {
      name: 'g',
      node: s.nodes.map((n, i) => ({ opType: n.op, name: `${n.op}_${i}`, input: n.inputs, output: n.outputs, attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attr(k, v)) })),
      input: s.inputs.map((x) => vi(x.name, x.dims)),
      output: s.outputs.map((name) => ({ name })),
      initializer: (s.inits ?? []).map((t) => (t.int ? { name: t.name, dims: t.dims, dataType: I64, int64Data: t.data } : { name: t.name, dims: t.dims, dataType: F32, floatData: t.data })),
    },
  });
  return onnx.ModelProto.encode(m).finish();
}

/**
 * The original model on onnxruntime and its opset-17 reading on onnxruntime agree (1e-5); with `wrt`, the
 * reading's gradient of <y, W> with respect to those inputs agrees with central differences too.
 */
async function sameOutputs(bytes: Uint8Array, feeds: Record<string, { dims: number[]; data: number[] }>, wrt: string[] = [], h = 1e-2) {
  const parsed = fromBytes(bytes);
  const mine = toBytes(parsed.graph);
  expect(fromBytes(mine).opset).to.equal(17);
  const f = Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, tensor('float32', v.dims, v.data)]));
  const [a, b] = [await rt.createSession(bytes), await rt.createSession(mine)];
  const [ra, rb] = [await a.run(f), await b.run(f)];
  await Promise.all([a.release(), b.release()]);
  for (const [i, name] of a.outputNames.entries()) {
    const ours = rb[b.outputNames[i]];
    expect(ours.dims, name).to.deep.equal(ra[name].dims);
    expectClose(arr(ours), arr(ra[name]), 1e-5, 1e-6, `${name}: opset-17 reading vs onnxruntime's opset ${parsed.opset}`);
  }
  if (wrt.length) await gradientsMatchDifferences(fromBytes(bytes).graph, feeds, wrt, h);
  return parsed;
}

/** d<y, W>/d(input) from the rules of the ops a model was read as, against central differences at 12 of its elements. */
async function gradientsMatchDifferences(g: Graph, feeds: Record<string, { dims: number[]; data: number[] }>, wrt: string[], h: number) {
  const y = g.outputs[0];
  const dims = y.shape as number[];
  const L = o.reduceSum(o.mul(y, g.constant(tensor('float32', dims, rand(dims.reduce((a, b) => a * b, 1), 'W')), 'W')));
  const gs = grad(L, wrt.map((n) => g.inputs.find((v) => v.name === n)!));
  g.output(L, 'L');
  gs.forEach((v, i) => g.output(v, `grad${i}`));
  const s = await rt.createSession(toBytes(g));
  const run = async (over: Record<string, number[]>) => s.run(Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, tensor('float32', v.dims, over[k] ?? v.data)])));
  const base = await run({});
  for (const [i, name] of wrt.entries()) {
    const data = feeds[name].data;
    const at = Array.from({ length: 12 }, (_, j) => Math.floor(((j + 0.5) * data.length) / 12));
    const fd: number[] = [];
    for (const k of at) {
      const plus = data.slice();
      const minus = data.slice();
      plus[k] += h;
      minus[k] -= h;
      fd.push((arr((await run({ [name]: plus })).L)[0] - arr((await run({ [name]: minus })).L)[0]) / (2 * h));
    }
    expectClose(at.map((k) => arr(base[`grad${i}`])[k]), fd, 2e-3, 2e-3, `d<y, W>/d${name} vs central differences`);
  }
  await s.release();
}

const rand = (n: number, seed: string) => Array.from(Rng.stream(5, seed).fillNormal(new Float32Array(n)));

describe('graph/opset-adapter', () => {
  it('opset 18: Mish, GroupNormalization per group, ReduceMean with axes as an input, Split by num_outputs, Pad with axes', async () => {
    const bytes = model({
      opset: 18,
      inputs: [{ name: 'x', dims: [2, 4, 3, 3] }],
      outputs: ['mean', 'half', 'padded'],
      inits: [
        { name: 'scale', dims: [2], data: [1.5, 0.5] },
        { name: 'bias', dims: [2], data: [0.1, -0.2] },
        { name: 'axes', dims: [2], data: [2, 3], int: true },
        { name: 'pads', dims: [2], data: [1, 2], int: true },
        { name: 'pad_axes', dims: [1], data: [-1], int: true },
      ],
      nodes: [
        { op: 'Mish', inputs: ['x'], outputs: ['m'] },
        { op: 'GroupNormalization', inputs: ['m', 'scale', 'bias'], outputs: ['gn'], attrs: { num_groups: 2, epsilon: 1e-5 } },
        { op: 'ReduceMean', inputs: ['gn', 'axes'], outputs: ['mean'], attrs: { keepdims: 1 } },
        { op: 'Split', inputs: ['gn'], outputs: ['a', 'half'], attrs: { axis: 1, num_outputs: 2 } },
        { op: 'Pad', inputs: ['a', 'pads', '', 'pad_axes'], outputs: ['padded'] },
      ],
    });
    const parsed = await sameOutputs(bytes, { x: { dims: [2, 4, 3, 3], data: rand(72, 'x18') } });
    expect(parsed.graph.nodes.map((n) => n.op)).to.not.include.members(['Mish', 'GroupNormalization']);
  });

  it('opset 20 and 21: Gelu (exact and tanh), GridSample with the new mode name, GroupNormalization per channel', async () => {
    const grid = Array.from({ length: 2 * 2 * 3 * 2 }, (_, i) => ((i * 37) % 19) / 10 - 0.9);
    await sameOutputs(
      model({
        opset: 20,
        inputs: [{ name: 'x', dims: [2, 3, 4, 4] }, { name: 'grid', dims: [2, 2, 3, 2] }],
        outputs: ['exact', 'approx', 'sampled'],
        nodes: [
          { op: 'Gelu', inputs: ['x'], outputs: ['exact'] },
          { op: 'Gelu', inputs: ['x'], outputs: ['approx'], attrs: { approximate: 'tanh' } },
          { op: 'GridSample', inputs: ['x', 'grid'], outputs: ['sampled'], attrs: { mode: 'linear', align_corners: 0 } },
        ],
      }),
      { x: { dims: [2, 3, 4, 4], data: rand(96, 'x20') }, grid: { dims: [2, 2, 3, 2], data: grid } },
    );
    await sameOutputs(
      model({
        opset: 21,
        inputs: [{ name: 'x', dims: ['N', 4, 2, 3] }],
        outputs: ['y'],
        inits: [{ name: 'scale', dims: [4], data: [1, 2, 0.5, -1] }, { name: 'bias', dims: [4], data: [0, 0.1, 0.2, 0.3] }],
        nodes: [{ op: 'GroupNormalization', inputs: ['x', 'scale', 'bias'], outputs: ['y'], attrs: { num_groups: 2, epsilon: 1e-5 } }],
      }),
      { x: { dims: [3, 4, 2, 3], data: rand(72, 'x21') } },
    );
  });

  it('CenterCropPad (18), AffineGrid (20, both corner modes) and LpPool (17 and 18, p 1 and 2, pads and strides) as other ops', async () => {
    await sameOutputs(
      model({
        opset: 18,
        inputs: [{ name: 'x', dims: [2, 3, 5, 4] }],
        outputs: ['y'],
        inits: [{ name: 'shape', dims: [2], data: [3, 7], int: true }],
        nodes: [{ op: 'CenterCropPad', inputs: ['x', 'shape'], outputs: ['y'], attrs: { axes: [2, 3] } }],
      }),
      { x: { dims: [2, 3, 5, 4], data: rand(120, 'ccp') } },
    );
    for (const align of [0, 1])
      await sameOutputs(
        model({
          opset: 20,
          inputs: [{ name: 'theta', dims: [2, 2, 3] }],
          outputs: ['grid'],
          inits: [{ name: 'size', dims: [4], data: [2, 1, 3, 4], int: true }],
          nodes: [{ op: 'AffineGrid', inputs: ['theta', 'size'], outputs: ['grid'], attrs: { align_corners: align } }],
        }),
        { theta: { dims: [2, 2, 3], data: rand(12, `theta${align}`) } },
      );
    for (const opset of [17, 18])
      for (const p of [1, 2])
        await sameOutputs(
          model({
            opset,
            inputs: [{ name: 'x', dims: [2, 2, 5, 5] }],
            outputs: ['y'],
            nodes: [{ op: 'LpPool', inputs: ['x'], outputs: ['y'], attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], p } }],
          }),
          { x: { dims: [2, 2, 5, 5], data: rand(100, `lp${opset}${p}`) } },
        );
  });

  it('Col2Im (18) as a ConvTranspose: plain, and strided with dilations and pads (an output padding needed); its gradient', async () => {
    const cases: [string, Record<string, number[]>, number[], number[], number][] = [
      ['plain', {}, [4, 5], [2, 2], 12],
      ['strided', { strides: [2, 1], dilations: [1, 2], pads: [1, 0, 0, 1] }, [7, 5], [3, 2], 12],
    ];
    for (const [name, attrs, image, block, blocks] of cases) {
      const dims = [2, 3 * block[0] * block[1], blocks];
      await sameOutputs(
        model({
          opset: 18,
          inputs: [{ name: 'x', dims }],
          outputs: ['y'],
          inits: [{ name: 'image', dims: [2], data: [...image], int: true }, { name: 'block', dims: [2], data: [...block], int: true }],
          nodes: [{ op: 'Col2Im', inputs: ['x', 'image', 'block'], outputs: ['y'], attrs }],
        }),
        { x: { dims, data: rand(dims.reduce((a, b) => a * b, 1), `col2im-${name}`) } },
        ['x'],
      );
    }
  });

  it('DeformConv (19) as a GridSample and a 1x1 Conv: with offsets reaching outside the image, a mask and a bias; strided, padded and dilated; gradients in the image, the offsets and the mask', async () => {
    const cases: [string, Record<string, number[]>, number[], boolean][] = [
      ['plain', { kernel_shape: [3, 3] }, [3, 4], false],
      ['strided', { kernel_shape: [3, 2], strides: [2, 1], pads: [1, 0, 1, 1], dilations: [1, 2] }, [3, 5], true],
    ];
    for (const [name, attrs, out, masked] of cases) {
      const [kH, kW] = attrs.kernel_shape;
      const x = [2, 2, 5, 6];
      const off = [2, 2 * kH * kW, ...out];
      const mask = [2, kH * kW, ...out];
      await sameOutputs(
        model({
          opset: 19,
          inputs: [{ name: 'x', dims: x }, { name: 'off', dims: off }, ...(masked ? [{ name: 'mask', dims: mask }] : [])],
          outputs: ['y'],
          inits: [{ name: 'w', dims: [3, 2, kH, kW], data: rand(6 * kH * kW, `dw-${name}`) }, { name: 'b', dims: [3], data: [0.1, -0.2, 0.3] }],
          nodes: [{ op: 'DeformConv', inputs: ['x', 'w', 'off', 'b', ...(masked ? ['mask'] : [])], outputs: ['y'], attrs }],
        }),
        {
          x: { dims: x, data: rand(120, `dx-${name}`) },
          // Offsets of up to 2.5 pixels: some sample points fall between pixels outside the image.
          off: { dims: off, data: rand(off.reduce((a, b) => a * b, 1), `doff-${name}`).map((v) => v * 1.2) },
          ...(masked ? { mask: { dims: mask, data: rand(mask.reduce((a, b) => a * b, 1), `dm-${name}`).map((v) => 1 / (1 + Math.exp(-v))) } } : {}),
        },
        ['x', 'off', ...(masked ? ['mask'] : [])],
        // A step of 1e-2 carries one sample point here across a pixel line, where bilinear's slope jumps.
        2e-3,
      );
    }
  });

  it('RoiAlign (16, both coordinate modes) and MaxRoiPool as other ops: boxes inside, across the edge and outside the image; gradients in the image', async () => {
    // x1, y1, x2, y2 in input pixels (spatial_scale 0.5 halves them): inside; across the left and top edges;
    // beyond the bottom right; a box thinner than one pixel.
    const boxes = [1, 1, 7.5, 5, -3, -2, 4, 6.5, 6, 5, 14, 12, 2.2, 3, 2.6, 9];
    for (const mode of ['half_pixel', 'output_half_pixel'])
      await sameOutputs(
        model({
          opset: 16,
          inputs: [{ name: 'x', dims: [2, 3, 5, 6] }, { name: 'rois', dims: [4, 4] }],
          outputs: ['y'],
          inits: [{ name: 'batch', dims: [4], data: [0, 1, 1, 0], int: true }],
          nodes: [{ op: 'RoiAlign', inputs: ['x', 'rois', 'batch'], outputs: ['y'], attrs: { output_height: 3, output_width: 2, sampling_ratio: 2, spatial_scale: 0.5, coordinate_transformation_mode: mode } }],
        }),
        { x: { dims: [2, 3, 5, 6], data: rand(180, `roi-${mode}`) }, rois: { dims: [4, 4], data: boxes } },
        ['x'],
      );
    await sameOutputs(
      model({
        opset: 17,
        inputs: [{ name: 'x', dims: [2, 3, 6, 7] }, { name: 'rois', dims: [4, 5] }],
        outputs: ['y'],
        nodes: [{ op: 'MaxRoiPool', inputs: ['x', 'rois'], outputs: ['y'], attrs: { pooled_shape: [3, 2], spatial_scale: 0.5 } }],
      }),
      // batch index, x1, y1, x2, y2: the last box lies outside the image (every bin empty: zeros).
      { x: { dims: [2, 3, 6, 7], data: rand(252, 'maxroi') }, rois: { dims: [4, 5], data: [0, 0, 0, 13, 11, 1, 2, 3, 9, 8, 1, -4, -2, 5, 3, 0, 30, 30, 40, 40] } },
      ['x'],
    );
  });

  it('refuses what it cannot bring back, naming the node and the opset; opset 22 is refused', () => {
    const wrap = model({ opset: 19, inputs: [{ name: 'x', dims: [2, 3] }], outputs: ['y'], inits: [{ name: 'p', dims: [4], data: [0, 1, 0, 1], int: true }], nodes: [{ op: 'Pad', inputs: ['x', 'p'], outputs: ['y'], attrs: { mode: 'wrap' } }] });
    expect(() => fromBytes(wrap)).to.throw(/node 'Pad_0' \(Pad\): Pad mode 'wrap' is not supported \(opset 19 model\)/);
    const newer = model({ opset: 22, inputs: [{ name: 'x', dims: [2] }], outputs: ['y'], nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }] });
    expect(() => fromBytes(newer)).to.throw(new RegExp(`opset 22 is not supported \\(13\\.\\.${MAX_READ_OPSET}\\)`));
    expect(MAX_READ_OPSET).to.equal(21);
  });

  it('a critic written at opset 18 (GroupNormalization, Mish, ReduceMean axes input) trains from the CLI', function () {
    this.timeout(120000);
    const tmp = mkdtempSync(join(tmpdir(), 'onnx-gan-opset18-'));
    try {
      const w = (n: number, seed: string, scale = 0.2) => rand(n, seed).map((v) => v * scale);
      const critic = model({
        opset: 18,
        inputs: [{ name: 'x', dims: ['N', 1, 28, 28] }],
        outputs: ['score'],
        inits: [
          { name: 'conv.weight', dims: [4, 1, 4, 4], data: w(64, 'c') },
          { name: 'gn.scale', dims: [2], data: [1, 1] },
          { name: 'gn.bias', dims: [2], data: [0, 0] },
          { name: 'axes', dims: [2], data: [2, 3], int: true },
          { name: 'fc.weight', dims: [1, 4], data: w(4, 'f') },
          { name: 'fc.bias', dims: [1], data: [0] },
        ],
        nodes: [
          { op: 'Conv', inputs: ['x', 'conv.weight'], outputs: ['h'], attrs: { strides: [2, 2], pads: [1, 1, 1, 1] } },
          { op: 'GroupNormalization', inputs: ['h', 'gn.scale', 'gn.bias'], outputs: ['n'], attrs: { num_groups: 2 } },
          { op: 'Mish', inputs: ['n'], outputs: ['a'] },
          { op: 'ReduceMean', inputs: ['a', 'axes'], outputs: ['pooled'], attrs: { keepdims: 0 } },
          { op: 'Gemm', inputs: ['pooled', 'fc.weight', 'fc.bias'], outputs: ['score'], attrs: { transB: 1 } },
        ],
      });
      const file = join(tmp, 'd18.onnx');
      writeFileSync(file, critic);
      // The model's weights train; the constants of the ops written out (epsilon, Mish's, 0.5) do not.
      expect(importedModel(critic, 'critic', { prefix: 'D' }).params.map((p) => p.name)).to.deep.equal(['D.conv.weight', 'D.gn.scale', 'D.gn.bias', 'D.fc.weight', 'D.fc.bias']);
      const head = Buffer.alloc(16);
      [0x803, 16, 28, 28].forEach((v, i) => head.writeUInt32BE(v, 4 * i));
      const data = join(tmp, 'g28-idx3-ubyte');
      writeFileSync(data, Buffer.concat([head, Buffer.from(Array.from({ length: 16 * 784 }, (_, i) => (i * 31) % 256))]));
      const gen = new URL('../fixtures/import/shuffle_prelu_g.onnx', import.meta.url).pathname;
      const r = cli(['train', '--data', data, '--generator', gen, '--critic', file, '--loss', process.env.DBG_LOSS ?? 'wgan-gp', '--batch', '8', '--iterations', process.env.DBG_IT ?? '2', '--log-every', '1', '--fuse', '0', '--out', join(tmp, 'run'), '--json']);
      if (process.env.DBG_IT) console.log(require('node:fs').readFileSync(join(tmp, 'run', 'metrics.jsonl'), 'utf8'));
      expect(r.code, r.err).to.equal(0);
      expect(JSON.parse(r.out).iterations).to.equal(2);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
