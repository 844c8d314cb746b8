// models/import-replay.ts: torch.onnx.export's shape arithmetic (x.view(x.shape[0], -1)) is evaluated
// at build time for the training graph's fixed batch, so what follows gets static shapes; the replayed
// graph computes what the imported one does.
import { expect } from 'chai';
import onnxProto from 'onnx-proto';
import { grad } from '../../graph/autodiff.ts';
import { Graph, tensor } from '../../graph/ir.ts';
import { concat, gather, mul, reduceSum, reshape, shapeOf, unsqueeze } from '../../graph/ops.ts';
import { fromBytes } from '../../graph/serialize.ts';
import { replay } from '../../models/import-replay.ts';
import { arr, expectClose, rt, run, session } from '../helpers.ts';

describe('models/import-replay', () => {
  it("folds x.view(x.shape[0], -1) to a static reshape for the batch, with the imported graph's values", async () => {
    const imported = new Graph('imported');
    const x = imported.input('x', 'float32', ['N', 3, 4]);
    const batch = unsqueeze(gather(shapeOf(x), imported.constant({ dtype: 'int64', dims: [], data: new BigInt64Array([0n]) }, 'zero')), [0]);
    const target = concat([batch, imported.constant({ dtype: 'int64', dims: [1], data: new BigInt64Array([-1n]) }, 'minus1')], 0);
    const y = mul(reshape(x, target), 2);

    const g = new Graph('training');
    const given = g.input('given', 'float32', [5, 3, 4]);
    const out = replay(imported, y, { source: 'model.onnx', input: x, given, param: () => undefined });
    expect(out.shape).to.deep.equal([5, 12]);
    expect(g.nodes.some((n) => n.op === 'Shape')).to.equal(false);
    g.output(out, 'y');
    const data = Float32Array.from({ length: 60 }, (_, i) => i - 30);
    const r = await run(g, { given: { dtype: 'float32', dims: [5, 3, 4], data } });
    expect(Array.from(r.y.data as Float32Array)).to.deep.equal(Array.from(data, (v) => 2 * v));
  });
});

// ---- subgraphs: If on the data, Loop and Scan, written directly in ONNX (onnx-proto) -----------------

const { onnx } = onnxProto;
type Ty = 'float' | 'int64' | 'bool';
const ELEM: Record<Ty, number> = { float: 1, int64: 7, bool: 9 };
interface GraphSpec {
  inputs: { name: string; dims: number[]; type?: Ty }[];
  outputs: string[];
  nodes: { op: string; inputs: string[]; outputs: string[]; attrs?: Record<string, number | number[] | GraphSpec> }[];
  inits?: { name: string; dims: number[]; data: number[]; type?: Ty }[];
}
const graphProto = (s: GraphSpec, name = 'g'): ReturnType<typeof onnx.GraphProto.create> =>
  onnx.GraphProto.create({
    name,
    node: s.nodes.map((n, i) => ({
      opType: n.op, name: `${n.op}_${name}_${i}`, input: n.inputs, output: n.outputs,
      attribute: Object.entries(n.attrs ?? {}).map(([k, v]) =>
        typeof v === 'number' ? { name: k, type: onnx.AttributeProto.AttributeType.INT, i: v }
        : Array.isArray(v) ? { name: k, type: onnx.AttributeProto.AttributeType.INTS, ints: v }
        : { name: k, type: onnx.AttributeProto.AttributeType.GRAPH, g: graphProto(v, `${name}_${k}`) }),
    })),
    input: s.inputs.map((x) => ({ name: x.name, type: { tensorType: { elemType: ELEM[x.type ?? 'float'], shape: { dim: x.dims.map((d) => ({ dimValue: d })) } } } })),
    output: s.outputs.map((o) => ({ name: o })),
    initializer: (s.inits ?? []).map((t) => (t.type === 'int64' ? { name: t.name, dims: t.dims, dataType: 7, int64Data: t.data } : t.type === 'bool' ? { name: t.name, dims: t.dims, dataType: 9, int32Data: t.data } : { name: t.name, dims: t.dims, dataType: 1, floatData: t.data })),
  });
const modelBytes = (s: GraphSpec) => onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], graph: graphProto(s) })).finish();

/**
 * Each output of a model replayed into a training graph equals onnxruntime's on the model itself (1e-5), and
 * the gradient of <output, W> in x equals central differences at every element (float32: 2e-3).
 */
