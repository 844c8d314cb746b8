// export/opencv.ts: each rewrite keeps a model's outputs (onnxruntime before and after) and removes the
// form OpenCV's importer refuses; what no rewrite helps is named. OpenCV itself loads the results in
// test/runtime/interop.test.ts.
import { expect } from 'chai';
import { Graph, tensor } from '../../graph/ir.ts';
import * as o from '../../graph/ops.ts';
import { forOpenCv, openCvRefusal } from '../../export/opencv.ts';
import { arr, expectClose, run } from '../helpers.ts';
import { Rng } from '../../data/random.ts';

/** A graph on x [N, ...dims] built by f, run on a batch of 2 before and after forOpenCv: equal, and `gone` ops removed. */
async function keeps(dims: number[], f: (x: import('../../graph/ir.ts').Value) => import('../../graph/ir.ts').Value, gone: string) {
  const g = new Graph('m');
  const x = g.input('x', 'float32', ['N', ...dims]);
  g.output(f(x), 'y');
  const feed = { x: tensor('float32', [2, ...dims], Array.from(Rng.stream(1, gone).fillNormal(new Float32Array(2 * dims.reduce((a, b) => a * b, 1))))) };
  const before = arr((await run(g, feed)).y);
  const counts = forOpenCv(g);
  expect(counts[gone], `${gone} rewritten`).to.equal(1);
  expect(g.nodes.map((n) => n.op)).to.not.include(gone);
  expectClose(arr((await run(g, feed)).y), before, 1e-6, 1e-6, `${gone}: outputs after the rewrite`);
}

describe('export/opencv', () => {
  it('DepthToSpace (DCR and CRD) as Reshape, Transpose, Reshape', async () => {
    await keeps([8, 3, 2], (x) => o.depthToSpace(x, 2), 'DepthToSpace');
    await keeps([8, 3, 2], (x) => o.depthToSpace(x, 2, 'CRD'), 'DepthToSpace');
  });
  it('ReduceSum with its axes as an input as a ReduceMean times the count (keepdims 0 and 1)', async () => {
    await keeps([3, 4, 5], (x) => o.reduceSum(x, [2, 3], false), 'ReduceSum');
    await keeps([3, 4, 5], (x) => o.reduceSum(x, [1], true), 'ReduceSum');
  });
  it('Squeeze with its axes as an input as a Reshape; Tile by constant repeats as Concats', async () => {
    await keeps([3, 1, 4], (x) => o.squeeze(x, [2]), 'Squeeze');
    await keeps([3, 2], (x) => o.tile(x, [1, 2, 3]), 'Tile');
  });
  it('names what no rewrite helps: a class input, the batch read at run time, a missing layer, batch statistics', () => {
    const refusal = (build: (g: Graph) => void) => {
      const g = new Graph('m');
      build(g);
      return openCvRefusal(g);
    };
    expect(refusal((g) => g.output(o.relu(g.input('x', 'float32', ['N', 3])), 'y'))).to.equal(null);
    expect(refusal((g) => g.output(o.cast(g.input('label', 'int64', ['N']), 'float32'), 'y'))).to.equal("its input 'label' is int64 (OpenCV's DNN feeds float tensors only)");
    expect(refusal((g) => g.output(o.cast(o.shapeOf(g.input('z', 'float32', ['N', 3])), 'float32'), 'y'))).to.match(/^it reads the batch size at run time \(node 'Shape_\d+': Shape of 'z'/);
    expect(refusal((g) => g.output(o.einsum('ij,ij->i', [g.input('x', 'float32', [2, 3]), g.input('w', 'float32', [2, 3])]), 'y'))).to.match(/^it has no Einsum layer \(node 'Einsum_\d+'\)$/);
    expect(refusal((g) => {
      const x = g.input('x', 'float32', [2, 3]);
      const one = g.constant(tensor('float32', [3], [1, 1, 1]), 'one');
      g.output(g.addNode('BatchNormalization', [x, one, one, one, one], [{ dtype: 'float32', shape: [2, 3] }], { training_mode: { kind: 'int', value: 1 } })[0], 'y');
    })).to.match(/^it normalizes with each batch's statistics/);
  });
});
