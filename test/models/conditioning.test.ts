// Class-conditional GANs: conditional batch norm, the projection critic and ACGAN's auxiliary classifier
// against PyTorch (test/fixtures/conditional.json); labels from IDX files and class subfolders; compiled
// conditional steps (labels drawn with their images, fused = per step, the class changes the samples);
// and a conditional run from the CLI through grids, eval and export.
import { classesOf, CONDITIONINGS, conditionalFields } from '../../models/conditioning.ts';
import { expect } from 'chai';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../../data/random.ts';
import { imageSet } from '../../data/images.ts';
import { classifierOnnx } from '../../export/model.ts';
import { grad } from '../../graph/autodiff.ts';
import { Graph, tensor, type Value } from '../../graph/ir.ts';
import { slice } from '../../graph/ops.ts';
import { fromBytes } from '../../graph/serialize.ts';
import { parsePng, readIdxImages, pngGrid, labelsBeside } from '../../data/image-files.ts';
import { listImageFolder } from '../../data/image-folder.ts';
import { auxiliaryClassifier } from '../../losses/acgan.ts';
import { convClassifier } from '../../models/classifier.ts';
import { dcganCritic, dcganGenerator } from '../../models/dcgan.ts';
import { initParams, layoutOf } from '../../models/model.ts';
import { drawStep, iterationRng } from '../../training/signature.ts';
import { nodeRuntime } from '../../runtime/node.ts';
import { Trainer } from '../../training/trainer.ts';
import { criticMatchesTorch, generatorMatchesTorch, type GanFixture } from '../gan-models.ts';
import { arr, cli, expectClose, fixedContext, fixture, haveFashionMnist, relErr, rt, run } from '../helpers.ts';
import { dcganGan } from '../../training/gan-pairs.ts';

const fx = fixture<{ projection: GanFixture & { classes: number }; acgan: { params: Record<string, { shape: number[]; data: number[] }>; labels: number[]; classes: number; width: number; real: number[]; fake: number[]; critic: number; generator: number; grad_D: Record<string, number[]> } }>('conditional.json');
const IMAGE = [1, 28, 28];

describe('models/conditioning', () => {
  it('a projection critic takes the class as input; an ACGAN critic outputs class logits instead', () => {
    expect(conditionalFields({ classes: 10, conditioning: 'projection' }, true)).to.deep.equal({ classes: 10 });
    expect(conditionalFields({ classes: 10, conditioning: 'acgan' }, true)).to.deep.equal({ auxClasses: 10 });
    expect(conditionalFields({ classes: 10, conditioning: 'acgan' }, false)).to.deep.equal({ classes: 10 });
    expect(conditionalFields({}, true)).to.deep.equal({});
    expect(classesOf({ classes: 4 })).to.deep.equal({ classes: 4, conditioning: 'projection' });
    expect(CONDITIONINGS).to.deep.equal(['projection', 'acgan']);
  });
});

