// graph/loop.ts: a loop written as a loop, as one ONNX Loop node and unrolled, against the same for-loop
// in JS: carried values, the iteration index and stacked scans.
import { expect } from 'chai';
import { Graph } from '../../graph/ir.ts';
import { loop, unrolled } from '../../graph/loop.ts';
import { add, cast, mul } from '../../graph/ops.ts';
import { expectClose, run } from '../helpers.ts';

describe('graph/loop', () => {
  const trips = 5;
  const x0 = [1, -2, 0.5];
  // acc <- acc * 0.5 + i; the scan is acc after each step.
  const js = () => {
    let acc = x0.slice();
    const scans: number[] = [];
    for (let i = 0; i < trips; i++) {
      acc = acc.map((a) => a * 0.5 + i);
      scans.push(...acc);
    }
    return { acc, scans };
  };
  for (const [kind, make] of [['Loop', loop], ['unrolled', unrolled]] as const) {
    it(`${kind}: final carried values and stacked scans equal the JS for-loop`, async () => {
      const g = new Graph(kind);
      const x = g.input('x', 'float32', [3]);
      const { final, scans } = make(g, trips, { acc: x }, (i, cur) => {
        const next = add(mul(cur.acc, 0.5), cast(i, 'float32'));
        return { next: { acc: next }, scans: { seen: next } };
      });
      g.output(final.acc, 'acc');
      g.output(scans.seen, 'seen');
      expect(g.nodes.some((n) => n.op === 'Loop')).to.equal(kind === 'Loop');
      const out = await run(g, { x: { dtype: 'float32', dims: [3], data: Float32Array.from(x0) } });
      const want = js();
      expectClose(out.acc.data as Float32Array, want.acc, 1e-6, 1e-6, 'acc');
      expect(out.seen.dims).to.deep.equal([trips, 3]);
      expectClose(out.seen.data as Float32Array, want.scans, 1e-6, 1e-6, 'scans');
    });
  }

  it('a body that returns other names than it carries, or a trip count below 1, is refused naming the loop', () => {
    const g = new Graph('bad');
    const x = g.input('x', 'float32', [1]);
    expect(() => loop(g, 3, { a: x }, () => ({ next: { b: x } as never }), 'steps')).to.throw("loop 'steps': the body returns no next value for 'a'");
    expect(() => unrolled(g, 0, { a: x }, (_i, c) => ({ next: c }), 'steps')).to.throw("unrolled loop 'steps': trip count must be a positive integer, got 0");
  });
});
