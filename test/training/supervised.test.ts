// The scoring classifier and the image scores: the classifier's forward pass, cross-entropy and weight
// gradients against PyTorch (test/fixtures/classifier.json); cross-entropy's gradient against central
// differences; one supervised step graph learning real Fashion-MNIST; FID and KID against numpy
// (test/fixtures/scores.json).
import { expect } from 'chai';
import { grad } from '../../graph/autodiff.ts';
import { Graph, tensor, type Value } from '../../graph/ir.ts';
import { mul, reduceSum } from '../../graph/ops.ts';
import { softmaxCrossEntropy } from '../../losses/classification.ts';
import { convClassifier } from '../../models/classifier.ts';
import { classCoverage, fid, gaussian, kid, symmetricEigen, symmetricEigenvalues, frechetDistance } from '../../eval/scores.ts';
import { fashionMnist } from '../../data/image-files.ts';
import { imageSet, labelled } from '../../data/images.ts';
import { classifierOnnx } from '../../export/model.ts';
import { accuracy, ClassifierRunner, flipAndShift, imageBatch, trainClassifier } from '../../training/supervised.ts';
import { Rng } from '../../data/random.ts';
import { arr, expectClose, fixture, haveFashionMnist, rt, run, session } from '../helpers.ts';
import { ortKernelSum } from '../../eval/image-scores.ts';

interface ClassifierFixture {
  batch: number;
  image: number[];
  stages: number[][];
  pool: 'avg' | 'max';
  features: number;
  classes: number;
  params: Record<string, { shape: number[]; data: number[] }>;
  x: number[];
  labels: number[];
  logits: number[];
  feats: number[];
  loss: number;
  grads: Record<string, number[]>;
}

const oneHot = (labels: number[], k: number) => labels.flatMap((l) => Array.from({ length: k }, (_, j) => (j === l ? 1 : 0)));

