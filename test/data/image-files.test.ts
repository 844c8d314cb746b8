// Image data and image runs: IDX and PNG decoding (and the errors for corrupt or truncated files, naming
// the file and the offset or entry), minibatches, a model/data shape mismatch refused before training,
// and an image run from the CLI through to `onnx-gan eval` on real Fashion-MNIST.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { classifierOnnx } from '../../export/model.ts';
import { tensor } from '../../graph/ir.ts';
import { fromBytes } from '../../graph/serialize.ts';
import { cli, haveFashionMnist, rt } from '../helpers.ts';
import { imageData, parseIdx, parsePng, pngGrid, readIdxImages, sampleGridPng } from '../../data/image-files.ts';
import { rejects } from 'node:assert/strict';
import { EVENT_FILE_PREFIX } from '../../run/tfevents.ts';
import { imageSet } from '../../data/images.ts';
import { convClassifier } from '../../models/classifier.ts';
import { initParams, layoutOf } from '../../models/model.ts';
import { Rng } from '../../data/random.ts';

const FIXTURES = new URL('../fixtures', import.meta.url).pathname;
const PY = '/usr/bin/python3';

/** An IDX file of n images h x w (the MNIST layout: 0 0 8 3, big-endian dims, then bytes). */
function idx(n: number, h: number, w: number): Uint8Array {
  const head = [0, 0, 8, 3, ...[n, h, w].flatMap((d) => [d >>> 24, (d >>> 16) & 255, (d >>> 8) & 255, d & 255])];
  return Uint8Array.from([...head, ...Array.from({ length: n * h * w }, (_, i) => (i * 31) % 256)]);
}

