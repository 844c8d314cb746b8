// LeCam regularization (losses/lecam.ts) against Tseng et al. 2021 written out in JS (google/lecam-gan's
// lecam_reg): E[relu(D(x) - a_F)^2] + E[relu(a_R - D(G(z)))^2], and the anchors' moving averages as state;
// its gradient w.r.t. the critic's scores by central differences.
import { expect } from 'chai';
import { grad } from '../../graph/autodiff.ts';
import { Graph } from '../../graph/ir.ts';
import { buildLoss } from '../../losses/index.ts';
import { lecam } from '../../losses/lecam.ts';
import { fixedContext, run } from '../helpers.ts';

const R = [0.9, 1.4, -0.2, 0.3];
const F = [-0.5, 0.3, -1.1, 0.8];
const [aR, aF] = [0.6, -0.1];
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const relu = (x: number) => Math.max(0, x);
const reg = (r: number[], f: number[]) => mean(r.map((x) => relu(x - aF) ** 2)) + mean(f.map((x) => relu(aR - x) ** 2));

describe('losses/lecam', () => {
  it('weight x the regularizer, its gradient by central differences, and the anchors advance by 1 % toward the batch means', async () => {
    const g = new Graph('lecam');
    const real = g.input('r', 'float32', [4, 1]);
    const fake = g.input('f', 'float32', [4, 1]);
    const ctx = fixedContext((x) => x, real, fake, 4, { 'lecam.real': { data: [aR], shape: [] }, 'lecam.fake': { data: [aF], shape: [] } });
    const p = lecam(0.3);
    const v = p.build(ctx);
    g.output(v, 'reg');
    const [dr, df] = grad(v, [real, fake]);
    g.output(dr, 'dr');
    g.output(df, 'df');
    g.output(ctx.writes.get('lecam.real')!, 'aR');
    g.output(ctx.writes.get('lecam.fake')!, 'aF');
    const feed = (xs: number[]) => ({ dtype: 'float32' as const, dims: [4, 1], data: Float32Array.from(xs) });
    const out = await run(g, { r: feed(R), f: feed(F) });
    expect((out.reg.data as Float32Array)[0]).to.be.closeTo(0.3 * reg(R, F), 1e-6);
    const h = 1e-4;
    const central = (xs: number[], i: number, f: (x: number[]) => number) => (f(xs.map((x, j) => (j === i ? x + h : x))) - f(xs.map((x, j) => (j === i ? x - h : x)))) / (2 * h);
    R.forEach((_, i) => expect((out.dr.data as Float32Array)[i], `dR[${i}]`).to.be.closeTo(0.3 * central(R, i, (r) => reg(r, F)), 1e-4));
    F.forEach((_, i) => expect((out.df.data as Float32Array)[i], `dF[${i}]`).to.be.closeTo(0.3 * central(F, i, (f) => reg(R, f)), 1e-4));
    expect((out.aR.data as Float32Array)[0]).to.be.closeTo(0.99 * aR + 0.01 * mean(R), 1e-7);
    expect((out.aF.data as Float32Array)[0]).to.be.closeTo(0.99 * aF + 0.01 * mean(F), 1e-7);
    expect(p.states.map((s) => s.name)).to.deep.equal(['lecam.real', 'lecam.fake']);
  });

  it('combines with any loss and its own penalty: --lecam adds it beside the gradient penalty', () => {
    expect(buildLoss('wgan-gp', { lecam: 0.3 }).penalties.map((p) => p.name)).to.deep.equal(['gp', 'lecam']);
    expect(buildLoss('sngan', { lecam: 0.1 }).penalties.map((p) => p.name)).to.deep.equal(['lecam']);
    expect(buildLoss('sngan').penalties).to.deep.equal([]);
  });
});
