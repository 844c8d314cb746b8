// Training ONNX models made elsewhere: a generator and critic exported by torch.onnx.export
// (test/fixtures/make_torch_onnx.py) take the same first WGAN-GP step here as in PyTorch.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Graph, tensor } from '../../graph/ir.ts';
import * as o from '../../graph/ops.ts';
import { toBytes } from '../../graph/serialize.ts';
import { buildLoss } from '../../losses/index.ts';
import { importedModel } from '../../models/imported.ts';
import { initParams, layoutOf } from '../../models/model.ts';
import { Rng } from '../../data/random.ts';
import { decodeSafetensors } from '../../training/checkpoint.ts';
import { StepCompiler } from '../../training/step.ts';
import { BIN, expectClose, fixture, rt } from '../helpers.ts';

const FX = (f: string) => new URL(`../fixtures/${f}`, import.meta.url).pathname;

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
    const s = await rt.createSession(c.stepProgram('D').model, { threads: 1 });
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

  it("conv models with ONNX's BatchNormalization, InstanceNormalization and LayerNormalization import, replay as onnxruntime runs them (1e-5), and train from the CLI with batch norm's running statistics kept", async () => {
    const out = mkdtempSync(join(tmpdir(), 'onnx-gan-import-conv-'));
    try {
      const [gB, dB] = [readFileSync(FX('torch_conv_g.onnx')), readFileSync(FX('torch_conv_d.onnx'))];
      const G = importedModel(gB, 'generator', { prefix: 'G' });
      const D = importedModel(dB, 'critic', { prefix: 'D' });
      expect(G.params.filter((p) => p.frozen).map((p) => p.name).sort()).to.deep.equal(['G.2.running_mean', 'G.2.running_var']);
      // Replayed into our graph (with the weights as inputs) vs onnxruntime on the original file.
      const z = Rng.stream(4, 'z').fillNormal(new Float32Array(5 * 6));
      const g = new Graph('replay');
      const zin = g.input('z', 'float32', [5, 6]);
      const load = (m: typeof G) => {
        const flat = initParams(m, Rng.stream(0, 'x'));
        return Object.fromEntries(layoutOf(m).entries.map((e) => [e.name, g.constant(tensor('float32', e.shape, flat.subarray(e.offset, e.offset + e.size)))]));
      };
      const fake = G.forward(zin, load(G));
      g.output(fake, 'fake');
      g.output(D.forward(fake, load(D)), 'score');
      const ours = await (await rt.createSession(toBytes(g))).run({ z: tensor('float32', [5, 6], z) });
      const theirs = await (await rt.createSession(gB)).run({ x: tensor('float32', [5, 6], z) });
      expectClose(ours.fake.data as Float32Array, theirs.y.data as Float32Array, 1e-5, 1e-6, 'G replay');
      const dTheirs = await (await rt.createSession(dB)).run({ x: theirs.y });
      expectClose(ours.score.data as Float32Array, dTheirs.y.data as Float32Array, 1e-5, 1e-6, 'D replay');

      // 8x8 images as an IDX file; three WGAN-GP iterations (the penalty's double backward runs through all three ops).
      const n = 40;
      const idx = Uint8Array.from([0, 0, 8, 3, 0, 0, 0, n, 0, 0, 0, 8, 0, 0, 0, 8, ...Array.from({ length: n * 64 }, (_, i) => (i * 53) % 256)]);
      writeFileSync(join(out, 'img8-idx3-ubyte'), idx);
      const run = join(out, 'r');
      const r = spawnSync(process.execPath, [BIN, 'train', '--data', join(out, 'img8-idx3-ubyte'), '--generator', FX('torch_conv_g.onnx'), '--critic', FX('torch_conv_d.onnx'), '--loss', 'wgan-gp', '--batch', '8', '--iterations', '3', '--checkpoint-every', '3', '--out', run, '--json'], { encoding: 'utf8' });
      expect(r.status, r.stderr).to.equal(0);
      const ck = decodeSafetensors(readFileSync(join(run, 'checkpoints', 'ckpt-000000003.safetensors')));
      const init = initParams(G, Rng.stream(0, 'x'));
      const at = (name: string) => layoutOf(G).entries.find((e) => e.name === name)!;
      const gNow = ck.tensors['G.params'].data as Float32Array;
      for (const name of ['G.2.running_mean', 'G.2.running_var']) {
        const e = at(name);
        expect(Array.from(gNow.subarray(e.offset, e.offset + e.size)), name).to.deep.equal(Array.from(init.subarray(e.offset, e.offset + e.size)));
      }
      const w = at('G.2.weight');
      expect(Array.from(gNow.subarray(w.offset, w.offset + w.size))).to.not.deep.equal(Array.from(init.subarray(w.offset, w.offset + w.size)));
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
      const h = o.gemm(x, g.constant(tensor('float32', [3, 2], [1, 2, 3, 4, 5, 6])), null, { transB: true });
      // A Range whose start comes from the data: float output on the float path, and no rule.
      const r = o.op('Range', [o.reduceSum(h), g.constant(tensor('float32', [], [100])), g.constant(tensor('float32', [], [1]))]);
      g.output(o.add(o.reduceSum(h, [1], true), o.reduceSum(r)), 'y');
    });
    expect(() => importedModel(noRule, 'critic', { prefix: 'D' })).to.throw(/op Range \(node 'Range_\d+'\) has no gradient rule \(not differentiable: a constant of its shape inputs\)/);
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
