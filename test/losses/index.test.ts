// Every loss and penalty against PyTorch on a small fixed MLP critic and generator: loss values, their
// gradients w.r.t. the critic's outputs, and w.r.t. every critic and generator weight (penalties through the
// double backward), Fisher GAN's multiplier update and spectral norm's power iteration.
import { expect } from 'chai';
import { grad } from '../../graph/autodiff.ts';
import { Graph, tensor, type Value } from '../../graph/ir.ts';
import { add } from '../../graph/ops.ts';
import { buildLoss, LOSSES, type LossSettings } from '../../losses/index.ts';
import { mlp } from '../../models/mlp.ts';
import { spectralNorm } from '../../models/spectral.ts';
import { arr, expectClose, fixedContext, fixture, run } from '../helpers.ts';

type T = { shape: number[]; data: number[] };
interface Case {
  name: string;
  lossD: number;
  penalty: number | null;
  totalD: number;
  lossG: number;
  dLossD_dReal: number[];
  dLossD_dFake: number[];
  dLossG_dReal: number[];
  dLossG_dFake: number[];
  gradD: Record<string, number[]>;
  gradG: Record<string, number[]>;
  state: Record<string, number>;
  u0: Record<string, number[]>;
  u1: Record<string, number[]>;
}
const fx = fixture<{ batch: number; latent: number; real: number[]; z: number[]; randoms: Record<string, number[]>; D: Record<string, T>; G: Record<string, T>; fisher: { rho: number; lambda0: number }; cases: Case[] }>('losses.json');

/** Fixture case name -> (registry loss, settings). */
function lossOf(name: string): [string, LossSettings] {
  if (name === 'lsgan_m101') return ['lsgan', { ls: [-1, 1, 0] }];
  if (name.startsWith('fgan-')) return ['fgan', { divergence: name.slice(5) }];
  if (name === 'fisher') return ['fisher', { rho: fx.fisher.rho }];
  return [name, {}];
}

const RTOL = 1e-4; // float32 graph (onnxruntime has no float64 Softplus) against float64 PyTorch
const ATOL = 1e-6;

function setup() {
  const g = new Graph('zoo');
  const B = fx.batch;
  const params = (src: Record<string, T>) => Object.fromEntries(Object.entries(src).map(([n, t]) => [n, g.input(n, 'float32', t.shape)]));
  const dp = params(fx.D);
  const gp = params(fx.G);
  const critic = mlp({ widths: [2, 8, 8, 1], activation: 'leaky_relu', alpha: 0.2, prefix: 'D' });
  const generator = mlp({ widths: [fx.latent, 8, 8, 2], activation: 'relu', prefix: 'G' });
  const real = g.constant(tensor('float32', [B, 2], fx.real));
  const z = g.constant(tensor('float32', [B, fx.latent], fx.z));
  const feeds = Object.fromEntries([...Object.entries(fx.D), ...Object.entries(fx.G)].map(([n, t]) => [n, tensor('float32', t.shape, t.data)]));
  const randoms = Object.fromEntries(Object.entries(fx.randoms).map(([n, d]) => [n, { data: d, shape: n === 'dragan.u' ? [B, 2] : [B, 1] }]));
  return { g, B, dp, gp, critic, generator, real, z, feeds, randoms };
}

