// graph/schemas.ts: shape and type inference as ONNX defines it, checked where graphs are built: a
// mismatch is refused at the op that makes it, naming the shapes.
import { expect } from 'chai';
import { Graph } from '../../graph/ir.ts';
import { add, concat, matmul, reshape, transpose } from '../../graph/ops.ts';
import { broadcastShapes, sliceBounds } from '../../graph/schemas.ts';

describe('graph/schemas', () => {
  it('broadcasts as numpy does, symbolic dimensions included', () => {
    expect(broadcastShapes([4, 1, 3], [5, 1])).to.deep.equal([4, 5, 3]);
    expect(broadcastShapes(['N', 3], [1, 3])).to.deep.equal(['N', 3]);
    expect(broadcastShapes([2, 3], null)).to.equal(null);
    expect(() => broadcastShapes([2, 3], [4, 3])).to.throw('cannot broadcast dimensions 2 and 4');
  });

  it('clamps slice bounds as ONNX Slice does, for negative indices and steps', () => {
    expect(sliceBounds(-2, 1000, 1, 5)).to.deep.equal([3, 5]);
    expect(sliceBounds(4, -1000, -1, 5)).to.deep.equal([4, -1]);
  });

  it('infers the shapes of a small graph, and refuses a mismatched product at the node', () => {
    const g = new Graph('s');
    const x = g.input('x', 'float32', ['N', 8]);
    const w = g.input('w', 'float32', [8, 4]);
    const y = matmul(x, w);
    expect(y.shape).to.deep.equal(['N', 4]);
    expect(transpose(y, [1, 0]).shape).to.deep.equal([4, 'N']);
    expect(concat([y, y], 1).shape).to.deep.equal(['N', 8]);
    expect(reshape(g.input('z', 'float32', [2, 6]), [3, -1]).shape).to.deep.equal([3, 4]);
    expect(() => matmul(x, g.input('v', 'float32', [5, 4]))).to.throw(/MatMul/);
    expect(() => add(w, g.input('u', 'float32', [3, 4]))).to.throw(/cannot broadcast dimensions 8 and 3/);
  });
});