describe('class-conditional models against PyTorch', () => {
  const p = fx.projection;
  const cond = { classes: p.classes, conditioning: 'projection' as const };

  it('conditional DCGAN generator ([z, one-hot y], conditional batch norm): samples, weight gradients (per-class gain and bias tables) and running statistics', () =>
    generatorMatchesTorch(dcganGenerator({ image: IMAGE, width: p.width, latent: p.latent, ...cond }), p, IMAGE, [2e-3, 2e-4]));

  it('projection critic: WGAN-GP loss, penalty (double backward) and gradients w.r.t. every weight and the class embedding', () =>
    criticMatchesTorch(dcganCritic({ image: IMAGE, width: p.width, norm: 'layer', ...cond }), p, IMAGE, [2e-3, 2e-4]));

  it("ACGAN: the auxiliary classifier's critic and generator terms and the critic's gradients", async () => {
    const a = fx.acgan;
    const D = dcganCritic({ image: IMAGE, width: a.width, norm: 'layer', classes: a.classes, conditioning: 'acgan' });
    expect(D.auxClasses).to.equal(a.classes);
    expect(D.outputShape).to.deep.equal([1 + a.classes]);
    const g = new Graph('acgan');
    const params: Record<string, Value> = Object.fromEntries(D.params.map((s) => [s.name, a.params[s.name] ? g.input(s.name, 'float32', s.shape) : g.constant(tensor('float32', s.shape, new Float32Array(s.shape.reduce((x, y) => x * y, 1)).fill(0.1)))]));
    const c = (data: number[]) => g.constant(tensor('float32', [a.labels.length, ...IMAGE], data));
    const logits = (x: Value) => slice(D.forward(x, params), [1], [1 + a.classes], [1]);
    const ctx = { ...fixedContext((x) => D.forward(x, params), c(a.real), c(a.fake), a.labels.length), labels: g.constant(tensor('int64', [a.labels.length], a.labels)) };
    Object.assign(ctx, { classReal: logits(ctx.real), classFake: logits(ctx.fake) });
    const lossD = auxiliaryClassifier.critic(ctx);
    const names = Object.keys(a.grad_D);
    grad(lossD, names.map((n) => params[n])).forEach((v, i) => g.output(v, `d:${names[i]}`));
    g.output(lossD, 'critic');
    g.output(auxiliaryClassifier.generator(ctx), 'generator');
    const r = await run(g, Object.fromEntries(names.map((n) => [n, tensor('float32', a.params[n].shape, a.params[n].data)])));
    expectClose(arr(r.critic), [a.critic], 1e-5, 1e-6, 'critic term');
    expectClose(arr(r.generator), [a.generator], 1e-5, 1e-6, 'generator term');
    for (const n of names) expectClose(arr(r[`d:${n}`]), a.grad_D[n], 2e-3, 2e-5, `d/d${n}`);
  });
});

/** n images whose every pixel is its class (so a drawn image tells its label), labels cycling over k classes. */
function labelledSet(n: number, k: number) {
  const labels = Uint8Array.from({ length: n }, (_, i) => i % k);
  const images = new Uint8Array(n * 784);
  labels.forEach((l, i) => images.fill(l * 40, i * 784, (i + 1) * 784));
  return imageSet('labelled', IMAGE, images, labels, ['a', 'b', 'c']);
}

