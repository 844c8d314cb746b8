// models/dcgan.ts against PyTorch (test/fixtures/dcgan.json): the generator in training mode (batch
// statistics, running averages advanced as nn.BatchNorm2d does) and its weight gradients; the WGAN-GP
// critic loss of the layer-norm conv critic and its gradient w.r.t. every critic weight (double backward).
import { expect } from 'chai';
import { grad } from '../graph/autodiff.ts';
import { Graph, tensor, type Value } from '../graph/ir.ts';
import { add, mul, reduceSum } from '../graph/ops.ts';
import { gradientPenalty } from '../losses/penalties.ts';
import { wasserstein } from '../losses/standard.ts';
import { dcganCritic, dcganGenerator } from '../models/dcgan.ts';
import { initParams, layoutOf } from '../models/model.ts';
import { Rng } from '../data/random.ts';
import { spectralNorm } from '../models/spectral.ts';
import { arr, expectClose, fixedContext, fixture, run } from './helpers.ts';

interface DcganFixture {
  latent: number;
  width: number;
  batch: number;
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

const fx = fixture<DcganFixture>('dcgan.json');
const IMAGE = [1, 28, 28];

describe('DCGAN models against PyTorch', () => {
  it('generator: samples, weight gradients and batch norm running statistics in training mode (float32, 1e-4)', async () => {
    const G = dcganGenerator({ image: IMAGE, width: fx.width, latent: fx.latent });
    expect(G.params.map((p) => p.name).sort()).to.deep.equal(Object.keys(fx.grad_G).sort());
    const g = new Graph('g');
    const p: Record<string, Value> = Object.fromEntries(G.params.map((s) => [s.name, g.input(s.name, 'float32', s.shape)]));
    const writes = new Map<string, Value>();
    // Running statistics start as nn.BatchNorm2d's: mean 0, variance 1.
    const state = (name: string) => {
      const [c] = G.states!.find((s) => s.name === name)!.shape;
      return g.constant(tensor('float32', [c], new Array(c).fill(name.endsWith('var') ? 1 : 0)));
    };
    const z = g.constant(tensor('float32', [fx.batch, fx.latent], fx.z));
    const fake = G.forward(z, p, { training: true, state, setState: (n, v) => void writes.set(n, v) });
    const L = reduceSum(mul(fake, g.constant(tensor('float32', [fx.batch, ...IMAGE], fx.W))));
    const names = G.params.map((s) => s.name);
    grad(L, names.map((n) => p[n])).forEach((v, i) => g.output(v, `d:${names[i]}`));
    g.output(fake, 'fake');
    for (const [n, v] of writes) g.output(v, `s:${n}`);
    const r = await run(g, Object.fromEntries(names.map((n) => [n, tensor('float32', fx.params[n].shape, fx.params[n].data)])));
    expectClose(arr(r.fake), fx.fake, 1e-4, 1e-5, 'G(z)');
    for (const n of names) expectClose(arr(r[`d:${n}`]), fx.grad_G[n], 1e-3, 1e-4, `dL/d${n}`);
    expect([...writes.keys()].sort()).to.deep.equal(Object.keys(fx.running).sort());
    for (const n of writes.keys()) expectClose(arr(r[`s:${n}`]), fx.running[n], 1e-4, 1e-6, n);
  });

  it('critic: WGAN-GP loss and penalty of the conv critic and their gradients w.r.t. every weight (double backward, float32)', async () => {
    const D = dcganCritic({ image: IMAGE, width: fx.width, norm: 'layer' });
    const names = D.params.map((s) => s.name);
    expect(names.sort()).to.deep.equal(Object.keys(fx.grad_D).sort());
    const g = new Graph('d');
    const p: Record<string, Value> = Object.fromEntries(D.params.map((s) => [s.name, g.input(s.name, 'float32', s.shape)]));
    const c = (data: number[]) => g.constant(tensor('float32', [fx.batch, ...IMAGE], data));
    const ctx = fixedContext((x) => D.forward(x, p), c(fx.real), c(fx.fake), fx.batch, { 'gp.eps': { data: fx.eps, shape: [fx.batch, 1, 1, 1] } });
    const penalty = gradientPenalty(10).build(ctx);
    const loss = add(wasserstein().critic(ctx).loss, penalty);
    grad(loss, names.map((n) => p[n])).forEach((v, i) => g.output(v, `d:${names[i]}`));
    g.output(penalty, 'penalty');
    g.output(loss, 'loss');
    const r = await run(g, Object.fromEntries(names.map((n) => [n, tensor('float32', fx.params[n].shape, fx.params[n].data)])));
    expectClose(arr(r.penalty), [fx.penalty], 1e-4, 1e-5, 'penalty');
    expectClose(arr(r.loss), [fx.loss], 1e-4, 1e-5, 'loss');
    for (const n of names) expectClose(arr(r[`d:${n}`]), fx.grad_D[n], 2e-3, 2e-4, `dL/d${n}`);
  });

  for (const image of [[3, 32, 32], [3, 64, 64], [1, 28, 28]])
    it(`[${image}] images: G(z) and D(G(z)) have the right shapes in inference and training mode; SN-GAN's critic composes`, async () => {
      const G = dcganGenerator({ image, width: 4, latent: 6 });
      const D = spectralNorm(dcganCritic({ image, width: 4, norm: 'none' }));
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
      const pD = D.prepare!(load(D), state, () => {}, false);
      const pG = load(G);
      const train = G.forward(z, pG, { training: true, state, setState: () => {} });
      const infer = G.forward(z, pG, { training: false, state, setState: () => {} });
      g.output(train, 'train');
      g.output(infer, 'infer');
      g.output(D.forward(infer, pD), 'score');
      const r = await run(g, {});
      expect(r.train.dims).to.deep.equal([5, ...image]);
      expect(r.infer.dims).to.deep.equal([5, ...image]);
      expect(r.score.dims).to.deep.equal([5, 1]);
      expect(Math.max(...arr(r.infer).map(Math.abs))).to.be.at.most(1);
    });
});
