// Training ONNX models made elsewhere: a generator and critic exported by torch.onnx.export
// (test/fixtures/make_torch_onnx.py) take the same first WGAN-GP step here as in PyTorch.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Graph, tensor } from '../graph/ir.ts';
import * as o from '../graph/ops.ts';
import { toBytes } from '../graph/serialize.ts';
import { buildLoss } from '../losses/index.ts';
import { importedModel } from '../models/imported.ts';
import { initParams, layoutOf } from '../models/model.ts';
import { Rng } from '../models/random.ts';
import { StepCompiler } from '../training/step.ts';
import { expectClose, fixture, rt } from './helpers.ts';

const FX = (f: string) => new URL(`./fixtures/${f}`, import.meta.url).pathname;
const BIN = new URL('../bin/onnx-gan.js', import.meta.url).pathname;

describe('import of ONNX models made elsewhere', function () {
  this.timeout(120000);
  const gBytes = readFileSync(FX('torch_g.onnx'));
  const dBytes = readFileSync(FX('torch_d.onnx'));

  it("the PyTorch-exported pair takes PyTorch's first WGAN-GP critic step: same loss (1e-5) and same weights after Adam", async () => {
    const fx = fixture<{ batch: number; real: number[]; z: number[]; eps: number[]; loss: number; penalty: number; D_grad: Record<string, number[]>; D_after: Record<string, number[]> }>('torch_step.json');
    const G = importedModel(gBytes, 'generator', { prefix: 'G' });
    const D = importedModel(dBytes, 'critic', { prefix: 'D' });
    const { loss, penalties } = buildLoss('wgan-gp', { lambda: 10 });
    const opt = { name: 'adam' as const, lr: 1e-4, betas: [0.5, 0.9] as [number, number] };
    const c = new StepCompiler({ generator: G, critic: D, loss, penalties, optD: opt, optG: opt, batch: fx.batch });
    const s = await rt.createSession(c.criticStep().model, { threads: 1 });
    const B = fx.batch;
    const [gp, dp] = [initParams(G, Rng.stream(0, 'x')), initParams(D, Rng.stream(0, 'x'))];
    const zeros = new Float32Array(dp.length);
    const r = await s.run({
      'G.params': tensor('float32', [gp.length], gp), 'D.params': tensor('float32', [dp.length], dp), 'D.opt.m': tensor('float32', [dp.length], zeros),
      'D.opt.v': tensor('float32', [dp.length], zeros), 'D.step': tensor('float32', [], [1]), 'D.lr': tensor('float32', [], [1e-4]),
      real: tensor('float32', [B, 2], fx.real), z: tensor('float32', [B, 8], fx.z), 'gp.eps': tensor('float32', [B, 1], fx.eps),
    });
    expectClose(Array.from(r['D.loss'].data as Float32Array), [fx.loss], 1e-5, 0, 'first-step critic loss');
    expectClose(Array.from(r['D.gp'].data as Float32Array), [fx.penalty], 1e-5, 0, 'first-step penalty');
    const next = r['D.params:new'].data as Float32Array;
    const m = r['D.opt.m:new'].data as Float32Array; // (1 - beta1) * gradient after the first step
    for (const e of layoutOf(D).entries) {
      const g = Array.from(m.subarray(e.offset, e.offset + e.size), (v) => v / 0.5);
      expectClose(g, fx.D_grad[e.name.slice(2)], 1e-4, 1e-6, `d loss / d ${e.name}`);
      // Adam's first step is lr * g / (|g| + eps): about lr where |g| >> eps, and at the mercy of rounding
      // where g is near zero (a dead unit). Elsewhere the weights agree within lr / 10; there, the step is <= lr.
      const after = fx.D_after[e.name.slice(2)];
      const before = dp.subarray(e.offset, e.offset + e.size);
      next.subarray(e.offset, e.offset + e.size).forEach((v, i) => {
        const tol = Math.abs(fx.D_grad[e.name.slice(2)][i]) > 1e-6 ? 1e-5 : 0;
        if (tol) expect(Math.abs(v - after[i]), `${e.name}[${i}] after Adam`).to.be.at.most(tol);
        else expect(Math.abs(v - before[i]), `${e.name}[${i}] step`).to.be.at.most(1.0001e-4);
      });
    }
    await s.release();
  });

  it('trains from the CLI with --generator/--critic and --freeze', () => {
    const out = mkdtempSync(join(tmpdir(), 'onnx-gan-import-'));
    try {
      const r = spawnSync(process.execPath, [BIN, 'train', '--generator', FX('torch_g.onnx'), '--critic', FX('torch_d.onnx'), '--freeze', '^0\\.', '--loss', 'wgan-gp', '--batch', '32', '--iterations', '20', '--eval-samples', '100', '--out', join(out, 'r'), '--json'], { encoding: 'utf8' });
      expect(r.status, r.stderr).to.equal(0);
      expect(JSON.parse(r.stdout).iterations).to.equal(20);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('refuses models that do not fit the role, and ops without a gradient rule, naming what is wrong', () => {
    const bad = (build: (g: Graph) => void) => {
      const g = new Graph('m');
      build(g);
      return toBytes(g);
    };
    const twoOut = bad((g) => {
      const x = g.input('x', 'float32', ['N', 2]);
      g.output(o.tanh(x), 'a');
      g.output(o.sigmoid(x), 'b');
    });
    expect(() => importedModel(twoOut, 'critic', { prefix: 'D' })).to.throw(/a critic needs exactly one output, this model has 2/);
    const intIn = bad((g) => g.output(o.cast(g.input('z', 'int64', ['N', 4]), 'float32'), 'y'));
    expect(() => importedModel(intIn, 'generator', { prefix: 'G' })).to.throw(/the generator's input 'z' must be float, it is int64/);
    const noRule = bad((g) => {
      const x = g.input('x', 'float32', ['N', 2]);
      g.output(o.op('ReduceMax', [o.gemm(x, g.constant(tensor('float32', [3, 2], [1, 2, 3, 4, 5, 6])), null, { transB: true })], { axes: { kind: 'ints', value: [1] } }), 'y');
    });
    expect(() => importedModel(noRule, 'critic', { prefix: 'D' })).to.throw(/op ReduceMax \(node 'ReduceMax_\d+'\) has no gradient rule; supported: Abs, Add/);
    expect(() => importedModel(dBytes.subarray(0, 200), 'critic', { prefix: 'D', source: 'd.onnx' })).to.throw(/^d\.onnx: /);
    const tmp = mkdtempSync(join(tmpdir(), 'onnx-gan-bad-'));
    try {
      writeFileSync(join(tmp, 'g.onnx'), gBytes.subarray(0, 300));
      const r = spawnSync(process.execPath, [BIN, 'train', '--generator', join(tmp, 'g.onnx'), '--out', join(tmp, 'r')], { encoding: 'utf8' });
      expect(r.status).to.not.equal(0);
      expect(r.stderr.trim().split('\n')).to.have.length(1);
      expect(r.stderr).to.match(/g\.onnx: /);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