describe('loss zoo against PyTorch', () => {
  it('has a PyTorch case for every registered loss', () => {
    const covered = new Set(fx.cases.map((c) => lossOf(c.name)[0]));
    expect([...covered].sort()).to.include.members(Object.keys(LOSSES).sort());
  });

  for (const c of fx.cases.filter((k) => k.name !== 'sngan')) {
    it(`${c.name}: L_D, penalty, L_G and gradients w.r.t. critic outputs and every weight`, async () => {
      const { g, B, dp, gp, critic, generator, real, z, feeds, randoms } = setup();
      const [name, settings] = lossOf(c.name);
      const built = buildLoss(name, settings);
      const D = (x: Value) => critic.forward(x, dp);
      const consts = { ...randoms, 'fisher.lambda': { data: [fx.fisher.lambda0], shape: [] } };
      // Critic step: G(z) is data.
      const cd = fixedContext(D, real, generator.forward(z, gp), B, consts);
      const lossD = built.loss.critic(cd).loss;
      const pens = built.penalties.map((p) => p.build(cd));
      const totalD = pens.length ? add(lossD, pens[0]) : lossD;
      const [dR, dF] = grad(lossD, [cd.dReal, cd.dFake]);
      const gD = grad(totalD, Object.values(dp));
      // Generator step.
      const cg = fixedContext(D, real, generator.forward(z, gp), B, consts);
      const lossG = built.loss.generator(cg).loss;
      const [gR, gF] = grad(lossG, [cg.dReal, cg.dFake]);
      const gG = grad(lossG, Object.values(gp));
      g.output(lossD, 'lossD');
      g.output(totalD, 'totalD');
      g.output(lossG, 'lossG');
      g.output(dR, 'dR');
      g.output(dF, 'dF');
      g.output(gR, 'gR');
      g.output(gF, 'gF');
      Object.keys(dp).forEach((n, i) => g.output(gD[i], `gD:${n}`));
      Object.keys(gp).forEach((n, i) => g.output(gG[i], `gG:${n}`));
      for (const [n, v] of cd.writes) g.output(v, `state:${n}`);
      if (pens.length) g.output(pens[0], 'penalty');
      const r = await run(g, feeds);
      expectClose(arr(r.lossD), [c.lossD], RTOL, ATOL, 'L_D');
      expectClose(arr(r.totalD), [c.totalD], RTOL, ATOL, 'L_D + penalty');
      if (c.penalty !== null) expectClose(arr(r.penalty), [c.penalty], RTOL, ATOL, 'penalty');
      else expect(pens).to.have.length(0);
      expectClose(arr(r.lossG), [c.lossG], RTOL, ATOL, 'L_G');
      expectClose(arr(r.dR), c.dLossD_dReal, RTOL, ATOL, 'dL_D/dD(x)');
      expectClose(arr(r.dF), c.dLossD_dFake, RTOL, ATOL, 'dL_D/dD(G(z))');
      expectClose(arr(r.gR), c.dLossG_dReal, RTOL, ATOL, 'dL_G/dD(x)');
      expectClose(arr(r.gF), c.dLossG_dFake, RTOL, ATOL, 'dL_G/dD(G(z))');
      for (const n of Object.keys(dp)) expectClose(arr(r[`gD:${n}`]), c.gradD[n], RTOL, ATOL, `d(L_D + penalty)/d${n}`);
      for (const n of Object.keys(gp)) expectClose(arr(r[`gG:${n}`]), c.gradG[n], RTOL, ATOL, `dL_G/d${n}`);
      for (const [n, v] of Object.entries(c.state)) expectClose(arr(r[`state:${n}`]), [v], 1e-6, 1e-9, `new ${n}`);
    });
  }

  it('sngan: hinge loss of a spectrally normalized critic, its gradients and the advanced u, as torch.nn.utils.spectral_norm', async () => {
    const c = fx.cases.find((k) => k.name === 'sngan')!;
    const { g, B, dp, gp, generator, real, z, feeds } = setup();
    const critic = spectralNorm(mlp({ widths: [2, 8, 8, 1], activation: 'leaky_relu', alpha: 0.2, prefix: 'D' }));
    const writes = new Map<string, Value>();
    const eff = critic.prepare!(dp, (n) => g.constant(tensor('float32', [c.u0[n].length], c.u0[n])), (n, v) => writes.set(n, v), true);
    const ctx = fixedContext((x) => critic.forward(x, eff), real, generator.forward(z, gp), B);
    const built = buildLoss('sngan');
    expect(built.spectralNorm).to.equal(true);
    const lossD = built.loss.critic(ctx).loss;
    const gD = grad(lossD, Object.values(dp));
    g.output(lossD, 'lossD');
    Object.keys(dp).forEach((n, i) => g.output(gD[i], `gD:${n}`));
    for (const [n, v] of writes) g.output(v, `u:${n}`);
    const r = await run(g, feeds);
    expectClose(arr(r.lossD), [c.lossD], RTOL, ATOL, 'L_D');
    for (const n of Object.keys(dp)) expectClose(arr(r[`gD:${n}`]), c.gradD[n], RTOL, ATOL, `dL_D/d${n}`);
    for (const n of Object.keys(c.u1)) expectClose(arr(r[`u:${n}`]), c.u1[n], RTOL, ATOL, `advanced ${n}`);
  });
});

