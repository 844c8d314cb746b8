// Models written from published designs and exported the way people export them (torch.onnx.export,
// opset 17, dynamic batch; test/fixtures/make_import_models.py): each pair trains from the CLI under
// WGAN-GP and NS; the SNGAN ResNet pair takes PyTorch's first WGAN-GP critic step; computed shapes, If on
// shapes, 4-D latents, score maps and host-fed random layers behave; warnings and refusals say why.
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Graph, tensor } from '../../graph/ir.ts';
import * as o from '../../graph/ops.ts';
import { toBytes } from '../../graph/serialize.ts';
import { dataset } from '../../data/mixtures.ts';
import { buildLoss } from '../../losses/index.ts';
import { importedModel, importWarnings } from '../../models/imported.ts';
import { initParams, layoutOf } from '../../models/model.ts';
import { Rng } from '../../data/random.ts';
import { nodeRuntime } from '../../runtime/node.ts';
import { StepCompiler } from '../../training/step.ts';
import { Trainer } from '../../training/trainer.ts';
import { cli, expectClose, fixture, relErr, rt } from '../helpers.ts';

const FX = (f: string) => new URL(`../fixtures/import/${f}`, import.meta.url).pathname;

/** An IDX file of n random images [h, w] or [h, w, c]. */
function idx(path: string, n: number, dims: number[]): string {
  const all = [n, ...dims];
  const head = [0, 0, 8, all.length, ...all.flatMap((d) => [d >>> 24, (d >>> 16) & 255, (d >>> 8) & 255, d & 255])];
  const rng = Rng.stream(1, path);
  writeFileSync(path, Uint8Array.from([...head, ...Array.from({ length: all.reduce((a, b) => a * b, 1) }, () => rng.int(256))]));
  return path;
}

