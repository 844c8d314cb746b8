// Shared checks of a generator / critic pair against a PyTorch fixture made by make_torch_fixtures.py
// (dcgan.json, resnet.json): the generator in training mode, the critic's WGAN-GP double backward, and
// the shapes a pair gives at each image size with spectral norm on the critic.
import { expect } from 'chai';
import { grad } from '../graph/autodiff.ts';
import { Graph, tensor, type Value } from '../graph/ir.ts';
import { add, mul, reduceSum } from '../graph/ops.ts';
import { gradientPenalty } from '../losses/penalties.ts';
import { wasserstein } from '../losses/standard.ts';
import { initParams, layoutOf, type Model } from '../models/model.ts';
import { Rng } from '../data/random.ts';
import { arr, expectClose, fixedContext, run } from './helpers.ts';

export interface GanFixture {
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
  /** Class-conditional fixtures: each row's class, given to both networks. */
  labels?: number[];
}

const labelsOf = (g: Graph, fx: GanFixture) => (fx.labels ? g.constant(tensor('int64', [fx.labels.length], fx.labels)) : undefined);

const feeds = (fx: GanFixture, names: string[]) => Object.fromEntries(names.map((n) => [n, tensor('float32', fx.params[n].shape, fx.params[n].data)]));

/** G(z) in training mode, the gradient of sum(G(z) * W) w.r.t. every weight, and the advanced running statistics. */
export async function generatorMatchesTorch(G: Model, fx: GanFixture, image: number[], gradTol: [number, number]): Promise<void> {
  const names = G.params.map((s) => s.name);
  expect(names.slice().sort()).to.deep.equal(Object.keys(fx.grad_G).sort());
  for (const s of G.params) expect(s.shape, s.name).to.deep.equal(fx.params[s.name].shape);
  const g = new Graph('g');
  const p: Record<string, Value> = Object.fromEntries(G.params.map((s) => [s.name, g.input(s.name, 'float32', s.shape)]));
  const writes = new Map<string, Value>();
  // Running statistics start as nn.BatchNorm2d's: mean 0, variance 1.
  const state = (name: string) => {
    const [c] = G.states!.find((s) => s.name === name)!.shape;
    return g.constant(tensor('float32', [c], new Array(c).fill(name.endsWith('var') ? 1 : 0)));
  };
  const z = g.constant(tensor('float32', [fx.batch, fx.latent], fx.z));
  const fake = G.forward(z, p, { training: true, state, setState: (n, v) => void writes.set(n, v) }, labelsOf(g, fx));
  const L = reduceSum(mul(fake, g.constant(tensor('float32', [fx.batch, ...image], fx.W))));
  grad(L, names.map((n) => p[n])).forEach((v, i) => g.output(v, `d:${names[i]}`));
  g.output(fake, 'fake');
  for (const [n, v] of writes) g.output(v, `s:${n}`);
  const r = await run(g, feeds(fx, names));
  expectClose(arr(r.fake), fx.fake, 1e-4, 1e-5, 'G(z)');
  for (const n of names) expectClose(arr(r[`d:${n}`]), fx.grad_G[n], gradTol[0], gradTol[1], `dL/d${n}`);
  expect([...writes.keys()].sort()).to.deep.equal(Object.keys(fx.running).sort());
  for (const n of writes.keys()) expectClose(arr(r[`s:${n}`]), fx.running[n], 1e-4, 1e-6, n);
}

/** The WGAN-GP critic loss and penalty on the fixture's batches and their gradients w.r.t. every weight. */
export async function criticMatchesTorch(D: Model, fx: GanFixture, image: number[], gradTol: [number, number]): Promise<void> {
  const names = D.params.map((s) => s.name);
  expect(names.slice().sort()).to.deep.equal(Object.keys(fx.grad_D).sort());
  const g = new Graph('d');
  const p: Record<string, Value> = Object.fromEntries(D.params.map((s) => [s.name, g.input(s.name, 'float32', s.shape)]));
  const c = (data: number[]) => g.constant(tensor('float32', [fx.batch, ...image], data));
  const labels = labelsOf(g, fx);
  const ctx = fixedContext((x) => D.forward(x, p, undefined, labels), c(fx.real), c(fx.fake), fx.batch, { 'gp.eps': { data: fx.eps, shape: [fx.batch, 1, 1, 1] } });
  const penalty = gradientPenalty(10).build(ctx);
  const loss = add(wasserstein().critic(ctx).loss, penalty);
  grad(loss, names.map((n) => p[n])).forEach((v, i) => g.output(v, `d:${names[i]}`));
  g.output(penalty, 'penalty');
  g.output(loss, 'loss');
  const r = await run(g, feeds(fx, names));
  expectClose(arr(r.penalty), [fx.penalty], 1e-4, 1e-5, 'penalty');
  expectClose(arr(r.loss), [fx.loss], 1e-4, 1e-5, 'loss');
  for (const n of names) expectClose(arr(r[`d:${n}`]), fx.grad_D[n], gradTol[0], gradTol[1], `dL/d${n}`);
}

/** G(z) in training and inference mode is [5, ...image] within the tanh range (`bound`); D(G(z)) with spectral norm is [5, 1]. */
export async function pairComposes(G: Model, D: Model, image: number[], bound: number): Promise<void> {
  const g = new Graph('shapes');
  const rng = Rng.stream(0, 'shapes');
  const load = (m: Model) => {
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
  g.output(G.forward(z, pG, { training: true, state, setState: () => {} }), 'train');
  const infer = G.forward(z, pG, { training: false, state, setState: () => {} });
  g.output(infer, 'infer');
  g.output(D.forward(infer, pD), 'score');
  const r = await run(g, {});
  expect(r.train.dims).to.deep.equal([5, ...image]);
  expect(r.infer.dims).to.deep.equal([5, ...image]);
  expect(r.score.dims).to.deep.equal([5, 1]);
  expect(arr(r.infer).reduce((m, v) => Math.max(m, Math.abs(v)), 0)).to.be.at.most(bound);
}