describe('spectral norm and carried state in training', () => {
  it("sigma converges to within 1% of W's top singular value (power iteration carried across steps)", async () => {
    const { powerIteration } = await import('../../models/spectral.ts');
    const { Rng } = await import('../../data/random.ts');
    const rng = Rng.stream(5, 'sn');
    const [m, n] = [24, 16];
    const W = rng.fillNormal(new Float32Array(m * n));
    const g = new Graph('sn');
    const w = g.constant(tensor('float32', [m, n], W));
    const u = g.input('u', 'float32', [m]);
    const it = powerIteration(w, u);
    g.output(it.sigma, 'sigma');
    g.output(it.u, 'u:new');
    const { session } = await import('../helpers.ts');
    const s = await session(g);
    let uv = rng.fillNormal(new Float32Array(m));
    let sigma = 0;
    for (let k = 0; k < 60; k++) {
      const r = await s.run({ u: tensor('float32', [m], uv) });
      uv = r['u:new'].data as Float32Array;
      sigma = (r.sigma.data as Float32Array)[0];
    }
    await s.release();
    // Independent: the largest eigenvalue of W^T W by Jacobi rotations in float64, sigma_max = sqrt(lambda_max).
    const A: number[][] = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => {
      let acc = 0;
      for (let r = 0; r < m; r++) acc += W[r * n + i] * W[r * n + j];
      return acc;
    }));
    for (let sweep = 0; sweep < 50; sweep++)
      for (let p = 0; p < n; p++)
        for (let q = p + 1; q < n; q++) {
          if (Math.abs(A[p][q]) < 1e-14) continue;
          const th = 0.5 * Math.atan2(2 * A[p][q], A[q][q] - A[p][p]);
          const [c, sn] = [Math.cos(th), Math.sin(th)];
          for (let k = 0; k < n; k++) {
            const [akp, akq] = [A[k][p], A[k][q]];
            A[k][p] = c * akp - sn * akq;
            A[k][q] = sn * akp + c * akq;
          }
          for (let k = 0; k < n; k++) {
            const [apk, aqk] = [A[p][k], A[q][k]];
            A[p][k] = c * apk - sn * aqk;
            A[q][k] = sn * apk + c * aqk;
          }
        }
    const top = Math.sqrt(Math.max(...A.map((row, i) => row[i])));
    expect(Math.abs(sigma - top) / top).to.be.lessThan(0.01);
  });

  it('Fisher GAN: the multiplier is carried through fused Loop iterations exactly as through separate runs', async () => {
    const { Trainer } = await import('../../training/trainer.ts');
    const { nodeRuntime } = await import('../../runtime/node.ts');
    const { dataset } = await import('../../data/mixtures.ts');
    const { mlpGan } = await import('../../training/gan-pairs.ts');
    const t = await Trainer.create({ setup: mlpGan({ loss: 'fisher', hidden: [16, 16], batch: 32, rho: 1e-2 }), runtime: nodeRuntime(), data: dataset('ring8'), seed: 3, nCritic: () => 2, threads: 1 });
    const a = t.initialState();
    const b = t.initialState();
    expect(Object.keys(a.states)).to.deep.equal(['fisher.lambda']);
    for (let i = 0; i < 6; i++) await t.iteration(a);
    await t.fusedIterations(b, 6);
    const la = a.states['fisher.lambda'][0];
    expect(la).to.not.equal(0);
    expect(Math.abs(la - b.states['fisher.lambda'][0])).to.be.lessThan(1e-5 * Math.max(1, Math.abs(la)));
    await t.release();
  });
});
