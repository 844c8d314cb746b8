// graph/portable.ts: Sums become chains of Adds, wide Splits and Concats become trees of narrow ones; the
// outputs stay bit-identical (CPU) and every node is within what a WebGPU shader can bind.
import { expect } from 'chai';
import type { Value } from '../../graph/ir.ts';
import * as o from '../../graph/ops.ts';
import { MAX_TENSORS, portable } from '../../graph/portable.ts';
import { rewrittenRuns } from '../helpers.ts';

const wave = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.37 + seed) * (1 + (i % 5)) * 1e3 ** (i % 3));

/** f over inputs of the given shapes, as built and after portable(); both run on the CPU. */
async function check(shapes: number[][], f: (...xs: Value[]) => Value[]) {
  const { result: counts, graph: low, before: a, after: b } = await rewrittenRuns(shapes, f, (g) => portable(g), wave);
  for (const k of Object.keys(a)) expect(Array.from(b[k].data as Float32Array), k).to.deep.equal(Array.from(a[k].data as Float32Array));
  for (const n of low.nodes) {
    expect(n.op, 'no Sum left').to.not.equal('Sum');
    if (n.op === 'Split' || n.op === 'Concat') expect(n.inputs.filter((x) => x && !low.isInitializer(x)).length + n.outputs.length, `${n.op} tensors`).to.be.at.most(MAX_TENSORS);
  }
  return { counts, nodes: low.nodes };
}

describe('portable rewrites: every node runs on every provider, outputs bit-identical', () => {
  it('writes a Sum as Adds from left to right, as the CPU sums (a graph output keeps its name)', async () => {
    const { counts, nodes } = await check([[5], [5], [1], [5]], (a, b, c, d) => [o.sum(a, b, c, d), o.exp(o.sum(a, b))]);
    expect(counts.Sum).to.equal(2);
    expect(nodes.map((n) => n.op)).to.deep.equal(['Add', 'Add', 'Add', 'Add', 'Exp']);
  });

  it('splits a parameter vector into 60 tensors through Splits of at most 7 outputs', async () => {
    const sizes = Array.from({ length: 60 }, (_, i) => 1 + (i % 7));
    const total = sizes.reduce((a, b) => a + b, 0);
    const { counts } = await check([[total]], (x) => o.split(x, sizes).map((p) => o.mul(p, 2)));
    expect(counts.Split).to.be.greaterThan(1);
  });

  it('concatenates 60 tensors through Concats of at most 7 inputs', async () => {
    const shapes = Array.from({ length: 60 }, (_, i) => [1 + (i % 4)]);
    await check(shapes, (...xs) => [o.concat(xs, 0)]);
    // Along an inner axis too.
    await check(Array.from({ length: 9 }, () => [2, 3]), (...xs) => [o.concat(xs, 1)]);
  });

  it('leaves narrow Splits and Concats as they are', async () => {
    const { counts } = await check([[6], [3]], (x, y) => [...o.split(x, [2, 4]), o.concat([x, y], 0)]);
    expect(counts).to.deep.equal({});
  });
});