describe('class-conditional data and steps', function () {
  this.timeout(120000);
  let tmp: string;
  before(() => (tmp = mkdtempSync(join(tmpdir(), 'onnx-gan-cond-'))));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('labels come from an IDX labels file beside the images and from class subfolders (ImageFolder layout)', () => {
    const head = (n: number) => [0, 0, 8, 3, 0, 0, 0, n, 0, 0, 0, 2, 0, 0, 0, 2];
    writeFileSync(join(tmp, 'train-images-idx3-ubyte'), Uint8Array.from([...head(3), ...new Array(12).fill(7)]));
    writeFileSync(join(tmp, 'train-labels-idx1-ubyte'), Uint8Array.from([0, 0, 8, 1, 0, 0, 0, 3, 2, 0, 1]));
    const beside = labelsBeside(join(tmp, 'train-images-idx3-ubyte'));
    expect(beside).to.equal(join(tmp, 'train-labels-idx1-ubyte'));
    const set = readIdxImages(join(tmp, 'train-images-idx3-ubyte'), beside);
    expect(set.classes).to.deep.equal(['0', '1', '2']);
    expect([...set.labels!]).to.deep.equal([2, 0, 1]);

    const root = join(tmp, 'folders');
    for (const [k, name] of ['cat', 'ant', 'bee'].entries()) {
      mkdirSync(join(root, name), { recursive: true });
      for (let i = 0; i <= k; i++) writeFileSync(join(root, name, `${i}.png`), pngGrid(new Float32Array(16).fill(k / 2 - 0.5), [1, 4, 4], 1));
    }
    const folders = listImageFolder(root);
    expect(folders.classes).to.deep.equal(['ant', 'bee', 'cat']);
    // ant has 2 images, bee 3, cat 1, in sorted class order.
    expect([...folders.labels!]).to.deep.equal([0, 0, 1, 1, 1, 2]);
    mkdirSync(join(root, 'dog'));
    expect(() => listImageFolder(root)).to.throw(/folders\/dog: class folder with no image files \(\.jpg/);
  });

  it('a conditional step draws each image with its own label; the generator makes different samples per class', async () => {
    const data = labelledSet(60, 3);
    const setup = dcganGan({ loss: 'hinge', image: IMAGE, width: 4, latent: 8, batch: 6, classes: 3, conditioning: 'projection' });
    const t = await Trainer.create({ setup, runtime: nodeRuntime(), data, seed: 3, nCritic: () => 1, threads: 1 });
    const draws = drawStep(t.plan.critic.signature, iterationRng(3, 0), data);
    const { real, labels } = draws;
    for (let i = 0; i < 6; i++) expect(Math.round((real[i * 784] + 1) * 127.5), `row ${i}`).to.equal(labels[i] * 40);
    // The unconditional draw of the same stream takes the same images.
    expect([...data.sample(iterationRng(3, 0), 6)]).to.deep.equal([...real]);
    const s = t.initialState();
    await t.iteration(s);
    const z = Rng.stream(1, 'z').fillNormal(new Float32Array(2 * 8));
    const a = await t.generate(s, z, [0, 0]);
    const b = await t.generate(s, z, [1, 2]);
    expect(relErr(a, b)).to.be.greaterThan(1e-4);
    await t.generate(s, z).then(() => expect.fail('no labels accepted'), (e: Error) => expect(e.message).to.match(/class-conditional; give a class for each of the 2 latent vectors/));
    await t.release();
  });

  for (const conditioning of ['projection', 'acgan'] as const)
    it(`${conditioning}: K fused iterations give the parameters of K separate runs (1e-5 relative)`, async () => {
      const data = labelledSet(60, 3);
      const setup = dcganGan({ loss: 'wgan-gp', image: IMAGE, width: 4, latent: 8, batch: 6, classes: 3, conditioning });
      const t = await Trainer.create({ setup, runtime: nodeRuntime(), data, seed: 5, nCritic: () => 2, threads: 1 });
      const [a, b] = [t.initialState(), t.initialState()];
      for (let i = 0; i < 4; i++) await t.iteration(a);
      const logs = await t.fusedIterations(b, 4);
      expect(logs.every((l) => l.ok)).to.equal(true);
      if (conditioning === 'acgan') expect(logs[3].values).to.include.keys('D.ac', 'G.ac');
      for (const n of ['G', 'D'] as const) expect(relErr(a[n].params, b[n].params), n).to.be.lessThan(1e-5);
      expect(relErr(a.G.params, t.initialState().G.params)).to.be.greaterThan(1e-4);
      await t.release();
    });

  it('conditional models on unlabelled data, or with imported models, are refused naming why', () => {
    const file = join(tmp, 'plain-idx3-ubyte');
    const n = 4;
    writeFileSync(file, Uint8Array.from([0, 0, 8, 3, 0, 0, 0, n, 0, 0, 0, 28, 0, 0, 0, 28, ...new Array(n * 784).fill(9)]));
    const r = cli(['train', '--data', file, '--conditional', 'projection', '--iterations', '1', '--out', join(tmp, 'never')]);
    expect(r.code).to.not.equal(0);
    expect(r.err.trim().split('\n')).to.have.length(1);
    expect(r.err).to.match(/--conditional projection: the data set '.*plain-idx3-ubyte' has no labels/);
    expect(existsSync(join(tmp, 'never'))).to.equal(false);
    const m = cli(['train', '--data', 'ring8', '--conditional', 'acgan', '--iterations', '1', '--out', join(tmp, 'never')]);
    expect(m.err).to.match(/--conditional acgan: the data set 'ring8' is not images/);
  });
});
(haveFashionMnist ? describe : describe.skip)('a class-conditional run from the CLI (Fashion-MNIST)', function () {
  this.timeout(300000);
  let tmp: string;
  before(() => (tmp = mkdtempSync(join(tmpdir(), 'onnx-gan-cond-fm-'))));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('grids have one row per class; eval adds intra-class FID and conditioning accuracy; the export takes z and an int64 label', async () => {
    const run = join(tmp, 'run');
    const t = cli(['train', '--data', 'fashion-mnist', '--conditional', 'projection', '--loss', 'sngan', '--width', '8', '--batch', '16', '--latent', '16', '--n-critic', '1', '--iterations', '4', '--out', run, '--json']);
    expect(t.code, t.err).to.equal(0);
    const grid = parsePng(readFileSync(join(run, 'samples.png')), 'samples.png');
    // Scaled 2x by whole pixels, with a column of class names at the left (the longest, 'T-shirt/top').
    expect(grid.shape).to.deep.equal([3, 2 * (10 * 30 + 2), 2 * (10 * 30 + 2) + 16 + 11 * 8]);
    // The label column is white paper with dark text, the grid's gutter white too.
    const at = (y: number, x: number) => grid.data[y * grid.shape[2] + x];
    let dark = 0;
    for (let y = 0; y < grid.shape[1]; y++) for (let x = 0; x < 104; x++) dark += at(y, x) < 128 ? 1 : 0;
    expect(dark).to.be.greaterThan(200);

    const m = convClassifier({ stages: [[4], [8]], features: 16 });
    const clf = join(tmp, 'clf.onnx');
    writeFileSync(clf, classifierOnnx(m, layoutOf(m), initParams(m, Rng.stream(0, 'c')), { metadata: {}, producerVersion: 'test' }));
    const e = cli(['eval', run, '--classifier', clf, '--samples', '200', '--json']);
    expect(e.code, e.err).to.equal(0);
    const j = JSON.parse(e.out);
    expect(j.samples).to.equal(200);
    expect(j.conditional.perClass.map((c: { class: string }) => c.class)).to.deep.equal(['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']);
    for (const c of j.conditional.perClass) {
      expect(c.samples).to.equal(20);
      expect(c.references).to.equal(1000);
      expect(c.fid).to.be.greaterThan(0);
    }
    const mean = j.conditional.perClass.reduce((a: number, c: { fid: number }) => a + c.fid, 0) / 10;
    expect(j.conditional.meanIntraFid).to.be.closeTo(mean, 1e-9);
    // An untrained classifier calls most samples one class: the accuracy is the share it calls right.
    const acc = j.conditional.perClass.reduce((a: number, c: { accuracy: number }) => a + c.accuracy, 0) / 10;
    expect(j.conditional.accuracy).to.be.closeTo(acc, 1e-9);
    const human = cli(['eval', run, '--classifier', clf, '--samples', '100']);
    expect(human.out).to.match(/conditioning accuracy [\d.]+ %, mean intra-class FID [\d.]+/);
    expect(human.out).to.match(/Ankle boot\s+[\d.]+\s+[\d.]+ %/);

    const x = cli(['export', run, '--out', join(tmp, 'export')]);
    expect(x.code, x.err).to.equal(0);
    const bytes = readFileSync(join(tmp, 'export', 'generator.onnx'));
    const model = fromBytes(bytes);
    expect(model.graph.inputs.map((v) => [v.name, v.dtype])).to.deep.equal([['z', 'float32'], ['label', 'int64']]);
    expect(JSON.parse(model.metadata.classes)).to.have.length(10);
    const s = await rt.createSession(bytes);
    const z = Rng.stream(4, 'z').fillNormal(new Float32Array(2 * 16));
    const zz = new Float32Array([...z.subarray(0, 16), ...z.subarray(0, 16)]);
    const y = (await s.run({ z: tensor('float32', [2, 16], zz), label: tensor('int64', [2], [7, 1]) })).samples.data as Float32Array;
    await s.release();
    // One latent, two classes: two different images.
    expect(relErr(y.subarray(0, 784), y.subarray(784))).to.be.greaterThan(1e-4);
    const manifest = JSON.parse(readFileSync(join(tmp, 'export', 'training', 'artifacts.json'), 'utf8'));
    expect(manifest.classes[9]).to.equal('Ankle boot');
  });
});
