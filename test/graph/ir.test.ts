// The graph builder, serialization and checker, and properties of grad() beyond per-rule numerics.
import { expect } from 'chai';
import onnxProto from 'onnx-proto';
import { grad } from '../../graph/autodiff.ts';
import { Graph, int64Of, tensor } from '../../graph/ir.ts';
import * as o from '../../graph/ops.ts';
import { check, fromBytes, ModelError, OPSET, IR_VERSION, toBytes } from '../../graph/serialize.ts';
import { arr, rt, run } from '../helpers.ts';

const { onnx } = onnxProto;
type Mutate = (m: ReturnType<typeof onnx.ModelProto.decode>) => void;

/** A small valid model, mutated to make it malformed. */
function broken(mutate: Mutate): Uint8Array {
  const g = new Graph('m');
  const x = g.input('x', 'float32', [2, 3]);
  const w = g.input('w', 'float32', [3, 4]);
  g.output(o.relu(o.matmul(x, w)), 'y');
  const m = onnx.ModelProto.decode(toBytes(g));
  mutate(m);
  return onnx.ModelProto.encode(m).finish();
}

describe('graph: builder, serialization, checker', () => {
  it('round-trips a model with the project opset and IR version, shapes re-derived', () => {
    const g = new Graph('m');
    const x = g.input('x', 'float32', ['N', 3]);
    const y = o.reduceSum(o.tanh(o.gemm(x, g.constant(tensor('float32', [4, 3], new Array(12).fill(0.1))), null, { transB: true })), [1]);
    g.output(y, 'y');
    const p = fromBytes(toBytes(g, { metadata: { a: 'b' } }));
    expect(p.opset).to.equal(OPSET);
    expect(p.irVersion).to.equal(IR_VERSION);
    expect(p.metadata).to.deep.equal({ a: 'b' });
    expect(p.graph.outputs[0].shape).to.deep.equal(['N']);
  });

  it('names the node and value at fault in a malformed model', () => {
    expect(() => check(broken((m) => (m.graph!.node![1].input![0] = 'nope')))).to.throw(ModelError, /node 'Relu_1' \(Relu\): input 'nope' is not defined/);
    expect(() => check(broken((m) => (m.graph!.input![1].type!.tensorType!.elemType = 11)))).to.throw(ModelError, /node 'MatMul_0' \(MatMul\): input dtypes differ: float32 vs float64/);
    expect(() => check(broken((m) => (m.graph!.input![1].type!.tensorType!.shape!.dim![0].dimValue = 5)))).to.throw(ModelError, /node 'MatMul_0' \(MatMul\): inner dimensions differ/);
    expect(() => check(broken((m) => (m.graph!.input![1].type!.tensorType!.shape!.dim = [])))).to.throw(ModelError, /node 'MatMul_0' \(MatMul\): MatMul needs operands of rank >= 1, got ranks 2 and 0/);
    expect(() => check(broken((m) => (m.graph!.node![1].output![0] = 'x')))).to.throw(ModelError, /node 'Relu_1' \(Relu\): duplicate value name 'x'/);
    expect(() => check(broken((m) => (m.graph!.output![0].name = 'zzz')))).to.throw(ModelError, /graph output 'zzz' is not produced/);
    expect(() => check(broken((m) => (m.graph!.node![0].opType = 'Frobnicate')))).to.throw(ModelError, /operator 'Frobnicate' is not supported/);
    expect(() => check(new Uint8Array([1, 2, 3, 4, 5]))).to.throw(ModelError, /not a valid ONNX model/);
  });

  it('regressions found by the fuzzer: one-line errors for control characters, element types, duplicate inputs', () => {
    const nl = () => check(broken((m) => (m.graph!.node![1].input![0] = 'bad\nname')));
    expect(nl).to.throw(ModelError, /input 'bad\\x0aname' is not defined/);
    try {
      nl();
    } catch (e) {
      expect((e as Error).message).to.not.include('\n');
    }
    expect(() => check(broken((m) => (m.graph!.input![0].type!.tensorType!.elemType = 17)))).to.throw(ModelError, /value 'x': unsupported ONNX element type 17/);
    expect(() => check(broken((m) => m.graph!.input!.push(m.graph!.input![0])))).to.throw(ModelError, /graph input 'x': duplicate value name/);
    // A variadic op with an empty input name in the middle (found after the step compiler's redesign).
    const sumWithHole = (m: Parameters<Mutate>[0]) => {
      m.graph!.node![1].opType = 'Sum';
      m.graph!.node![1].input = [m.graph!.node![0].output![0], '', m.graph!.node![0].output![0]];
    };
    expect(() => check(broken(sumWithHole))).to.throw(ModelError, /node 'Relu_1' \(Sum\): input 1 is required/);
  });

  it('refuses a malformed graph as it is built, naming the op and the values', () => {
    const g = new Graph('b');
    const a = g.input('a', 'float32', [2, 3]);
    const b = g.input('b', 'float32', [4, 5]);
    expect(() => o.matmul(a, b)).to.throw(/MatMul\(a: float32\[2,3\], b: float32\[4,5\]\): inner dimensions differ/);
    expect(() => o.add(a, b)).to.throw(/Add\(a: float32\[2,3\], b: float32\[4,5\]\): cannot broadcast dimensions 2 and 4/);
    expect(() => g.input('a', 'float32', [1])).to.throw(/duplicate value name 'a'/);
  });

  it('drops nodes that reach no output', () => {
    const g = new Graph('dce');
    const x = g.input('x', 'float32', [3]);
    o.exp(o.sigmoid(x)); // dead
    g.output(o.neg(x), 'y');
    expect(fromBytes(toBytes(g)).graph.nodes.map((n) => n.op)).to.deep.equal(['Neg']);
  });
});