describe('scoring classifier', () => {
  for (const kind of ['small', 'vgg'] as const) {
    it(`${kind}: forward, features, cross-entropy and weight gradients match PyTorch (float32, 1e-4)`, async () => {
      const fx = fixture<Record<typeof kind, ClassifierFixture>>('classifier.json')[kind];
      const m = convClassifier({ image: fx.image, stages: fx.stages, pool: fx.pool, features: fx.features, classes: fx.classes });
      expect(m.params.map((p) => p.name)).to.deep.equal(Object.keys(fx.params));
      const g = new Graph('clf');
      const p: Record<string, Value> = Object.fromEntries(m.params.map((s) => [s.name, g.input(s.name, 'float32', s.shape)]));
      const x = g.constant(tensor('float32', [fx.batch, ...fx.image], fx.x));
      const y = g.constant(tensor('float32', [fx.batch, fx.classes], oneHot(fx.labels, fx.classes)));
      const logits = m.forward(x, p);
      const loss = softmaxCrossEntropy(logits, y);
      const names = m.params.map((s) => s.name);
      grad(loss, names.map((n) => p[n])).forEach((v, i) => g.output(v, `d:${names[i]}`));
      g.output(logits, 'logits');
      g.output(m.features(x, p), 'features');
      g.output(loss, 'loss');
      const r = await run(g, Object.fromEntries(names.map((n) => [n, tensor('float32', fx.params[n].shape, fx.params[n].data)])));
      expectClose(arr(r.logits), fx.logits, 1e-4, 1e-5, 'logits');
      expectClose(arr(r.features), fx.feats, 1e-4, 1e-5, 'features');
      expectClose(arr(r.loss), [fx.loss], 1e-5, 1e-6, 'cross-entropy');
      for (const n of names) expectClose(arr(r[`d:${n}`]), fx.grads[n], 1e-4, 1e-5, `dL/d${n}`);
    });
  }

  it('flipAndShift: each image is itself, mirrored and/or moved by up to the given pixels, the edge filled with -1; every move occurs', () => {
    const [c, h, w] = [2, 3, 4];
    const one = Float32Array.from({ length: c * h * w }, (_, k) => k / 10);
    const n = 400;
    const x = new Float32Array(n * one.length);
    for (let i = 0; i < n; i++) x.set(one, i * one.length);
    flipAndShift(x, [c, h, w], 1, Rng.stream(0, 'test'));
    const moved = (flip: boolean, dy: number, dx: number) =>
      Float32Array.from({ length: one.length }, (_, k) => {
        const [ch, i, j] = [Math.floor(k / (h * w)), Math.floor(k / w) % h, k % w];
        const [si, sj] = [i - dy, (flip ? w - 1 - j : j) - dx];
        return si >= 0 && si < h && sj >= 0 && sj < w ? one[(ch * h + si) * w + sj] : -1;
      });
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) {
      const got = x.subarray(i * one.length, (i + 1) * one.length);
      const match = [false, true].flatMap((f) => [-1, 0, 1].flatMap((dy) => [-1, 0, 1].map((dx) => [f, dy, dx] as const))).find(([f, dy, dx]) => moved(f, dy, dx).every((v, k) => v === got[k]));
      expect(match, `image ${i}`).to.not.equal(undefined);
      seen.add(String(match));
    }
    expect(seen.size).to.equal(18);
  });

  it("cross-entropy's gradient and second derivative match central differences (float64), and large logits stay finite", async () => {
    const g = new Graph('ce');
    const l = g.input('l', 'float64', [2, 4]);
    const y = g.constant(tensor('float64', [2, 4], [0, 0, 1, 0, 0.25, 0.25, 0.5, 0]));
    const L = softmaxCrossEntropy(l, y);
    const [dl] = grad(L, [l]);
    const V = g.constant(tensor('float64', [2, 4], [0.3, -0.1, 0.7, 0.2, -0.5, 0.4, 0.1, 0.9]));
    const L2 = reduceSum(mul(dl, V));
    const [ddl] = grad(L2, [l]);
    g.output(L, 'L');
    g.output(L2, 'L2');
    g.output(dl, 'g');
    g.output(ddl, 'gg');
    const s = await session(g);
    const base = [1.5, -0.3, 0.2, 2.0, -1.0, 0.5, 0.0, 3.0];
    const at = async (v: number[]) => s.run({ l: tensor('float64', [2, 4], v) });
    const r = await at(base);
    const h = 1e-6;
    const fd1: number[] = [];
    const fd2: number[] = [];
    for (let k = 0; k < base.length; k++) {
      const [p, q] = [base.slice(), base.slice()];
      p[k] += h;
      q[k] -= h;
      const [rp, rq] = [await at(p), await at(q)];
      fd1.push((arr(rp.L)[0] - arr(rq.L)[0]) / (2 * h));
      fd2.push((arr(rp.L2)[0] - arr(rq.L2)[0]) / (2 * h));
    }
    expectClose(arr(r.g), fd1, 1e-6, 1e-8, 'dCE/dlogits');
    expectClose(arr(r.gg), fd2, 1e-6, 1e-8, 'd(dCE . V)/dlogits');
    const big = await at(base.map((v) => v * 1000));
    expect(Number.isFinite(arr(big.L)[0])).to.equal(true);
    await s.release();
  });
  it('stopped and gone on from its progress, a training ends bit for bit where an uninterrupted one does (mid-epoch and at an epoch end); a progress that does not fit is refused', async function () {
    this.timeout(60_000);
    const rng = Rng.stream(5, 'tiny-images');
    const n = 200;
    const images = Uint8Array.from({ length: n * 64 }, () => rng.int(256));
    const labels = Uint8Array.from({ length: n }, () => rng.int(10));
    const tiny = labelled(imageSet('tiny', [1, 8, 8], images, labels, Array.from({ length: 10 }, (_, i) => `c${i}`)));
    const m = convClassifier({ image: [1, 8, 8], stages: [[4], [8]], features: 16 });
    const o = { epochs: 3, batch: 32, lr: 2e-3, shift: 1, seed: 2, threads: 1 };
    const whole = await trainClassifier(rt, m, tiny, o);
    expect(whole.status).to.equal('done');
    expect(whole.steps).to.equal(18);
    for (const at of [7, 12]) {
      const saved: number[] = [];
      const first = await trainClassifier(rt, m, tiny, { ...o, stopRequested: () => saved.length > 0 || false, onProgress: (s) => s === at && saved.push(s) });
      expect(first.status).to.equal('interrupted');
      expect(first.steps).to.equal(at);
      // As a file would give it back: copies, not the arrays the first call holds.
      const p = first.progress;
      const copy = { ...p, params: p.params.slice(), slots: p.slots.map((x) => x.slice()), epochLoss: p.epochLoss.slice() };
      const rest = await trainClassifier(rt, m, tiny, { ...o, from: copy });
      expect(rest.status).to.equal('done');
      expect(Buffer.from(rest.params.buffer).equals(Buffer.from(whole.params.buffer)), `params after stopping at ${at}`).to.equal(true);
      expect(rest.epochLoss).to.deep.equal(whole.epochLoss);
    }
    const p = whole.progress;
    const refused = async (from: typeof p) => trainClassifier(rt, m, tiny, { ...o, from }).then(() => 'ran', (e: Error) => e.message);
    expect(await refused({ ...p, params: p.params.subarray(1) })).to.match(/^classifier: the progress to go on from: \d+ parameters, the model has \d+$/);
    expect(await refused({ ...p, step: 19 })).to.equal("classifier: the progress to go on from: step 19 is outside this training's 0..18");
    expect(await refused({ ...p, step: 12, epochLoss: [1] })).to.equal('classifier: the progress to go on from: 1 epoch losses at step 12 (epochs of 6 steps)');
  });
  (haveFashionMnist ? it : it.skip)('learns real Fashion-MNIST with the supervised step graph: 150 Adam steps of a narrow classifier reach 70% on 2,000 test images (chance: 10%), scored through classifier.onnx', async function () {
    this.timeout(120_000);
    const train = fashionMnist('train');
    const test = fashionMnist('t10k');
    const m = convClassifier({ stages: [[8], [16]], features: 32 });
    const n = 150 * 64;
    const sub = labelled(imageSet('train[:9600]', train.shape, train.images.subarray(0, n * 784), train.labels!.subarray(0, n), train.classes));
    const r = await trainClassifier(rt, m, sub, { epochs: 1, batch: 64, lr: 2e-3, seed: 0, threads: 1 });
    expect(r.steps).to.equal(150);
    const bytes = classifierOnnx(m, r.layout, r.params, { metadata: {}, producerVersion: 'test' });
    const runner = await ClassifierRunner.create(rt, bytes, 1);
    const idx = Uint32Array.from({ length: 2000 }, (_, i) => i);
    const out = await runner.run(imageBatch(test, idx), 700);
    await runner.release();
    expect(out.logits.length).to.equal(2000 * 10);
    expect(out.features.length).to.equal(2000 * 32);
    const acc = accuracy(out.logits, 10, test.labels!.subarray(0, 2000));
    expect(acc, `test accuracy ${acc}`).to.be.greaterThan(0.7);
  });
});

