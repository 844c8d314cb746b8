// PacGAN packing (--pack m) against PyTorch (test/fixtures/packed_step.json): one critic step of WGAN-GP
// (the penalty on packed inputs, one eps per pack) and of NS, and one NS generator step, on PacGAN's
// networks at a small size (batch-norm generator over all B * m samples, maxout critic on [B, 2m]).
import { expect } from 'chai';
import { tensor, type TensorData } from '../../graph/ir.ts';
import { buildLoss } from '../../losses/index.ts';
import { layoutOf, type Model } from '../../models/model.ts';
import { pacganCritic, pacganGenerator } from '../../models/pacgan.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../../data/random.ts';
import { parseConfig } from '../../run/config.ts';
import { resolveSetup } from '../../run/setup.ts';
import { StepCompiler, type StepProgram } from '../../training/step.ts';
import { expectClose, fixture, rt } from '../helpers.ts';
import { loadData, type Data } from '../../data/load.ts';
import { rejects } from 'node:assert/strict';
import { dcganGan, mlpGan } from '../../training/gan-pairs.ts';

interface Fx {
  latent: number;
  pack: number;
  batch: number;
  hidden: number;
  maxout: number;
  pieces: number;
  params: Record<string, { shape: number[]; data: number[] }>;
  real: number[];
  z: number[];
  eps: number[];
  wgan_gp: { loss: number; gp: number; grad: Record<string, number[]> };
  ns_critic: { loss: number; grad: Record<string, number[]> };
  ns_generator: { loss: number; grad: Record<string, number[]>; running: Record<string, number[]> };
}

const fx = fixture<Fx>('packed_step.json');
const G = pacganGenerator({ latent: fx.latent, hidden: [fx.hidden, fx.hidden] });
const D = pacganCritic({ pack: fx.pack, hidden: [fx.maxout, fx.maxout], pieces: fx.pieces });
const BETA1 = 0.5;

/** The fixture's weights in a network's flat layout. */
function flat(m: Model): Float32Array {
  const l = layoutOf(m);
  const out = new Float32Array(l.size);
  for (const e of l.entries) {
    expect(fx.params[e.name]?.shape, e.name).to.deep.equal(e.shape);
    out.set(fx.params[e.name].data, e.offset);
  }
  return out;
}

