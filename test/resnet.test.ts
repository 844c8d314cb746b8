// models/resnet.ts against PyTorch (test/fixtures/resnet.json, made by make_torch_fixtures.py): the
// SNGAN/Mimicry ResNet generator in training mode (samples, weight gradients, batch norm running
// statistics) and the ResNet critic's WGAN-GP loss with the penalty's double backward, per weight.
import { expect } from 'chai';
import { grad } from '../graph/autodiff.ts';
import { Graph, tensor, type Value } from '../graph/ir.ts';
import { add, mul, reduceSum } from '../graph/ops.ts';
import { gradientPenalty } from '../losses/penalties.ts';
import { wasserstein } from '../losses/standard.ts';
import { initParams, layoutOf } from '../models/model.ts';
import { resnetCritic, resnetGenerator } from '../models/resnet.ts';
import { spectralNorm } from '../models/spectral.ts';
import { Rng } from '../data/random.ts';
import { arr, expectClose, fixedContext, fixture, run } from './helpers.ts';

interface ResnetFixture {
  latent: number;
  width: number;
  batch: number;
  image: number[];
  params: Record<string, { shape: number[]; data: number[] }>;
  z: number[];
  W: number[];
  fake: number[];
  grad_G: Record<string, number[]>;
  running: Record<string, number[]>;
  real: number[];
  eps: number[];
  penalty: number;
  loss: number;
  grad_D: Record<string, number[]>;
}

const fx = fixture<ResnetFixture>('resnet.json');
const feeds = (names: string[]) => Object.fromEntries(names.map((n) => [n, tensor('float32', fx.params[n].shape, fx.params[n].data)]));

describe('ResNet models (SNGAN / Mimicry layout) against PyTorch', () => {
  it('generator: samples, weight gradients and batch norm running statistics in training mode (float32)', async () => {
    const G = resnetGenerator({ image: fx.image, width: fx.width, latent: fx.latent });
    const names = G.params.map((s) => s.name);
    expect(names.slice().sort()).to.deep.equal(Object.keys(fx.grad_G).sort());
    for (const s of G.params) expect(s.shape, s.name).to.deep.equal(fx.params[s.name].shape);
    const g = new Graph('g');
    const p: Record<string, Value> = Object.fromEntries(G.params.map((s) => [s.name, g.input(s.name, 'float32', s.shape)]));
    const writes = new Map<string, Value>();
    const state = (name: string) => {
      const [c] = G.states!.find((s) => s.name === name)!.shape;
      return g.constant(tensor('float32', [c], new Array(c).fill(name.endsWith('var') ? 1 : 0)));
    };
    const z = g.constant(tensor('float32', [fx.batch, fx.latent], fx.z));
    const fake = G.forward(z, p, { training: true, state, setState: (n, v) => void writes.set(n, v) });
    const L = reduceSum(mul(fake, g.constant(tensor('float32', [fx.batch, ...fx.image], fx.W))));
    grad(L, names.map((n) => p[n])).forEach((v, i) => g.output(v, `d:${names[i]}`));
    g.output(fake, 'fake');
    for (const [n, v] of writes) g.output(v, `s:${n}`);
    const r = await run(g, feeds(names));
    expectClose(arr(r.fake), fx.fake, 1e-4, 1e-5, 'G(z)');
    for (const n of names) expectClose(arr(r[`d:${n}`]), fx.grad_G[n], 2e-3, 2e-4, `dL/d${n}`);
    expect([...writes.keys()].sort()).to.deep.equal(Object.keys(fx.running).sort());
    for (const n of writes.keys()) expectClose(arr(r[`s:${n}`]), fx.running[n], 1e-4, 1e-6, n);
  });

  it('critic: WGAN-GP loss and penalty and their gradients w.r.t. every weight (double backward, float32)', async () => {
    const D = resnetCritic({ image: fx.image, width: fx.width });
    const names = D.params.map((s) => s.name);
    expect(names.slice().sort()).to.deep.equal(Object.keys(fx.grad_D).sort());
    const g = new Graph('d');
    const p: Record<string, Value> = Object.fromEntries(D.params.map((s) => [s.name, g.input(s.name, 'float32', s.shape)]));
    const c = (data: number[]) => g.constant(tensor('float32', [fx.batch, ...fx.image], data));
    const ctx = fixedContext((x) => D.forward(x, p), c(fx.real), c(fx.fake), fx.batch, { 'gp.eps': { data: fx.eps, shape: [fx.batch, 1, 1, 1] } });
    const penalty = gradientPenalty(10).build(ctx);
    const loss = add(wasserstein().critic(ctx).loss, penalty);
    grad(loss, names.map((n) => p[n])).forEach((v, i) => g.output(v, `d:${names[i]}`));
    g.output(penalty, 'penalty');
    g.output(loss, 'loss');
    const r = await run(g, feeds(names));
    expectClose(arr(r.penalty), [fx.penalty], 1e-4, 1e-5, 'penalty');
    expectClose(arr(r.loss), [fx.loss], 1e-4, 1e-5, 'loss');
    for (const n of names) expectClose(arr(r[`d:${n}`]), fx.grad_D[n], 2e-3, 2e-4, `dL/d${n}`);
  });

  for (const image of [[1, 28, 28], [3, 32, 32], [3, 48, 48], [3, 64, 64]])
    it(`[${image}] images: G(z) and D(G(z)) have the right shapes in inference and training mode; SN-GAN's critic composes`, async () => {
      const G = resnetGenerator({ image, width: 4, latent: 6 });
      const D = spectralNorm(resnetCritic({ image, width: 4 }));
      const g = new Graph('shapes');
      const rng = Rng.stream(0, 'shapes');
      const load = (m: typeof G) => {
        const flat = initParams(m, rng);
        return Object.fromEntries(layoutOf(m).entries.map((e) => [e.name, g.constant(tensor('float32', e.shape, flat.subarray(e.offset, e.offset + e.size)))]));
      };
      const state = (name: string) => {
        const spec = [...(G.states ?? []), ...(D.states ?? [])].find((s) => s.name === name)!;
        const out = new Float32Array(spec.shape.reduce((a, b) => a * b, 1));
        spec.init(rng, out);
        return g.constant(tensor('float32', spec.shape, out));
      };
      const z = g.constant(tensor('float32', [5, 6], rng.fillNormal(new Float32Array(30))));
      const pG = load(G);
      g.output(G.forward(z, pG, { training: true, state, setState: () => {} }), 'train');
      const infer = G.forward(z, pG, { training: false, state, setState: () => {} });
      g.output(infer, 'infer');
      g.output(D.forward(infer, D.prepare!(load(D), state, () => {}, false)), 'score');
      const r = await run(g, {});
      expect(r.train.dims).to.deep.equal([5, ...image]);
      expect(r.infer.dims).to.deep.equal([5, ...image]);
      expect(r.score.dims).to.deep.equal([5, 1]);
      expect(Math.max(...arr(r.infer).map(Math.abs))).to.be.at.most(1 + 1e-6); // tanh, up to float32 rounding
    });
});
