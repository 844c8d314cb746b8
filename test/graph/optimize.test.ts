// graph/optimize.ts: each rule fires where it should and leaves the outputs as they were; whole step
// programs (one step and fused Loops, MLP, DCGAN, ResNet) give the same outputs optimized or not.
import { expect } from 'chai';
import { Graph, tensor, type Value } from '../../graph/ir.ts';
import { optimize } from '../../graph/optimize.ts';
import * as o from '../../graph/ops.ts';
import { fromBytes } from '../../graph/serialize.ts';
import { benchSetup } from '../../bench/cases.ts';
import { StepCompiler } from '../../training/step.ts';
import type { CompiledProgram } from '../../training/program.ts';
import type { Feeds } from '../../runtime/runtime.ts';
import { rewrittenRuns, rt, run } from '../helpers.ts';

const wave = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.37 + seed) * (1 + (i % 5)));

/** Build f over inputs of the given shapes twice, optimize one copy, run both on the same feeds. */
async function check(shapes: number[][], f: (...xs: Value[]) => Value, expectRule: string) {
  const { result: stats, before: a, after: b } = await rewrittenRuns(shapes, f, optimize, wave);
  expect(stats.rules[expectRule], `rule ${expectRule} fired (${JSON.stringify(stats.rules)})`).to.be.greaterThan(0);
  expect(stats.after).to.be.lessThan(stats.before);
  expect(Array.from(b.y0.data as Float32Array)).to.deep.equal(Array.from(a.y0.data as Float32Array));
  return stats;
}

describe('graph optimizer: each rewrite, outputs bit-identical', () => {
  it('forwards neutral operations: x * 1, x + 0, x - 0, x / 1, Identity, neg(neg(x))', async () => {
    await check([[2, 3]], (x) => o.div(o.sub(o.add(o.mul(x, 1), 0), 0), 1), 'Mul');
    await check([[2, 3]], (x) => o.tanh(o.identity(o.add(0, x))), 'Identity');
    await check([[2, 3]], (x) => o.exp(o.neg(o.neg(x))), 'Neg');
  });

  it('keeps an operation with a neutral constant that broadcasts its input to a larger shape', async () => {
    const g = new Graph('t');
    const x = g.input('x', 'float32', [3]);
    g.output(o.mul(x, g.constant(tensor('float32', [2, 3], [1, 1, 1, 1, 1, 1]))), 'y');
    const stats = optimize(g);
    expect(stats.rules.Mul ?? 0).to.equal(0);
    expect((await run(g, { x: { dtype: 'float32', dims: [3], data: new Float32Array([1, 2, 3]) } })).y.dims).to.deep.equal([2, 3]);
  });

  it('cancels and composes transposes, merges reshape chains, drops reshapes to the same shape', async () => {
    await check([[2, 3, 4]], (x) => o.exp(o.transpose(o.transpose(x, [2, 0, 1]), [1, 2, 0])), 'Transpose');
    await check([[2, 3, 4]], (x) => o.exp(o.transpose(o.transpose(x, [1, 0, 2]), [0, 2, 1])), 'Transpose');
    await check([[2, 3, 4]], (x) => o.exp(o.reshape(o.unsqueeze(o.reshape(x, [6, 4]), [0]), [4, 6])), 'Reshape');
    await check([[2, 3, 4]], (x) => o.exp(o.reshape(x, [2, 3, 4])), 'Reshape');
  });

  it('sums gradient contributions in one Sum, in their order', async () => {
    await check([[4], [4], [4], [4]], (a, b, c, d) => o.exp(o.add(o.add(o.add(a, b), c), d)), 'Add');
    await check([[4], [4], [4]], (a, b, c) => o.exp(o.sum(o.sum(a, b), c)), 'Sum');
  });

  it('shares identical subexpressions and turns products with a boolean mask into Where', async () => {
    await check([[5]], (x) => o.add(o.exp(o.mul(x, 2)), o.exp(o.mul(x, 2))), 'CSE');
    await check([[5]], (x) => o.exp(o.mul(x, o.cast(o.greater(x, 0), 'float32'))), 'Mul');
  });

  it('leaves graph outputs under their names, even when their producer could be forwarded', async () => {
    const g = new Graph('t');
    const x = g.input('x', 'float32', [2]);
    g.output(o.mul(x, 1), 'y');
    g.output(o.neg(o.neg(x)), 'z');
    optimize(g);
    const r = await run(g, { x: { dtype: 'float32', dims: [2], data: new Float32Array([1, -2]) } });
    expect(Array.from(r.y.data as Float32Array)).to.deep.equal([1, -2]);
    expect(Array.from(r.z.data as Float32Array)).to.deep.equal([1, -2]);
  });
});

/** Every input of a program filled deterministically: counters small, second moments positive. */
function feedsFor(p: CompiledProgram): Feeds {
  const feeds: Feeds = {};
  for (const inp of p.signature.inputs) {
    const dims = inp.shape as number[];
    const n = dims.reduce((a, b) => a * b, 1);
    const data = inp.role === 'counter' ? new Float32Array(n).fill(3) : inp.role === 'lr' ? new Float32Array(n).fill(1e-3) : wave(n, inp.name.length).map((v) => (inp.role === 'slot' ? Math.abs(v) * 0.1 : inp.draw?.dist === 'uniform' ? Math.abs(v) % 1 : v * 0.3));
    feeds[inp.name] = { dtype: 'float32', dims, data };
  }
  return feeds;
}

describe('graph optimizer on step programs: same outputs, fewer nodes', function () {
  this.timeout(120_000);
  const cases: [string, string | undefined, number][] = [['mlp', undefined, 0], ['dcgan', undefined, 4], ['resnet', 'wgan-gp', 8], ['resnet', 'sngan', 8]];
  for (const [name, loss, width] of cases) {
    it(`${name}${loss ? ` ${loss}` : ''}: critic step, generator step and two fused iterations`, async () => {
      const setup = benchSetup(name, { loss, width: width || undefined }).setup;
      const build = (optimize: boolean) => {
        const c = new StepCompiler(setup, { optimize });
        return [c.stepProgram('D'), c.stepProgram('G'), c.fusedProgram(2, 2)];
      };
      const [plain, opt] = [build(false), build(true)];
      for (let i = 0; i < plain.length; i++) {
        // A fused program's work is its Loop body; a step program's its top-level graph.
        const work = (p: CompiledProgram) => {
          const g = fromBytes(p.model).graph;
          const body = g.nodes.find((n) => n.op === 'Loop')?.attrs.body;
          return body?.kind === 'graph' ? body.value.nodes.length : g.nodes.length;
        };
        expect(work(opt[i]), `${plain[i].signature.program} nodes`).to.be.lessThan(work(plain[i]));
        const feeds = feedsFor(plain[i]);
        const [a, b] = await Promise.all([plain[i], opt[i]].map(async (p) => (await rt.createSession(p.model, { threads: 1 })).run(feeds)));
        for (const k of Object.keys(a)) {
          const x = Array.from(a[k].data as ArrayLike<number>, Number);
          const y = Array.from(b[k].data as ArrayLike<number>, Number);
          const worst = x.reduce((m, v, j) => Math.max(m, Math.abs(v - y[j]) / (1e-6 + Math.abs(v))), 0);
          expect(worst, `${plain[i].signature.program} output ${k}`).to.be.at.most(1e-6);
        }
      }
    });
  }
});