describe('import of models as torch.onnx.export writes them', function () {
  this.timeout(240000);
  let tmp: string;
  const data: Record<string, string> = {};
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'onnx-gan-import-'));
    data.c32 = idx(join(tmp, 'c32-idx3-ubyte'), 32, [32, 32, 3]);
    data.c64 = idx(join(tmp, 'c64-idx3-ubyte'), 32, [64, 64, 3]);
    data.g28 = idx(join(tmp, 'g28-idx3-ubyte'), 32, [28, 28]);
    data.ring8 = 'ring8';
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  const PAIRS: [string, string, string, string][] = [
    ['SNGAN ResNet-32 (computed Reshape shape, sum pooling)', 'sngan_resnet32_g.onnx', 'sngan_resnet32_d.onnx', 'c32'],
    ["PyTorch's DCGAN example at 64x64 (4-D latent, Sigmoid critic ending in view(-1, 1).squeeze(1): an If)", 'dcgan64_g.onnx', 'dcgan64_d.onnx', 'c64'],
    ['modulated-conv generator (chunk, noise injection, bilinear) with a PatchGAN critic (6x6 map)', 'modconv_g.onnx', 'patchgan_d.onnx', 'g28'],
    ['MLPs with exact and tanh GELU, SiLU, Mish, and Dropout in training mode', 'gelu_g.onnx', 'dropout_d.onnx', 'ring8'],
    // Issue 27's first outside architectures: ops that were refused before (DepthToSpace, PRelu, Elu, HardSwish,
    // GlobalAveragePool, rank-1 MatMul, Tile).
    ['SRGAN-style PixelShuffle + PReLU generator with an ELU / Hardswish critic ending in AdaptiveAvgPool2d(1)', 'shuffle_prelu_g.onnx', 'elu_hardswish_pooled_d.onnx', 'g28'],
    ["SAGAN's spectral-norm critic exported in eval mode (torch.mv: rank-1 MatMul)", 'shuffle_prelu_g.onnx', 'sagan_sn_eval_d.onnx', 'g28'],
    ["StyleGAN2's blur kernel and minibatch stddev (repeat: Tile on computed repeats)", 'shuffle_prelu_g.onnx', 'stylegan2_tail_d.onnx', 'g28'],
    ['AdaIN generator splitting its style by slicing (s[:, c:]: an INT64_MAX end)', 'adain_slice_g.onnx', 'elu_hardswish_pooled_d.onnx', 'g28'],
    ["SAGAN's self-attention written with torch.einsum in a critic", 'shuffle_prelu_g.onnx', 'einsum_attention_d.onnx', 'g28'],
    ['an LSTM sequence generator with a bidirectional GRU critic (unrolled recurrences)', 'lstm_g.onnx', 'gru_d.onnx', 'ring8'],
    ['a dilated critic with max pooling and a feature norm (MaxPool; torch writes the norm as ReduceSum and Sqrt)', 'adain_slice_g.onnx', 'dilated_maxpool_d.onnx', 'g28'],
  ];
  for (const [what, g, d, set] of PAIRS)
    for (const loss of ['wgan-gp', 'ns'])
      it(`${what}: 3 iterations from the CLI under ${loss}`, () => {
        const out = join(tmp, `${g}-${d}-${loss}`);
        const r = cli(['train', '--data', data[set], '--generator', FX(g), '--critic', FX(d), '--loss', loss, '--batch', '8', '--iterations', '3', '--checkpoint-every', '3', '--eval-samples', '50', '--out', out, '--json']);
        expect(r.code, r.err).to.equal(0);
        const res = JSON.parse(r.out);
        expect(res.iterations).to.equal(3);
        const logs = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
        expect(Number.isFinite(logs[logs.length - 1]['D.loss']), 'finite critic loss').to.equal(true);
      });

  it("the SNGAN ResNet pair takes PyTorch's first WGAN-GP critic step: loss, penalty and every critic gradient", async () => {
    const fx = fixture<{ batch: number; real: number[]; fake: number[]; eps: number[]; loss: number; penalty: number; grad: Record<string, number[]> }>('import/resnet_step.json');
    const z = Rng.stream(0, 'unused').fillNormal(new Float32Array(fx.batch * 16));
    const G = importedModel(readFileSync(FX('sngan_resnet32_g.onnx')), 'generator', { prefix: 'G' });
    const D = importedModel(readFileSync(FX('sngan_resnet32_d.onnx')), 'critic', { prefix: 'D' });
    // The generator's output is fed as the fake batch: a generator that returns PyTorch's G(z) for any z.
    const fakeG = { ...G, params: [], forward: (x: import('../../graph/ir.ts').Value) => x.graph.constant(tensor('float32', [fx.batch, 3, 32, 32], fx.fake)) };
    const { loss, penalties } = buildLoss('wgan-gp', { lambda: 10 });
    const opt = { name: 'adam' as const, lr: 1e-4, betas: [0.5, 0.9] as [number, number] };
    const c = new StepCompiler({ generator: fakeG, critic: D, loss, penalties, optD: opt, optG: opt, batch: fx.batch });
    const s = await rt.createSession(c.stepProgram('D').model, { threads: 1 });
    const dp = initParams(D, Rng.stream(0, 'x'));
    const zeros = new Float32Array(dp.length);
    const B = fx.batch;
    const r = await s.run({
      'G.params': tensor('float32', [0], []), 'D.params': tensor('float32', [dp.length], dp), 'D.opt.m': tensor('float32', [dp.length], zeros),
      'D.opt.v': tensor('float32', [dp.length], zeros), 'D.step': tensor('float32', [], [0]), 'D.lr': tensor('float32', [], [1e-4]),
      real: tensor('float32', [B, 3, 32, 32], fx.real), z: tensor('float32', [B, 16], z), 'gp.eps': tensor('float32', [B, 1, 1, 1], fx.eps),
    });
    await s.release();
    expectClose(Array.from(r['D.loss'].data as Float32Array), [fx.loss], 1e-4, 1e-5, 'first-step critic loss');
    expectClose(Array.from(r['D.gp'].data as Float32Array), [fx.penalty], 1e-4, 1e-5, 'first-step penalty');
    const m = r['D.opt.m:new'].data as Float32Array; // (1 - beta1) * gradient after the first step
    for (const e of layoutOf(D).entries) expectClose(Array.from(m.subarray(e.offset, e.offset + e.size), (v) => v / 0.5), fx.grad[e.name.slice(2)], 2e-3, 2e-5, `d loss / d ${e.name}`);
    expect(G.inputShape).to.deep.equal([16]);
  });

  it("recurrent models give PyTorch's outputs: an LSTM generator and a bidirectional GRU critic, unrolled (1e-5)", async () => {
    const fx = fixture<{ z: number[]; g: number[]; x: number[]; d: number[] }>('import/rnn_outputs.json');
    for (const [file, role, input, want] of [['lstm_g.onnx', 'generator', fx.z, fx.g], ['gru_d.onnx', 'critic', fx.x, fx.d]] as const) {
      const m = importedModel(readFileSync(FX(file)), role, { prefix: 'M' });
      const g = new Graph(file);
      const n = input.length / m.inputShape.reduce((a, b) => a * b, 1);
      const x = g.constant(tensor('float32', [n, ...m.inputShape], input));
      const p = initParams(m, Rng.stream(0, 'unused'));
      const layout = layoutOf(m);
      const params = Object.fromEntries(layout.entries.map((e) => [e.name, o.reshape(g.constant(tensor('float32', [e.size], p.subarray(e.offset, e.offset + e.size))), e.shape)]));
      g.output(m.forward(x, params, { training: false, state: () => { throw new Error('no state'); }, setState: () => {} }), 'y');
      const s = await rt.createSession(toBytes(g));
      const y = (await s.run({})).y;
      await s.release();
      expectClose(Array.from(y.data as Float32Array), want, 1e-5, 1e-6, `${file} vs torch`);
    }
  });

  it('computed shapes fold: the ResNet generator is [3, 32, 32]; the DCGAN example takes z [N, 16] for its [N, 16, 1, 1] and its critic scores [N, 1]; the PatchGAN critic scores 36 positions', () => {
    const load = (f: string, role: 'generator' | 'critic') => importedModel(readFileSync(FX(f)), role, { prefix: role === 'generator' ? 'G' : 'D' });
    expect(load('sngan_resnet32_g.onnx', 'generator').outputShape).to.deep.equal([3, 32, 32]);
    const dg = load('dcgan64_g.onnx', 'generator');
    expect([dg.inputShape, dg.outputShape]).to.deep.equal([[16], [3, 64, 64]]);
    expect(load('dcgan64_d.onnx', 'critic').outputShape).to.deep.equal([1]);
    expect(load('patchgan_d.onnx', 'critic').facts.positions).to.equal(36);
  });

  it('Dropout masks and noise injection are host-fed draws: fused iterations equal separate runs, and a resumed seed repeats them', async () => {
    const G = importedModel(readFileSync(FX('gelu_g.onnx')), 'generator', { prefix: 'G' });
    const D = importedModel(readFileSync(FX('dropout_d.onnx')), 'critic', { prefix: 'D' });
    const { loss, penalties } = buildLoss('wgan-gp', { lambda: 0.1 });
    const opt = { name: 'adam' as const, lr: 1e-3, betas: [0.5, 0.9] as [number, number] };
    const setup = { generator: G, critic: D, loss, penalties, optD: opt, optG: opt, batch: 16 };
    const sig = new StepCompiler(setup).stepProgram('D').signature;
    expect(sig.inputs.filter((s) => s.role === 'random').map((s) => s.draw!.dist)).to.include('uniform');
    const t = await Trainer.create({ setup, runtime: nodeRuntime(), data: dataset('ring8'), seed: 4, nCritic: () => 2, threads: 1 });
    const [a, b, c] = [t.initialState(), t.initialState(), t.initialState()];
    for (let i = 0; i < 3; i++) await t.iteration(a);
    await t.fusedIterations(b, 3);
    for (let i = 0; i < 3; i++) await t.iteration(c);
    for (const n of ['G', 'D'] as const) {
      expect(relErr(a[n].params, b[n].params), `${n} fused vs separate`).to.be.lessThan(1e-5);
      expect(relErr(a[n].params, c[n].params), `${n} same seed`).to.equal(0);
    }
    await t.release();
    const mod = importedModel(readFileSync(FX('modconv_g.onnx')), 'generator', { prefix: 'G' });
    const draws = new StepCompiler({ ...setup, generator: mod, critic: importedModel(readFileSync(FX('patchgan_d.onnx')), 'critic', { prefix: 'D' }), batch: 4 }).stepProgram('G').signature.inputs.filter((s) => s.role === 'random' && s.name !== 'z');
    expect(draws.map((s) => s.draw!.dist)).to.deep.equal(['normal', 'normal']);
    expect(draws[0].shape).to.deep.equal([4, 8, 14, 14]);
  });

  it('warnings before training: initializers tied by an eval-mode export, a Sigmoid critic under ns, batch norm in a critic under a penalty', () => {
    const r = cli(['train', '--data', data.c32, '--generator', FX('sngan_resnet32_g_eval.onnx'), '--critic', FX('sngan_resnet32_d.onnx'), '--loss', 'ns', '--batch', '4', '--iterations', '1', '--out', join(tmp, 'eval-g')]);
    expect(r.code, r.err).to.equal(0);
    expect(r.err).to.match(/warning: the imported generator uses \d+ initializer\(s\) in several layers \(.*\), which train as one: torch\.onnx\.export in eval mode merges equal initializers/);
    expect(r.err).to.match(/training=torch\.onnx\.TrainingMode\.TRAINING/);
    const dcganD = importedModel(readFileSync(FX('dcgan64_d.onnx')), 'critic', { prefix: 'D' });
    expect(importWarnings({ critic: dcganD.facts }, 'ns', null)).to.deep.equal([
      "the imported critic's output passes through Sigmoid, but loss 'ns' expects logits (it applies the sigmoid itself): remove the final Sigmoid before exporting",
    ]);
    expect(importWarnings({ critic: dcganD.facts }, 'wgan-gp', 'gp')[0]).to.match(/has batch normalization, but the 'gp' penalty is per sample/);
    // The training-mode export keeps every layer's own weights: no warning.
    const trainG = importedModel(readFileSync(FX('sngan_resnet32_g.onnx')), 'generator', { prefix: 'G' });
    expect(importWarnings({ generator: trainG.facts }, 'wgan-gp', 'gp')).to.deep.equal([]);
  });

  it('what cannot be trained through is refused before training, naming the file, the node and the op', () => {
    const write = (name: string, build: (g: Graph) => void) => {
      const g = new Graph('m');
      build(g);
      const p = join(tmp, name);
      writeFileSync(p, toBytes(g));
      return p;
    };
    // An If on the data (not on shapes) trains as a Where over both branches; one whose branches give
    // different shapes cannot.
    const branch = (f: (x: import('../../graph/ir.ts').Value) => import('../../graph/ir.ts').Value, x: import('../../graph/ir.ts').Value, name: string) => {
      const b = new Graph(name, x.graph);
      b.output(f(x), 'out');
      return b;
    };
    const ifOn = (name: string, other: (x: import('../../graph/ir.ts').Value) => import('../../graph/ir.ts').Value) => write(name, (g) => {
      const x = g.input('x', 'float32', ['N', 2]);
      const cond = o.greater(o.reduceSum(x), 0);
      const [y] = g.addNode('If', [cond], [{ dtype: 'float32', shape: ['N', 2] }], { then_branch: { kind: 'graph', value: branch(o.tanh, x, 'then') }, else_branch: { kind: 'graph', value: branch(other, x, 'else') } });
      g.output(o.reduceSum(y, [1], true), 'y');
    });
    const trains = cli(['train', '--critic', ifOn('if-data.onnx', o.sigmoid), '--iterations', '1', '--out', join(tmp, 'if-data')]);
    expect(trains.code, trains.err).to.equal(0);
    const r = cli(['train', '--critic', ifOn('if-shapes.onnx', (x) => o.reduceSum(x, [1], true)), '--iterations', '1', '--out', join(tmp, 'never')]);
    expect(r.code).to.not.equal(0);
    expect(r.err.trim().split('\n')).to.have.length(1);
    expect(r.err).to.match(/if-shapes\.onnx: node '.*' \(If\): an If on the data is trained as a choice between both branches, whose outputs need one static shape/);
    const hardmax = write('hardmax.onnx', (g) => g.output(o.reduceSum(g.addNode('Hardmax', [g.input('x', 'float32', ['N', 2])], [{ dtype: 'float32', shape: ['N', 2] }])[0], [1], true), 'y'));
    const c = cli(['train', '--critic', hardmax, '--iterations', '1', '--out', join(tmp, 'never')]);
    expect(c.code).to.not.equal(0);
    expect(c.err.trim()).to.match(/hardmax\.onnx: node '.*' \(Hardmax\): operator 'Hardmax' is not supported by onnx-gan \(not differentiable: piecewise constant: zero gradient almost everywhere\)$/);
  });
});