describe('grad(): structure', () => {
  it('sums the gradients of a value used several times with one Sum node', () => {
    const g = new Graph('acc');
    const x = g.input('x', 'float32', [3]);
    const y = o.reduceSum(o.add(o.add(o.mul(x, x), o.exp(x)), o.tanh(x)));
    const before = g.nodes.length;
    const [dx] = grad(y, [x]);
    const added = g.nodes.slice(before);
    const sums = added.filter((n) => n.op === 'Sum');
    expect(sums).to.have.length(1);
    expect(sums[0].outputs[0]).to.equal(dx);
    expect(sums[0].inputs).to.have.length(4); // x*x contributes twice, exp and tanh once each
  });

  it('emits no gradient node for inputs that do not lead to the sources', () => {
    const g = new Graph('dead');
    const x = g.input('x', 'float32', [4, 3]);
    const w = g.input('w', 'float32', [3, 2]);
    const y = o.reduceSum(o.matmul(o.tanh(x), w));
    const before = g.nodes.length;
    grad(y, [w]); // d/dw only: nothing may flow into tanh(x) or x
    const ops = g.nodes.slice(before).map((n) => n.op);
    expect(ops).to.not.include('Tanh');
    expect(ops.filter((op) => op === 'Gemm' || op === 'MatMul')).to.have.length(1);
  });

  it('stopGradient makes a value a constant for grad()', async () => {
    const g = new Graph('stop');
    const x = g.input('x', 'float32', [2]);
    const y = o.reduceSum(o.mul(x, o.stopGradient(x))); // d/dx = x, not 2x
    g.output(grad(y, [x])[0], 'dx');
    const r = await run(g, { x: tensor('float32', [2], [3, -2]) });
    expect(arr(r.dx)).to.deep.equal([3, -2]);
  });

  it('reports an op without a gradient rule by type and node name', () => {
    const g = new Graph('norule');
    const x = g.input('x', 'float32', [2, 3]);
    // Host-drawn noise is fed, never made in a graph that is differentiated.
    const y = o.reduceSum(o.mul(o.op('RandomNormalLike', [x]), x));
    expect(() => grad(y, [x])).to.throw(/no gradient rule for op RandomNormalLike \(node RandomNormalLike_\d+\); supported: Abs, Acos, Acosh, Add/);
  });

  it('differentiates inside a Loop body against values of the enclosing graph', async () => {
    // Each iteration: w <- w - 0.1 * d/dw sum((x w)^2), x from the outer graph.
    const g = new Graph('outer');
    const x = g.input('x', 'float32', [2, 2]);
    const w0 = g.input('w0', 'float32', [2, 1]);
    const body = g.subgraph('body');
    body.input('i', 'int64', []);
    const cond = body.input('cond', 'bool', []);
    const w = body.input('w', 'float32', [2, 1]);
    const loss = o.reduceSum(o.square(o.matmul(x, w)));
    const [dw] = grad(loss, [w]);
    body.output(cond, 'cond_out');
    body.output(o.sub(w, o.mul(dw, 0.1)), 'w_out');
    const trip = g.constant(tensor('int64', [], [3]));
    const [wn] = g.addNode('Loop', [trip, null, w0], [{ dtype: 'float32', shape: [2, 1] }], { body: { kind: 'graph', value: body } });
    g.output(wn, 'w_final');
    let ref = [1, -1];
    const X = [1, 2, 3, 4];
    for (let k = 0; k < 3; k++) {
      const r0 = X[0] * ref[0] + X[1] * ref[1];
      const r1 = X[2] * ref[0] + X[3] * ref[1];
      ref = [ref[0] - 0.1 * 2 * (r0 * X[0] + r1 * X[2]), ref[1] - 0.1 * 2 * (r0 * X[1] + r1 * X[3])];
    }
    const r = await run(g, { x: tensor('float32', [2, 2], X), w0: tensor('float32', [2, 1], [1, -1]) });
    const got = arr(r.w_final);
    got.forEach((v, i) => expect(v).to.be.closeTo(ref[i], 1e-3 * Math.max(1, Math.abs(ref[i]))));
  });
});

describe('graph/ir int64', () => {
  it("saturates at int64's ends instead of wrapping: torch's INT64_MAX open slice end stays INT64_MAX", async () => {
    const t = tensor('int64', [4], [2 ** 63, -(2 ** 63), 9223372036854775807, -5]);
    expect(Array.from(t.data as BigInt64Array)).to.deep.equal([2n ** 63n - 1n, -(2n ** 63n), 2n ** 63n - 1n, -5n]);
    expect(int64Of(3.9)).to.equal(3n);
    // Through a model and back: x[:, 1:] written with an INT64_MAX end slices, it does not come out empty.
    const g = new Graph('slice');
    const x = g.input('x', 'float32', [2, 3]);
    g.output(o.slice(x, [1], [2 ** 63], [1]), 'y');
    const back = fromBytes(toBytes(g));
    const ends = back.graph.constantOf(back.graph.nodes.find((n) => n.op === 'Slice')!.inputs[2]!)!;
    expect(Array.from(ends.data as BigInt64Array)).to.deep.equal([2n ** 63n - 1n]);
    const s = await rt.createSession(toBytes(g));
    const y = (await s.run({ x: tensor('float32', [2, 3], [1, 2, 3, 4, 5, 6]) })).y;
    await s.release();
    expect(y.dims).to.deep.equal([2, 2]);
    expect(Array.from(y.data as Float32Array)).to.deep.equal([2, 3, 5, 6]);
  });
});