interface ScoresFixture {
  d: number;
  a: number[];
  b: number[];
  fid: number;
  kid_full: number;
  kid_rows: number;
}

describe('image scores', () => {
  const fx = fixture<ScoresFixture>('scores.json');
  const a = Float32Array.from(fx.a);
  const b = Float32Array.from(fx.b);

  it('FID matches numpy (eigenvalues of S1 S2) to 1e-8 relative, and is 0 between a set and itself', () => {
    const f = fid(a, b, fx.d);
    expect(Math.abs(f - fx.fid) / fx.fid, `${f} vs ${fx.fid}`).to.be.lessThan(1e-8);
    expect(fid(a, a, fx.d)).to.be.lessThan(1e-9);
    expect(f).to.be.greaterThan(1);
  });

  it('FID of Gaussians with known moments: |mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^1/2) for diagonal covariances', () => {
    const d = 3;
    const g1 = { d, mean: Float64Array.from([0, 1, 2]), cov: Float64Array.from([4, 0, 0, 0, 1, 0, 0, 0, 9]) };
    const g2 = { d, mean: Float64Array.from([1, 1, 0]), cov: Float64Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]) };
    // 1 + 4 = 5; (2-1)^2 + 0 + (3-1)^2 = 5
    expect(frechetDistance(g1, g2)).to.be.closeTo(10, 1e-10);
  });

  it('the symmetric eigendecomposition reconstructs its matrix', () => {
    const { cov, d } = gaussian(b, fx.d);
    const { values, vectors } = symmetricEigen(cov, d);
    let err = 0;
    for (let i = 0; i < d; i++)
      for (let j = 0; j < d; j++) {
        let s = 0;
        for (let k = 0; k < d; k++) s += vectors[i * d + k] * values[k] * vectors[j * d + k];
        err = Math.max(err, Math.abs(s - cov[i * d + j]));
      }
    expect(err).to.be.lessThan(1e-12);
    // The eigenvalues alone (no transformations accumulated) are the same numbers.
    const sorted = (v: Float64Array) => Array.from(v).sort((p, q) => p - q);
    expectClose(sorted(symmetricEigenvalues(cov, d)), sorted(values), 1e-12, 1e-13, 'eigenvalues alone');
  });

  it('KID over one subset of whole sets equals numpy\'s unbiased MMD^2 (TypeScript and onnxruntime kernel sums); random subsets give a mean and a spread', async () => {
    const m = fx.kid_rows;
    const ort = ortKernelSum(rt, 1);
    const ko = await kid(a.subarray(0, m * fx.d), b, fx.d, { subsets: 1, subsetSize: m, kernelSum: ort.sum });
    await ort.release();
    expect(Math.abs(ko.mean - fx.kid_full) / Math.abs(fx.kid_full), `${ko.mean} vs ${fx.kid_full}`).to.be.lessThan(1e-5);
    const k = await kid(a.subarray(0, m * fx.d), b, fx.d, { subsets: 1, subsetSize: m });
    expect(Math.abs(k.mean - fx.kid_full) / Math.abs(fx.kid_full), `${k.mean} vs ${fx.kid_full}`).to.be.lessThan(1e-9);
    const r = await kid(a, b, fx.d, { subsets: 10, subsetSize: 100, seed: 3 });
    expect(r.subsets).to.equal(10);
    expect(r.std).to.be.greaterThan(0);
    expect(Math.abs(r.mean - fx.kid_full)).to.be.lessThan(5 * r.std);
    // Same set against itself: the unbiased estimate straddles zero.
    expect(Math.abs((await kid(a, a, fx.d, { subsets: 10, subsetSize: 100 })).mean)).to.be.lessThan(Math.abs(fx.kid_full) / 5);
  });

  it('class coverage: histogram, classes covered and KL to uniform in nats', () => {
    expect(classCoverage([0, 1, 2, 3], 4)).to.deep.equal({ histogram: [1, 1, 1, 1], klToUniform: 0, classesCovered: 4 });
    const c = classCoverage([0, 0, 0, 1], 4);
    expect(c.histogram).to.deep.equal([3, 1, 0, 0]);
    expect(c.classesCovered).to.equal(2);
    expect(c.klToUniform).to.be.closeTo(0.75 * Math.log(3) + 0.25 * Math.log(1), 1e-12);
    expect(classCoverage([2, 2, 2], 10).klToUniform).to.be.closeTo(Math.log(10), 1e-12);
  });
});
