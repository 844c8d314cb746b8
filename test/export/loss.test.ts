// `export-loss`: each loss as a standalone ONNX model, fed the fixture critic's outputs, against PyTorch.
import { expect } from 'chai';
import { exportLoss } from '../../export/loss.ts';
import { Graph, tensor } from '../../graph/ir.ts';
import { mlp } from '../../models/mlp.ts';
import { arr, expectClose, fixture, run, rt } from '../helpers.ts';

type T = { shape: number[]; data: number[] };
interface Case { name: string; lossD: number; totalD: number; penalty: number | null; lossG: number; dLossD_dReal: number[]; dLossD_dFake: number[]; dLossG_dFake: number[]; state: Record<string, number> }
const fx = fixture<{ batch: number; latent: number; real: number[]; z: number[]; D: Record<string, T>; G: Record<string, T>; fisher: { rho: number; lambda0: number }; cases: Case[] }>('losses.json');

async function criticOutputs() {
  const g = new Graph('outs');
  const p = (src: Record<string, T>) => Object.fromEntries(Object.entries(src).map(([n, t]) => [n, g.constant(tensor('float32', t.shape, t.data), n)]));
  const D = mlp({ widths: [2, 8, 8, 1], activation: 'leaky_relu', alpha: 0.2, prefix: 'D' });
  const G = mlp({ widths: [fx.latent, 8, 8, 2], activation: 'relu', prefix: 'G' });
  const dp = p(fx.D);
  g.output(D.forward(g.constant(tensor('float32', [fx.batch, 2], fx.real)), dp), 'dr');
  g.output(D.forward(G.forward(g.constant(tensor('float32', [fx.batch, fx.latent], fx.z)), p(fx.G)), dp), 'df');
  return run(g, {});
}

const settingsOf = (name: string) =>
  name === 'lsgan_m101' ? ['lsgan', { ls: [-1, 1, 0] as [number, number, number] }] as const
  : name.startsWith('fgan-') ? ['fgan', { divergence: name.slice(5) }] as const
  : name === 'fisher' ? ['fisher', { rho: fx.fisher.rho }] as const
  : [name, {}] as const;

describe('export-loss: losses as standalone ONNX models', () => {
  for (const c of fx.cases.filter((k) => k.name !== 'sngan'))
    it(`${c.name}: critic outputs in, PyTorch's losses and gradients out`, async () => {
      const [name, settings] = settingsOf(c.name);
      const { dr, df } = await criticOutputs();
      const s = await rt.createSession(exportLoss(name, settings), { threads: 1 });
      const N = fx.batch;
      // A critic gradient with norms spread around 1, for the penalty's closed form.
      const cg = Float32Array.from({ length: N * 2 }, (_, i) => Math.sin(i + 1) * (1 + (i % 3) * 0.4));
      const feeds: Record<string, ReturnType<typeof tensor>> = { d_real: dr, d_fake: df };
      if (s.inputNames.includes('critic_grad')) feeds.critic_grad = tensor('float32', [N, 2], cg);
      if (s.inputNames.includes('state.fisher.lambda')) feeds['state.fisher.lambda'] = tensor('float32', [], [fx.fisher.lambda0]);
      const r = await s.run(feeds);
      const total = arr(r.loss_d)[0];
      const pen = r.penalty ? arr(r.penalty)[0] : 0;
      expectClose([total - pen], [c.lossD], 1e-4, 1e-6, 'loss_d without penalty');
      expectClose(arr(r.loss_g), [c.lossG], 1e-4, 1e-6, 'loss_g');
      expectClose(arr(r.grad_d_real), c.dLossD_dReal, 1e-4, 1e-6, 'grad_d_real');
      expectClose(arr(r.grad_d_fake), c.dLossD_dFake, 1e-4, 1e-6, 'grad_d_fake');
      expectClose(arr(r.grad_g_fake), c.dLossG_dFake, 1e-4, 1e-6, 'grad_g_fake');
      for (const [n, v] of Object.entries(c.state)) expectClose(arr(r[`state.${n}:new`]), [v], 1e-6, 1e-9, n);
      if (c.penalty !== null) {
        const norms = Array.from({ length: N }, (_, i) => Math.hypot(cg[2 * i], cg[2 * i + 1]));
        const m = (f: (x: number) => number) => norms.reduce((a, x) => a + f(x), 0) / N;
        const want: Record<string, number> = { 'wgan-gp': 10 * m((x) => (x - 1) ** 2), 'wgan-lp': 10 * m((x) => Math.max(0, x - 1) ** 2), dragan: 10 * m((x) => (x - 1) ** 2), r1: 5 * m((x) => x * x), r2: 5 * m((x) => x * x) };
        expectClose([pen], [want[c.name]], 1e-5, 1e-6, 'penalty from critic_grad');
      } else expect(r.penalty).to.equal(undefined);
      await s.release();
    });
});