/** One run of a step program, fed from its signature with the fixture's weights and draws; Adam from zero slots. */
async function step(loss: string, program: (c: StepCompiler) => StepProgram): Promise<Record<string, TensorData>> {
  const { loss: l, penalties } = buildLoss(loss, { lambda: 10 });
  const opt = { name: 'adam' as const, lr: 1e-4, betas: [BETA1, 0.9] as [number, number] };
  const c = new StepCompiler({ generator: G, critic: D, loss: l, penalties, optD: opt, optG: opt, batch: fx.batch, pack: fx.pack });
  const p = program(c);
  const params = { G: flat(G), D: flat(D) };
  const draws: Record<string, number[]> = { real: fx.real, z: fx.z, 'gp.eps': fx.eps };
  const feeds: Record<string, TensorData> = {};
  for (const s of p.signature.inputs) {
    const dims = s.shape as number[];
    const size = dims.reduce((a, b) => a * b, 1);
    if (s.role === 'param') feeds[s.name] = tensor('float32', dims, params[s.net as 'G' | 'D']);
    else if (s.role === 'slot' || s.role === 'counter') feeds[s.name] = tensor('float32', dims, new Float32Array(size));
    else if (s.role === 'lr') feeds[s.name] = tensor('float32', dims, [1e-4]);
    else if (s.role === 'state') feeds[s.name] = tensor('float32', dims, new Float32Array(size).fill(s.state!.endsWith('running_var') ? 1 : 0));
    else if (draws[s.name]) {
      expect(draws[s.name].length, `${s.name} [${dims}]`).to.equal(size);
      feeds[s.name] = tensor('float32', dims, draws[s.name]);
    } else throw new Error(`no fixture value for ${s.name}`);
  }
  const session = await rt.createSession(p.model, { threads: 1 });
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

/** The gradient, read from Adam's first moment after one update from zero: m = (1 - beta1) g. */
function expectGrads(net: Model, m: TensorData, want: Record<string, number[]>, tol: [number, number]): void {
  const data = m.data as Float32Array;
  for (const e of layoutOf(net).entries) expectClose(Array.from(data.subarray(e.offset, e.offset + e.size), (v) => v / (1 - BETA1)), want[e.name], tol[0], tol[1], `d loss / d ${e.name}`);
}

const scalar = (t: TensorData) => [(t.data as Float32Array)[0]];

describe('packing (PacGAN) against PyTorch', () => {
  it('a step draws B x m samples and latents; the critic takes [B, m x 2]', () => {
    const { loss, penalties } = buildLoss('ns', {});
    const opt = { name: 'adam' as const, lr: 1e-4 };
    const c = new StepCompiler({ generator: G, critic: D, loss, penalties, optD: opt, optG: opt, batch: fx.batch, pack: fx.pack });
    const shapes = Object.fromEntries(c.stepProgram('D').signature.inputs.filter((s) => s.draw).map((s) => [s.name, s.draw!.shape]));
    expect(shapes).to.deep.equal({ real: [fx.batch * fx.pack, 2], z: [fx.batch * fx.pack, fx.latent] });
    expect(D.inputShape).to.deep.equal([2 * fx.pack]);
    expect(() => new StepCompiler({ generator: G, critic: D, loss, penalties, optD: opt, optG: opt, batch: fx.batch, pack: 3 })).to.throw(/generator output \[2\] packed 3 at a time does not match critic input \[4\]/);
  });

  it('WGAN-GP critic step: loss, the penalty on packed inputs, and every critic gradient (float32)', async () => {
    const r = await step('wgan-gp', (c) => c.stepProgram('D'));
    expectClose(scalar(r['D.gp']), [fx.wgan_gp.gp], 1e-4, 1e-6, 'penalty');
    expectClose(scalar(r['D.loss']), [fx.wgan_gp.loss], 1e-4, 1e-6, 'loss');
    expectGrads(D, r['D.opt.m:new'], fx.wgan_gp.grad, [1e-3, 1e-5]);
  });

  it('NS critic and generator steps: losses, gradients, and the running statistics over all B x m samples', async () => {
    const d = await step('ns', (c) => c.stepProgram('D'));
    expectClose(scalar(d['D.loss']), [fx.ns_critic.loss], 1e-5, 1e-6, 'critic loss');
    expectGrads(D, d['D.opt.m:new'], fx.ns_critic.grad, [1e-3, 1e-6]);
    const g = await step('ns', (c) => c.stepProgram('G'));
    expectClose(scalar(g['G.loss']), [fx.ns_generator.loss], 1e-5, 1e-6, 'generator loss');
    expectGrads(G, g['G.opt.m:new'], fx.ns_generator.grad, [1e-3, 1e-6]);
    for (const [name, want] of Object.entries(fx.ns_generator.running)) expectClose(Array.from(g[`state.${name}:new`].data as Float32Array), want, 1e-5, 1e-6, name);
  });

  it('the built-in networks take packs: MLP critic input 2m, DCGAN critic m x C channels', () => {
    expect(mlpGan({ loss: 'ns', pack: 3 }).critic.inputShape).to.deep.equal([6]);
    expect(mlpGan({ loss: 'ns', pack: 3 }).pack).to.equal(3);
    expect(dcganGan({ loss: 'ns', image: [1, 28, 28], width: 4, pack: 2 }).critic.inputShape).to.deep.equal([2, 28, 28]);
  });
});

describe('--protocol pacgan, --pack, --data-size', () => {
  it("the protocol's settings are defaults under the flags; a bad protocol in a config file is refused by name", () => {
    const c = parseConfig({ protocol: 'pacgan', pack: 2, batch: 50 });
    expect(c).to.include({ arch: 'pacgan', loss: 'ns', latent: 2, batch: 50, pack: 2, lr: 1e-4, nCritic: 1, dataSize: 100000, iterations: 400000, evalSamples: 2500 });
    expect(c.betas).to.deep.equal([0.8, 0.999]);
    expect(() => parseConfig({ protocol: 'bogus' })).to.throw(/^config: 'protocol': Invalid input/);
  });

  it("builds PacGAN's networks: G 2-400x4-2 with batch norm, a maxout critic on 2m inputs", async () => {
    const cfg = parseConfig({ protocol: 'pacgan', pack: 3, data: 'grid25' });
    const { setup } = resolveSetup(cfg, await loadData(cfg.data, cfg));
    expect(setup.critic.inputShape).to.deep.equal([6]);
    expect(setup.generator.params.map((p) => p.shape)).to.deep.equal([[400, 2], [400], [400], [400, 400], [400], [400], [400, 400], [400], [400], [400, 400], [400], [400], [2, 400], [2]]);
    expect(setup.critic.params.map((p) => p.shape)).to.deep.equal([[1000, 6], [1000], [1000, 200], [1000], [1000, 200], [1000], [1, 200], [1]]);
    expect(setup).to.include({ batch: 100, pack: 3 });
  });

  it('--data-size: a fixed set per seed (the same points for the same seed), drawn from with replacement', async () => {
    const a = await loadData('grid25', { dataSize: 5, seed: 1 });
    const b = await loadData('grid25', { dataSize: 5, seed: 1 });
    const c = await loadData('grid25', { dataSize: 5, seed: 2 });
    const draw = (d: Data) => Array.from(d.sample(Rng.stream(0, 't'), 200));
    expect(draw(a)).to.deep.equal(draw(b));
    expect(draw(a)).to.not.deep.equal(draw(c));
    const points = new Set(draw(a).flatMap((_, i, xs) => (i % 2 ? [] : [`${xs[i]},${xs[i + 1]}`])));
    expect(points.size).to.be.at.most(5);
  });

  it('refuses what packing and the 2-D architectures cannot do, naming the flag', async () => {
    // Four blank 28x28 images as an IDX file (magic 0x803, dims big-endian).
    const dir = mkdtempSync(join(tmpdir(), 'onnx-gan-pack-'));
    const FASHION = join(dir, 'tiny-images-idx3-ubyte');
    const head = Buffer.alloc(16);
    [0x803, 4, 28, 28].forEach((v, i) => head.writeUInt32BE(v, 4 * i));
    writeFileSync(FASHION, Buffer.concat([head, Buffer.alloc(4 * 28 * 28)]));
    const setupOf = async (raw: Record<string, unknown>) => {
      const cfg = parseConfig(raw);
      return resolveSetup(cfg, await loadData(cfg.data, cfg));
    };
    await rejects(setupOf({ arch: 'pacgan', data: FASHION }), /--arch pacgan: the data set '.*' is images \(use dcgan or resnet\)/);
    await rejects(setupOf({ arch: 'resnet', data: 'ring8' }), /--arch resnet: the data set 'ring8' is 2-D points \(use mlp or pacgan\)/);
    await rejects(loadData(FASHION, { dataSize: 10 }), /--data-size 10: the data set '.*' holds 4 images/);
    rmSync(dir, { recursive: true, force: true });
  });
});