async function replayAgrees(bytes: Uint8Array, xs: number[][], dims: number[]) {
  const parsed = fromBytes(bytes);
  const original = await rt.createSession(bytes);
  for (const [o, out] of parsed.graph.outputs.entries()) {
    const g = new Graph('training');
    const given = g.input('given', 'float32', dims);
    const y = replay(parsed.graph, out, { source: 'model.onnx', input: parsed.graph.inputs[0], given, param: () => undefined });
    expect(g.nodes.map((n) => n.op)).to.not.include.members(['If', 'Loop', 'Scan']);
    const W = g.constant(tensor('float32', y.shape as number[], Array.from({ length: (y.shape as number[]).reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i + 1))), 'W');
    const L = reduceSum(mul(y, W));
    g.output(y, 'y');
    g.output(L, 'L');
    g.output(grad(L, [given])[0], 'dx');
    const s = await session(g);
    for (const x of xs) {
      const feed = (v: number[]) => ({ given: tensor('float32', dims, v) });
      const want = await original.run({ [parsed.graph.inputs[0].name]: tensor('float32', dims, x) });
      const r = await s.run(feed(x));
      expectClose(arr(r.y), arr(want[original.outputNames[o]]), 1e-5, 1e-6, `output ${o}: replayed vs onnxruntime`);
      const h = 1e-2;
      const fd: number[] = [];
      for (let k = 0; k < x.length; k++) {
        const [p, m] = [x.slice(), x.slice()];
        p[k] += h;
        m[k] -= h;
        fd.push((arr((await s.run(feed(p))).L)[0] - arr((await s.run(feed(m))).L)[0]) / (2 * h));
      }
      expectClose(arr(r.dx), fd, 2e-3, 2e-3, `output ${o}: d<y, W>/dx vs central differences`);
    }
    await s.release();
  }
  await original.release();
}

const data = (n: number, seed: number, shift = 0) => Array.from({ length: n }, (_, i) => Math.sin(seed * 7.1 + i * 1.7) + shift);

