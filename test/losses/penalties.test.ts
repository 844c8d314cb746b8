// The WGAN-GP critic loss of an MLP critic, built by the project's own model and loss code, against PyTorch:
// the penalty's value and its gradient w.r.t. every critic weight (the double backward).
import { grad } from '../../graph/autodiff.ts';
import { Graph, tensor, type DType, type Value } from '../../graph/ir.ts';
import { add } from '../../graph/ops.ts';
import { gradientPenalty } from '../../losses/penalties.ts';
import { wasserstein } from '../../losses/standard.ts';
import { mlp } from '../../models/mlp.ts';
import { arr, expectClose, fixedContext, fixture, run } from '../helpers.ts';

interface GpFixture {
  dtype: DType;
  widths: number[];
  lambda: number;
  alpha: number;
  batch: number;
  params: Record<string, { shape: number[]; data: number[] }>;
  real: number[];
  fake: number[];
  eps: number[];
  penalty: number;
  loss: number;
  grad_penalty: Record<string, number[]>;
  grad_loss: Record<string, number[]>;
}

describe('WGAN-GP of an MLP critic against PyTorch (double backward)', () => {
  const fx = fixture<Record<'float64' | 'float32', GpFixture>>('wgan_gp_mlp.json');
  for (const key of ['float64', 'float32'] as const) {
    it(`${key}: penalty, critic loss and their gradients w.r.t. every critic weight`, async () => {
      const f = fx[key];
      const dt = f.dtype;
      const g = new Graph('gp');
      const critic = mlp({ widths: f.widths, activation: 'leaky_relu', alpha: f.alpha, prefix: 'D' });
      const p: Record<string, Value> = {};
      for (const [name, t] of Object.entries(f.params)) p[name] = g.input(name, dt, t.shape);
      const c = (data: number[], shape: number[]) => g.constant(tensor(dt, shape, data));
      const real = c(f.real, [f.batch, 2]);
      const fake = c(f.fake, [f.batch, 2]);
      const D = (x: Value) => critic.forward(x, p);
      const ctx = fixedContext(D, real, fake, f.batch, { 'gp.eps': { data: f.eps, shape: [f.batch, 1] } });
      const penalty = gradientPenalty(f.lambda).build(ctx);
      const loss = add(wasserstein().critic(ctx).loss, penalty);
      const names = Object.keys(f.params);
      const gp = grad(penalty, names.map((n) => p[n]));
      const gl = grad(loss, names.map((n) => p[n]));
      g.output(penalty, 'penalty');
      g.output(loss, 'loss');
      names.forEach((n, i) => {
        g.output(gp[i], `gp:${n}`);
        g.output(gl[i], `gl:${n}`);
      });
      const feeds = Object.fromEntries(names.map((n) => [n, tensor(dt, f.params[n].shape, f.params[n].data)]));
      const r = await run(g, feeds);
      const tol = dt === 'float64' ? 1e-7 : 2e-4; // float64: LeakyRelu's alpha attribute is float32
      expectClose(arr(r.penalty), [f.penalty], tol, tol, 'penalty');
      expectClose(arr(r.loss), [f.loss], tol, tol, 'loss');
      for (const n of names) {
        expectClose(arr(r[`gp:${n}`]), f.grad_penalty[n], tol, tol, `d penalty / d ${n}`);
        expectClose(arr(r[`gl:${n}`]), f.grad_loss[n], tol, tol, `d loss / d ${n}`);
      }
    });
  }
});

describe('non-saturating and minimax losses on fixed logits', () => {
  it('match their closed forms', async () => {
    const { minimax, nonSaturating } = await import('../../losses/standard.ts');
    const dr = [1.5, -0.3, 0.2, 4];
    const df = [-2, 0.7, 0.1, -30];
    const sp = (x: number) => Math.log1p(Math.exp(-Math.abs(x))) + Math.max(x, 0);
    const meanOf = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const g = new Graph('l');
    const real = g.input('r', 'float32', [4, 1]);
    const fake = g.input('f', 'float32', [4, 1]);
    const ctx = fixedContext((x) => x, real, fake, 4);
    g.output(nonSaturating().critic(ctx).loss, 'd');
    g.output(nonSaturating().generator(ctx).loss, 'ns');
    g.output(minimax().generator(ctx).loss, 'mm');
    const r = await run(g, { r: tensor('float32', [4, 1], dr), f: tensor('float32', [4, 1], df) });
    expectClose(arr(r.d), [meanOf(dr.map((x) => sp(-x))) + meanOf(df.map(sp))], 1e-6, 1e-7, 'L_D = E softplus(-D(x)) + E softplus(D(G(z)))');
    expectClose(arr(r.ns), [meanOf(df.map((x) => sp(-x)))], 1e-6, 1e-7, 'L_G (non-saturating) = E softplus(-D(G(z)))');
    expectClose(arr(r.mm), [-meanOf(df.map(sp))], 1e-6, 1e-7, 'L_G (minimax) = E log(1 - s(D(G(z))))');
  });
});