describe('image data', () => {
  let tmp: string;
  before(() => (tmp = mkdtempSync(join(tmpdir(), 'onnx-gan-img-'))));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('IDX files, plain and gzipped, decode to the same images', () => {
    const raw = idx(3, 4, 5);
    const a = parseIdx(raw, 'a');
    const b = parseIdx(gzipSync(raw), 'b');
    expect(a.dims).to.deep.equal([3, 4, 5]);
    expect(Buffer.from(a.data).equals(Buffer.from(b.data))).to.equal(true);
    expect(a.data[7]).to.equal((7 * 31) % 256);
  });

  const idxFaults: [string, (b: Uint8Array) => Uint8Array, RegExp][] = [
    ['a truncated body', (b) => b.slice(0, 16 + 2 * 20 + 7), /^f\.idx: truncated at offset 63: dims \[3,4,5\] need 76 bytes \(entry 2 of 3 is cut\)$/],
    ['a truncated header', (b) => b.slice(0, 10), /^f\.idx: truncated at offset 10: the header needs 16 bytes for 3 dims$/],
    ['a bad magic number', (b) => Uint8Array.from(b).fill(1, 0, 1), /^f\.idx: not an IDX file: bytes 0-1 are 1, 0/],
    ['an element type other than bytes', (b) => Uint8Array.from(b).fill(0x0d, 2, 3), /^f\.idx: IDX element type at offset 2 is float/],
    ['bytes past the end', (b) => Uint8Array.from([...b, 1, 2]), /^f\.idx: 2 bytes past the end of dims \[3,4,5\] at offset 76$/],
    ['a corrupt gzip stream', (b) => gzipSync(b).map((v, i) => (i === 12 ? v ^ 0xff : v)), /^f\.idx: corrupt gzip stream/],
  ];
  for (const [what, f, re] of idxFaults)
    it(`an IDX file with ${what} is refused, naming the file and the offset or entry`, () => {
      expect(() => parseIdx(f(idx(3, 4, 5)), 'f.idx')).to.throw(re);
    });

  it('PNG: a grid written by pngGrid reads back as the same pixels; corrupt or truncated files name the offset', () => {
    const imgs = Float32Array.from({ length: 2 * 3 * 6 * 6 }, (_, i) => (i % 5) / 2 - 1);
    const png = pngGrid(imgs, [3, 6, 6], 2);
    const back = parsePng(png, 'g.png');
    expect(back.shape).to.deep.equal([3, 6 + 4, 2 * 6 + 6]);
    // The first image's top-left pixel sits after the 2-pixel gutter.
    expect(back.data[2 * 18 + 2]).to.equal(Math.round((imgs[0] + 1) * 127.5));
    expect(() => parsePng(png.slice(0, 40), 'g.png')).to.throw(/^g\.png: truncated at offset 40: chunk header at offset 33 is cut$/);
    expect(() => parsePng(png.map((v, i) => (i === 60 ? v ^ 1 : v)), 'g.png')).to.throw(/^g\.png: CRC mismatch in chunk "IDAT" at offset 33/);
    expect(() => parsePng(png.map((v, i) => (i === 0 ? 0 : v)), 'g.png')).to.throw(/^g\.png: not a PNG: bad signature/);
  });

  it('a PNG folder: images of different sizes are refused naming the file and the way out', async () => {
    const dir = join(tmp, 'pngs');
    mkdirSync(dir);
    writeFileSync(join(dir, 'a.png'), pngGrid(new Float32Array(16), [1, 4, 4], 1));
    writeFileSync(join(dir, 'b.png'), pngGrid(new Float32Array(16), [1, 4, 4], 1));
    const set = (await imageData(dir))!;
    expect(set.count).to.equal(2);
    expect(set.shape).to.deep.equal([3, 8, 8]);
    writeFileSync(join(dir, 'c.png'), pngGrid(new Float32Array(25), [1, 5, 5], 1));
    await rejects(imageData(dir), /c\.png: 9x9, the folder's first image .*a\.png is 8x8; --image-size N resizes every image to N x N/);
  });

  it('minibatches are scaled to [-1, 1], drawn by the seeded PRNG (same stream, same batch)', () => {
    const images = Uint8Array.from({ length: 10 * 4 }, (_, i) => (i * 13) % 256);
    const s = imageSet('t', [1, 2, 2], images);
    const a = s.sample(Rng.stream(1, 'data', 5), 8);
    const b = s.sample(Rng.stream(1, 'data', 5), 8);
    const c = s.sample(Rng.stream(1, 'data', 6), 8);
    expect(Array.from(a)).to.deep.equal(Array.from(b));
    expect(Array.from(a)).to.not.deep.equal(Array.from(c));
    expect(Math.min(...a)).to.be.at.least(-1);
    expect(Math.max(...a)).to.be.at.most(1);
    // Every sample is one whole stored image.
    const stored = new Set([...Array(10).keys()].map((k) => Array.from(images.subarray(4 * k, 4 * k + 4)).join()));
    for (let i = 0; i < 8; i++) expect(stored.has(Array.from(a.subarray(i * 4, i * 4 + 4), (v) => Math.round((v + 1) * 127.5)).join()), `sample ${i}`).to.equal(true);
  });

  it('sample grids for people: scaled by whole pixels, class names (any text, escaped into the SVG) beside the rows', async () => {
    const imgs = Float32Array.from({ length: 2 * 3 * 16 }, (_, i) => Math.sin(i));
    // Six 4x4 images in 3 columns: a 20 x 14 grid (2-pixel gutters), scaled 26x to about 512 wide.
    const plain = parsePng(await sampleGridPng(imgs, [1, 4, 4], 3), 'plain.png');
    expect(plain.shape).to.deep.equal([3, 14 * 26, 20 * 26]);
    const hostile = ['</text><script>alert(1)</script>', 'a & "b" \'c\''];
    const labelled = parsePng(await sampleGridPng(imgs, [1, 4, 4], 3, { rowLabels: hostile, width: 100 }), 'labelled.png');
    expect(labelled.shape[1]).to.equal(14 * 5);
    expect(labelled.shape[2]).to.be.above(20 * 5);
  });

  it('--flip mirrors about half the drawn images left-right, the same ones for the same stream', () => {
    // 3x2 images (C=1, H=2, W=3): every draw is either a stored image or its mirror, and both occur.
    const images = Uint8Array.from({ length: 4 * 6 }, (_, i) => i * 10);
    const s = imageSet('t', [1, 2, 3], images, undefined, undefined, { flip: true });
    const a = s.sample(Rng.stream(3, 'data', 0), 200);
    expect(Array.from(a)).to.deep.equal(Array.from(s.sample(Rng.stream(3, 'data', 0), 200)));
    const rows = (k: number) => [0, 1].map((y) => Array.from(images.subarray(6 * k + 3 * y, 6 * k + 3 * y + 3)));
    let mirrored = 0;
    for (let i = 0; i < 200; i++) {
      const got = Array.from(a.subarray(i * 6, i * 6 + 6), (v) => Math.round((v + 1) * 127.5)).join();
      const k = Math.floor(Math.round((a[i * 6] + 1) * 127.5) / 60);
      const plain = rows(k).flat().join();
      const flipped = rows(k).flatMap((r) => [...r].reverse()).join();
      expect([plain, flipped], `sample ${i}`).to.include(got);
      if (got === flipped) mirrored++;
    }
    expect(mirrored).to.be.within(70, 130);
  });

  it('an IDX file with labels that do not match its images is refused naming both', () => {
    const im = join(tmp, 'im-idx3-ubyte');
    const lb = join(tmp, 'lb-idx1-ubyte');
    writeFileSync(im, idx(3, 4, 5));
    writeFileSync(lb, Uint8Array.from([0, 0, 8, 1, 0, 0, 0, 2, 1, 2]));
    expect(() => readIdxImages(im, lb)).to.throw(/lb-idx1-ubyte: labels \[2\] do not match 3 images in .*im-idx3-ubyte/);
  });

  it('a critic whose input does not match the data is refused before training, naming both shapes', () => {
    const file = join(tmp, 'im28-idx3-ubyte');
    writeFileSync(file, idx(4, 28, 28));
    const out = join(tmp, 'never');
    const r = cli(['train', '--data', file, '--generator', join(FIXTURES, 'torch_g.onnx'), '--critic', join(FIXTURES, 'torch_d.onnx'), '--iterations', '2', '--out', out]);
    expect(r.code).to.not.equal(0);
    expect(r.err.trim().split('\n'), r.err).to.have.length(1);
    expect(r.err).to.match(/has samples of shape \[1,28,28\], the critic takes \[2\]/);
    expect(existsSync(join(out, 'checkpoints'))).to.equal(false);
  });

  it('images of a size the DCGAN does not build are refused before training, naming the shape', () => {
    const file = join(tmp, 'im18-idx3-ubyte');
    writeFileSync(file, idx(4, 18, 18));
    const r = cli(['train', '--data', file, '--iterations', '2', '--out', join(tmp, 'never18')]);
    expect(r.code).to.not.equal(0);
    expect(r.err).to.match(/dcgan: image must be \[C, S, S\] with S in 16, 20, 24, 28, 32, 40, .*, 256 \(--image-size resizes a folder to one\), got \[1,18,18\]/);
  });
});
(haveFashionMnist ? describe : describe.skip)('an image run from the CLI (Fashion-MNIST)', function () {
  this.timeout(300000);
  let tmp: string;
  before(() => (tmp = mkdtempSync(join(tmpdir(), 'onnx-gan-fm-'))));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('--eval-every scores the averaged generator as the run goes (evals.jsonl with the training seconds, TensorBoard); eval scores the average, --no-ema the trained weights', async () => {
    const m = convClassifier({ stages: [[4], [8]], features: 16 });
    const clf = join(tmp, 'clf-every.onnx');
    writeFileSync(clf, classifierOnnx(m, layoutOf(m), initParams(m, Rng.stream(0, 'c')), { metadata: {}, producerVersion: 'test' }));
    const run = join(tmp, 'every');
    const args = ['train', '--data', 'fashion-mnist', '--data-size', '500', '--loss', 'hinge', '--n-critic', '1', '--width', '8', '--batch', '16', '--latent', '16', '--iterations', '6', '--ema', '0.9', '--out', run];
    const r = cli([...args, '--eval-every', '3', '--eval-samples', '200', '--classifier', clf]);
    expect(r.code, r.err).to.equal(0);
    const evals = readFileSync(join(run, 'evals.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(evals.map((e) => e.iteration)).to.deep.equal([3, 6]);
    for (const e of evals) for (const k of ['classifier_fid', 'kid', 'precision', 'recall', 'density', 'coverage', 'inception_score']) expect(e[k], k).to.be.a('number');
    expect(evals[0].samples).to.equal(200);
    // Training seconds at each score, the scoring left out: within the loop's whole time, and growing.
    const loop = JSON.parse(readFileSync(join(run, 'metrics.json'), 'utf8')).seconds;
    expect(evals[0].seconds).to.be.greaterThan(0);
    expect(evals[1].seconds).to.be.greaterThan(evals[0].seconds).and.lessThan(loop);
    const events = readdirSync(run).filter((f) => f.startsWith(EVENT_FILE_PREFIX)).map((f) => readFileSync(join(run, f), 'latin1')).join('');
    expect(events).to.include('eval/classifier_fid').and.include('eval/coverage');
    const averaged = JSON.parse(cli(['eval', run, '--classifier', clf, '--samples', '200', '--json']).out);
    const trained = JSON.parse(cli(['eval', run, '--classifier', clf, '--samples', '200', '--no-ema', '--json']).out);
    expect([averaged.ema, trained.ema]).to.deep.equal([true, false]);
    expect(averaged.fid, 'the same latents through other weights').to.not.equal(trained.fid);
    // The score on the same latents at the same iteration: eval and --eval-every agree.
    expect(averaged.fid).to.be.closeTo(evals[1].classifier_fid, 1e-9);
    expect(cli([...args, '--force', '--eval-every', '3']).err.trim()).to.equal('onnx-gan: --eval-every 3: scores with a classifier; give --classifier FILE (onnx-gan train-classifier makes one)');
  });

  it('train writes sample grids from fixed noise; eval scores it with a classifier.onnx and merges the scores into metrics.json; export --uint8 writes the torch-fidelity generator', async () => {
    const run = join(tmp, 'run');
    const args = ['train', '--data', 'fashion-mnist', '--loss', 'wgan-gp', '--width', '8', '--batch', '16', '--latent', '16', '--iterations', '4', '--sample-every', '2', '--checkpoint-every', '2', '--out', run];
    const r = cli([...args, '--json']);
    expect(r.code, r.err).to.equal(0);
    for (const f of ['samples.png', 'samples/step-000000002.png', 'samples/step-000000004.png']) expect(existsSync(join(run, f)), f).to.equal(true);
    // Same noise, same weights: the last grid and the final one are the same picture.
    expect(readFileSync(join(run, 'samples.png')).equals(readFileSync(join(run, 'samples/step-000000004.png')))).to.equal(true);
    const grid = parsePng(readFileSync(join(run, 'samples.png')), 'samples.png');
    // 8 x 8 samples with 2-pixel gutters, scaled 2x by whole pixels for people.
    expect(grid.shape).to.deep.equal([3, 2 * (8 * 30 + 2), 2 * (8 * 30 + 2)]);

    // An untrained classifier is enough to run the scoring path end to end.
    const m = convClassifier({ stages: [[4], [8]], features: 16 });
    const clf = join(tmp, 'clf.onnx');
    writeFileSync(clf, classifierOnnx(m, layoutOf(m), initParams(m, Rng.stream(0, 'c')), { metadata: { test_accuracy: '0.5' }, producerVersion: 'test' }));
    const e = cli(['eval', run, '--classifier', clf, '--samples', '300', '--json']);
    expect(e.code, e.err).to.equal(0);
    const j = JSON.parse(e.out);
    expect(j.iteration).to.equal(4);
    expect(j.samples).to.equal(300);
    expect(j.classHistogram.reduce((a: number, b: number) => a + b, 0)).to.equal(300);
    expect(j.fid).to.be.greaterThan(0);
    expect(j.classifierTestAccuracy).to.equal(0.5);
    for (const k of ['precision', 'recall', 'density', 'coverage']) expect(j.manifold[k], k).to.be.a('number').and.at.least(0);
    expect(j.manifold.k).to.deep.equal({ precisionRecall: 3, densityCoverage: 5 });
    expect(j.inceptionScore.mean).to.be.within(1, 10);
    expect(j.ema, 'a run without --ema is scored on its trained weights').to.equal(false);
    const metrics = JSON.parse(readFileSync(join(run, 'metrics.json'), 'utf8'));
    expect(metrics.iterations).to.equal(4);
    expect(metrics.eval.fid).to.equal(j.fid);
    // The truncation trick: latents within +-0.5 give other scores, and the result says so.
    const t = cli(['eval', run, '--classifier', clf, '--samples', '300', '--truncation', '0.5', '--json']);
    expect(t.code, t.err).to.equal(0);
    const tj = JSON.parse(t.out);
    expect([j.truncation, tj.truncation]).to.deep.equal([null, 0.5]);
    expect(tj.fid).to.not.equal(j.fid);
    expect(cli(['eval', run, '--classifier', clf, '--truncation', '-1']).err.trim()).to.equal('onnx-gan: --truncation: must be a positive number of standard deviations, got -1');
    // ...and into the run's TensorBoard events, beside its curves.
    const events = readdirSync(run).filter((f) => f.startsWith(EVENT_FILE_PREFIX)).map((f) => readFileSync(join(run, f), 'latin1')).join('');
    expect(events).to.include('eval/classifier_fid').and.include('eval/kid').and.include('eval/precision').and.include('eval/inception_score');

    // Export: image metadata, and --uint8's torch-fidelity generator equal to the float one's pixels.
    const x = cli(['export', run, '--uint8', '--out', join(tmp, 'export')]);
    expect(x.code, x.err).to.equal(0);
    const f32 = readFileSync(join(tmp, 'export', 'generator.onnx'));
    const u8 = readFileSync(join(tmp, 'export', 'generator_uint8.onnx'));
    expect(fromBytes(f32).metadata).to.include({ output_range: '[-1, 1] (tanh); pixel = (x + 1) * 127.5', output_layout: '[N, 1, 28, 28] float32 (NCHW)' });
    expect(fromBytes(u8).metadata).to.include({ output_range: '[0, 255]', latent_size: '16' });
    const z = tensor('float32', [5, 16], Rng.stream(2, 'z').fillNormal(new Float32Array(80)));
    const [sf, su] = [await rt.createSession(f32), await rt.createSession(u8)];
    const [yf, yu] = [(await sf.run({ z })).samples, (await su.run({ z })).images];
    await sf.release();
    await su.release();
    expect(yu.dtype).to.equal('uint8');
    expect(yu.dims).to.deep.equal([5, 3, 28, 28]);
    const px = yf.data as Float32Array;
    const rgb = yu.data as Uint8Array;
    let worst = 0;
    for (let n = 0; n < 5; n++)
      for (let c = 0; c < 3; c++)
        for (let i = 0; i < 784; i++) worst = Math.max(worst, Math.abs(rgb[(n * 3 + c) * 784 + i] - Math.min(255, Math.max(0, (px[n * 784 + i] + 1) * 127.5))));
    expect(worst).to.be.at.most(0.5 + 1e-3);
    if (spawnSync(PY, ['-c', 'import onnx']).status === 0) {
      const chk = spawnSync(PY, ['-c', `import onnx,sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True); print('ok')`, join(tmp, 'export', 'generator_uint8.onnx')], { encoding: 'utf8' });
      expect(chk.stdout.trim(), chk.stderr).to.equal('ok');
    }

    const bad = cli(['eval', run, '--classifier', join(tmp, 'missing.onnx')]);
    expect(bad.code).to.not.equal(0);
    expect(bad.err).to.match(/^onnx-gan: eval: classifier .*missing\.onnx not found; make it with onnx-gan train-classifier/);
    writeFileSync(join(tmp, 'bad.onnx'), 'this is not a model');
    const junk = cli(['eval', run, '--classifier', join(tmp, 'bad.onnx')]);
    expect(junk.code).to.equal(1);
    expect(junk.err.trim().split('\n')).to.have.length(1);
    expect(junk.err).to.match(/^onnx-gan: eval: classifier .*bad\.onnx: /);
    // The exported models name their batch dimension and describe their own role.
    const gen = fromBytes(f32);
    expect(gen.graph.outputs[0].shape).to.deep.equal(['N', 1, 28, 28]);
    const critic = fromBytes(readFileSync(join(tmp, 'export', 'critic.onnx')));
    expect(critic.metadata).to.include({ role: 'critic', output_layout: '[N, 1] float32' });
    expect(critic.metadata).to.not.have.property('latent_size');
    expect(critic.graph.inputs[0].shape).to.deep.equal(['N', 1, 28, 28]);
  });
});