describe('models/import-replay: If on the data, Loop and Scan', () => {
  it('an If whose condition is computed from the data: a Where over both branches, each input taking its branch', async () => {
    const branch = (op: string): GraphSpec => ({ inputs: [], outputs: ['b'], nodes: op === 'Mul' ? [{ op: 'Mul', inputs: ['x', 'x'], outputs: ['b'] }] : [{ op, inputs: ['x'], outputs: ['b'] }] });
    const bytes = modelBytes({
      inputs: [{ name: 'x', dims: [4, 3] }],
      outputs: ['y'],
      inits: [{ name: 'zero', dims: [], data: [0] }],
      nodes: [
        { op: 'ReduceSum', inputs: ['x'], outputs: ['s'], attrs: { keepdims: 0 } },
        { op: 'Greater', inputs: ['s', 'zero'], outputs: ['c'] },
        { op: 'If', inputs: ['c'], outputs: ['y'], attrs: { then_branch: branch('Mul'), else_branch: branch('Tanh') } },
      ],
    });
    // One input whose sum is positive (x * x), one negative (tanh x).
    await replayAgrees(bytes, [data(12, 1, 0.5), data(12, 2, -0.5)], [4, 3]);
  });

  it('a Loop of 3 iterations: a carried state through a captured weight and the iteration number, and a scan output', async () => {
    const body: GraphSpec = {
      inputs: [{ name: 'i', dims: [], type: 'int64' }, { name: 'cin', dims: [], type: 'bool' }, { name: 'h', dims: [4, 3] }],
      outputs: ['cout', 'hn', 'row'],
      nodes: [
        { op: 'Identity', inputs: ['cin'], outputs: ['cout'] },
        { op: 'Cast', inputs: ['i'], outputs: ['fi'], attrs: { to: 1 } },
        { op: 'Add', inputs: ['fi', 'one'], outputs: ['k'] },
        { op: 'MatMul', inputs: ['h', 'W'], outputs: ['hw'] },
        { op: 'Mul', inputs: ['hw', 'k'], outputs: ['hk'] },
        { op: 'Add', inputs: ['hk', 'x'], outputs: ['pre'] },
        { op: 'Tanh', inputs: ['pre'], outputs: ['hn'] },
        { op: 'ReduceSum', inputs: ['hn', 'ax1'], outputs: ['row'], attrs: { keepdims: 0 } },
      ],
    };
    const bytes = modelBytes({
      inputs: [{ name: 'x', dims: [4, 3] }],
      outputs: ['h', 'rows'],
      inits: [
        { name: 'M', dims: [], data: [3], type: 'int64' },
        { name: 'T', dims: [], data: [1], type: 'bool' },
        { name: 'one', dims: [], data: [1] },
        { name: 'W', dims: [3, 3], data: data(9, 3).map((v) => v * 0.5) },
        { name: 'ax1', dims: [1], data: [1], type: 'int64' },
      ],
      nodes: [{ op: 'Loop', inputs: ['M', 'T', 'x'], outputs: ['h', 'rows'], attrs: { body } }],
    });
    await replayAgrees(bytes, [data(12, 4)], [4, 3]);
  });

  it('a Scan over axis 1, backwards, with a state and a scan output stacked on axis 1', async () => {
    const body: GraphSpec = {
      inputs: [{ name: 's', dims: [4] }, { name: 'xt', dims: [4, 3] }],
      outputs: ['sn', 'yt'],
      nodes: [
        { op: 'ReduceSum', inputs: ['xt', 'ax1'], outputs: ['r'], attrs: { keepdims: 0 } },
        { op: 'Add', inputs: ['s', 'r'], outputs: ['sn'] },
        { op: 'Unsqueeze', inputs: ['sn', 'ax1'], outputs: ['su'] },
        { op: 'Mul', inputs: ['xt', 'su'], outputs: ['yt'] },
      ],
    };
    const bytes = modelBytes({
      inputs: [{ name: 'x', dims: [4, 5, 3] }],
      outputs: ['y', 'last'],
      inits: [{ name: 's0', dims: [4], data: [0.1, -0.2, 0.3, 0] }, { name: 'ax1', dims: [1], data: [1], type: 'int64' }],
      nodes: [{ op: 'Scan', inputs: ['s0', 'x'], outputs: ['last', 'y'], attrs: { body, num_scan_inputs: 1, scan_input_axes: [1], scan_input_directions: [1], scan_output_axes: [1] } }],
    });
    await replayAgrees(bytes, [data(60, 5)], [4, 5, 3]);
  });

  it('refuses, in one line naming the node, a Loop whose count or condition depends on the data and an If whose branches differ in shape', () => {
    const x = { name: 'x', dims: [4, 3] };
    const loopOn = (count: boolean) => modelBytes({
      inputs: [x],
      outputs: ['h'],
      inits: [{ name: 'T', dims: [], data: [1], type: 'bool' }],
      nodes: [
        { op: 'ReduceSum', inputs: ['x'], outputs: ['s'], attrs: { keepdims: 0 } },
        { op: 'Cast', inputs: ['s'], outputs: [count ? 'M' : 'c'], attrs: { to: count ? 7 : 9 } },
        { op: 'Loop', inputs: [count ? 'M' : '', count ? 'T' : 'c', 'x'], outputs: ['h'], attrs: { body: { inputs: [{ name: 'i', dims: [], type: 'int64' }, { name: 'cin', dims: [], type: 'bool' }, { name: 'h0', dims: [4, 3] }], outputs: ['cin', 'h1'], nodes: [{ op: 'Tanh', inputs: ['h0'], outputs: ['h1'] }] } } },
      ],
    });
    const replayed = (bytes: Uint8Array) => () => {
      const p = fromBytes(bytes);
      const g = new Graph('t');
      replay(p.graph, p.graph.outputs[0], { source: 'model.onnx', input: p.graph.inputs[0], given: g.input('x', 'float32', [4, 3]), param: () => undefined });
    };
    expect(replayed(loopOn(true))).to.throw(/^model\.onnx: node 'Loop_g_2' \(Loop\): a Loop whose trip count depends on the data cannot be unrolled for training$/);
    expect(replayed(loopOn(false))).to.throw(/^model\.onnx: node 'Loop_g_2' \(Loop\): a Loop whose condition depends on the data cannot be unrolled for training$/);
    const ifShapes = modelBytes({
      inputs: [x],
      outputs: ['y'],
      inits: [{ name: 'zero', dims: [], data: [0] }],
      nodes: [
        { op: 'ReduceSum', inputs: ['x'], outputs: ['s'], attrs: { keepdims: 0 } },
        { op: 'Greater', inputs: ['s', 'zero'], outputs: ['c'] },
        { op: 'If', inputs: ['c'], outputs: ['y'], attrs: { then_branch: { inputs: [], outputs: ['b'], nodes: [{ op: 'Tanh', inputs: ['x'], outputs: ['b'] }] }, else_branch: { inputs: [], outputs: ['b'], nodes: [{ op: 'ReduceSum', inputs: ['x'], outputs: ['b'], attrs: { keepdims: 1 } }] } } },
      ],
    });
    expect(replayed(ifShapes)).to.throw(/^model\.onnx: node 'If_g_2' \(If\): an If on the data is trained as a choice between both branches, whose outputs need one static shape; output 0 is .* in one, .* in the other$/);
  });
});
