// export/fold.ts: what depends on weights alone is computed once at export and stored as an initializer;
// the folded model holds only the ops applied to its input and gives the same outputs.
import { expect } from 'chai';
import { Graph, tensor } from '../../graph/ir.ts';
import { div, matmul, reshape, sqrt } from '../../graph/ops.ts';
import { fromBytes, toBytes } from '../../graph/serialize.ts';
import { foldedBytes } from '../../export/fold.ts';
import { rt } from '../helpers.ts';

async function runBytes(bytes: Uint8Array, feeds: Parameters<Awaited<ReturnType<typeof rt.createSession>>['run']>[0]) {
  const s = await rt.createSession(bytes, { threads: 1 });
  try {
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}

describe('export/fold', () => {
  it('folds weight-only nodes (a square root, a division, a reshape) into initializers; outputs unchanged', async () => {
    const g = new Graph('folding');
    const x = g.input('x', 'float32', ['N', 4]);
    const w = g.initializer('w', tensor('float32', [8], [1, 4, 9, 16, 25, 36, 49, 64]));
    const s = g.initializer('s', tensor('float32', [], [2]));
    g.output(matmul(x, reshape(div(sqrt(w), s), [4, 2])), 'y');
    const folded = await foldedBytes(g, {}, (m) => runBytes(m, {}));
    const ops = fromBytes(folded).graph.nodes.map((n) => n.op);
    expect(ops).to.deep.equal(['MatMul']);
    const feeds = { x: { dtype: 'float32' as const, dims: [3, 4], data: Float32Array.from({ length: 12 }, (_, i) => i / 3 - 1) } };
    const [a, b] = [await runBytes(toBytes(g), feeds), await runBytes(folded, feeds)];
    expect(Array.from(b.y.data as Float32Array)).to.deep.equal(Array.from(a.y.data as Float32Array));
  });
});
