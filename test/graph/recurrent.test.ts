// graph/recurrent.ts: RNN, GRU and LSTM unrolled into their ops give onnxruntime's own kernels' outputs
// (every direction, both GRU variants, with and without initial states and biases), and their gradients
// and second derivatives agree with central finite differences.
import { expect } from 'chai';
import { grad } from '../../graph/autodiff.ts';
import { Graph, tensor, type Attr, type DType, type Value } from '../../graph/ir.ts';
import * as o from '../../graph/ops.ts';
import { unrollRecurrent, type RecurrentOp } from '../../graph/recurrent.ts';
import { Rng } from '../../data/random.ts';
import { arr, expectClose, session } from '../helpers.ts';

interface Case {
  op: RecurrentOp;
  direction?: 'forward' | 'reverse' | 'bidirectional';
  linearBeforeReset?: boolean;
  bias?: boolean;
  initial?: boolean;
}
const T = 3;
const N = 2;
const I = 3;
const H = 2;
const GATES = { RNN: 1, GRU: 3, LSTM: 4 };

function inputsOf(c: Case) {
  const dirs = c.direction === 'bidirectional' ? 2 : 1;
  const G = GATES[c.op];
  const rng = Rng.stream(7, `${c.op}-${c.direction}-${c.linearBeforeReset}-${c.bias}-${c.initial}`);
  const r = (shape: number[], scale = 0.6) => ({ shape, data: Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => scale * rng.normal()) });
  const xs = [r([T, N, I], 1), r([dirs, G * H, I]), r([dirs, G * H, H])];
  if (c.bias || c.initial) xs.push(r([dirs, 2 * G * H], 0.3));
  if (c.initial) xs.push(r([dirs, N, H]), ...(c.op === 'LSTM' ? [r([dirs, N, H])] : []));
  return xs;
}

function attrsOf(c: Case): Record<string, Attr> {
  const a: Record<string, Attr> = { hidden_size: { kind: 'int', value: H } };
  if (c.direction) a.direction = { kind: 'string', value: c.direction };
  if (c.linearBeforeReset) a.linear_before_reset = { kind: 'int', value: 1 };
  return a;
}

/** The op's inputs in ONNX's order: X, W, R, B, sequence_lens (none), initial_h, initial_c. */
const ordered = (c: Case, vs: Value[]) => [vs[0], vs[1], vs[2], vs[3] ?? null, null, ...(c.initial ? vs.slice(4) : [])];

const CASES: Case[] = [
  { op: 'RNN', bias: true },
  { op: 'RNN', direction: 'reverse', initial: true },
  { op: 'GRU', bias: true },
  { op: 'GRU', linearBeforeReset: true, bias: true, direction: 'bidirectional' },
  { op: 'GRU', linearBeforeReset: true, initial: true },
  { op: 'LSTM' },
  { op: 'LSTM', bias: true, initial: true },
  { op: 'LSTM', direction: 'bidirectional', bias: true },
];
const name = (c: Case) => `${c.op}${c.direction ? ` ${c.direction}` : ''}${c.linearBeforeReset ? ' linear_before_reset' : ''}${c.bias ? ' +bias' : ''}${c.initial ? ' +initial states' : ''}`;

describe('graph/recurrent', () => {
  for (const c of CASES) {
    it(`${name(c)}: unrolled = onnxruntime's ${c.op} kernel (Y, Y_h${c.op === 'LSTM' ? ', Y_c' : ''}, 1e-5)`, async () => {
      const xs = inputsOf(c);
      const build = (unrolled: boolean) => {
        const g = new Graph('rnn');
        const vs = xs.map((x, i) => g.input(`x${i}`, 'float32', x.shape));
        const outs = unrolled ? unrollRecurrent(c.op, ordered(c, vs), attrsOf(c)) : o.opN(c.op, ordered(c, vs), attrsOf(c));
        outs.forEach((v, i) => g.output(v, `y${i}`));
        return g;
      };
      const feeds = Object.fromEntries(xs.map((x, i) => [`x${i}`, tensor('float32', x.shape, x.data)]));
      const [mine, theirs] = [await (await session(build(true))).run(feeds), await (await session(build(false))).run(feeds)];
      for (const k of Object.keys(theirs)) {
        expect(mine[k].dims, k).to.deep.equal(theirs[k].dims);
        expectClose(arr(mine[k]), arr(theirs[k]), 1e-5, 1e-6, `${name(c)} ${k}`);
      }
    });
  }

  for (const c of [CASES[1], CASES[3], CASES[6]]) {
    it(`${name(c)}: gradients and second derivatives of the unrolled form match central differences (float64)`, async () => {
      const xs = inputsOf(c);
      const dt: DType = 'float64';
      const g = new Graph('rnn-grad');
      const vs = xs.map((x, i) => g.input(`x${i}`, dt, x.shape));
      const outs = unrollRecurrent(c.op, ordered(c, vs), attrsOf(c));
      const rng = Rng.stream(3, name(c));
      const weight = (v: Value) => g.constant(tensor(dt, v.shape as number[], Array.from({ length: (v.shape as number[]).reduce((a, b) => a * b, 1) }, () => rng.normal())));
      const L = o.sum(...outs.map((y) => o.reduceSum(o.mul(y, weight(y)))));
      const g1 = grad(L, vs);
      const L2 = o.sum(...g1.map((gi, i) => o.reduceSum(o.mul(gi, weight(vs[i])))));
      const g2 = grad(L2, vs);
      g.output(L, 'L');
      g.output(L2, 'L2');
      g1.forEach((v, i) => g.output(v, `g${i}`));
      g2.forEach((v, i) => g.output(v, `gg${i}`));
      const s = await session(g);
      const feeds = (data: number[][]) => Object.fromEntries(xs.map((x, i) => [`x${i}`, tensor(dt, x.shape, data[i])]));
      const base = xs.map((x) => x.data);
      const r = await s.run(feeds(base));
      const h = 1e-6;
      for (let i = 0; i < xs.length; i++) {
        const [fd1, fd2]: number[][] = [[], []];
        for (let k = 0; k < base[i].length; k++) {
          const at = (d: number) => base.map((b, j) => (j === i ? b.map((v, m) => (m === k ? v + d : v)) : b));
          const [p, m] = [await s.run(feeds(at(h)), ['L', 'L2']), await s.run(feeds(at(-h)), ['L', 'L2'])];
          fd1.push((arr(p.L)[0] - arr(m.L)[0]) / (2 * h));
          fd2.push((arr(p.L2)[0] - arr(m.L2)[0]) / (2 * h));
        }
        expectClose(arr(r[`g${i}`]), fd1, 1e-6, 1e-7, `${name(c)} dL/dx${i}`);
        expectClose(arr(r[`gg${i}`]), fd2, 1e-5, 1e-6, `${name(c)} dL2/dx${i}`);
      }
    });
  }

  it('refuses what it does not unroll, naming it', () => {
    const g = new Graph('bad');
    const [x, w, r] = [g.input('x', 'float32', [T, N, I]), g.input('w', 'float32', [1, 4 * H, I]), g.input('r', 'float32', [1, 4 * H, H])];
    expect(() => unrollRecurrent('LSTM', [x, w, r], { hidden_size: { kind: 'int', value: H }, clip: { kind: 'float', value: 3 } })).to.throw(/^LSTM: clip 3 is not supported when unrolling/);
    expect(() => unrollRecurrent('LSTM', [x, w, r, null, g.input('lens', 'int32', [N])], { hidden_size: { kind: 'int', value: H } })).to.throw(/sequence_lens/);
  });
});
