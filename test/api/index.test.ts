// The library API in process: train with callbacks, as an async iterator, cancelled by an AbortSignal and
// resumed, exported and sampled; settings are checked by the config table's schema.
import { expect } from 'chai';
import { rejects } from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evaluate, exportRun, loadGenerator, resume, runDirectory, train, trainEvents, type IterationEvent, type Settings } from '../../api/index.ts';
import { loadGenerator as loadInBrowser } from '../../api/web.ts';
import { packageFile, packageRoot } from '../../runtime/package-files.ts';
import { haveFashionMnist } from '../helpers.ts';

describe('api', function () {
  this.timeout(300000);
  let tmp: string;
  before(() => (tmp = mkdtempSync(join(tmpdir(), 'onnx-gan-api-'))));
  after(() => rmSync(tmp, { recursive: true, force: true }));
  const small: Settings = { data: 'ring8', hidden: [16, 16], batch: 32, evalSamples: 200, checkpointEvery: 10, logEvery: 10 };

  it('train reports every block through onIteration and returns the metrics', async () => {
    const seen: IterationEvent[] = [];
    const r = await train({ ...small, iterations: 30, fuse: 10, out: join(tmp, 'a') }, { onIteration: (e) => seen.push(e) });
    expect(r.status).to.equal('done');
    expect(seen.map((e) => e.iteration)).to.deep.equal([10, 20, 30]);
    expect(seen[0].total).to.equal(30);
    expect(seen[2].values).to.have.property('D.loss').that.is.a('number');
    expect(r.metrics!.modes).to.equal(8);
  });

  it('trainEvents is an async iterator of the same events; its result settles with the run', async () => {
    const run = trainEvents({ ...small, iterations: 20, fuse: 5, out: join(tmp, 'b') });
    const its: number[] = [];
    for await (const e of run) its.push(e.iteration);
    expect(its).to.deep.equal([5, 10, 15, 20]);
    expect((await run.result).iterations).to.equal(20);
    const bad = trainEvents({ ...small, loss: 'bogus' as never, out: join(tmp, 'never') });
    await rejects(
      (async () => {
        for await (const _ of bad) void _;
      })(),
      /^Error: train settings: 'loss': Invalid option/,
    );
  });

  it('an AbortSignal stops with a checkpoint; resume goes on to the end, as an uninterrupted run does', async () => {
    const stop = new AbortController();
    const out = join(tmp, 'c');
    const r = await train({ ...small, iterations: 40, fuse: 10, out }, { signal: stop.signal, onIteration: (e) => e.iteration === 10 && stop.abort() });
    expect(r.status).to.equal('interrupted');
    expect(r.iterations).to.equal(10);
    expect(r.checkpoint).to.match(/000010/);
    const done = await resume(out);
    expect(done).to.include({ status: 'done', iterations: 40 });
    const whole = await train({ ...small, iterations: 40, fuse: 10, out: join(tmp, 'c-whole') });
    expect(done.metrics).to.deep.equal(whole.metrics);
  });

  (haveFashionMnist ? it : it.skip)('an image run with a weight average, adaptive augmentation and LeCam: resumed equals uninterrupted; the export holds the average', async () => {
    const images: Settings = { data: 'fashion-mnist', dataSize: 256, width: 8, latent: 16, batch: 16, nCritic: 1, loss: 'hinge', ema: 0.9, augment: ['color', 'translation', 'cutout'], augmentP: 'auto', lecam: 0.3, iterations: 20, fuse: 5, checkpointEvery: 10, sampleEvery: 100 };
    const stop = new AbortController();
    const out = join(tmp, 'quality');
    const r = await train({ ...images, out }, { signal: stop.signal, onIteration: (e) => e.iteration === 10 && stop.abort() });
    expect(r.status).to.equal('interrupted');
    expect(r.iterations).to.equal(10);
    await resume(out);
    await train({ ...images, out: join(tmp, 'quality-whole') });
    const [resumed, whole] = [await exportRun(out), await exportRun(join(tmp, 'quality-whole'))];
    const bytes = (e: { files: string[] }, name: string) => readFileSync(e.files.find((f) => f.endsWith(name))!);
    expect(Buffer.compare(bytes(resumed, 'generator.onnx'), bytes(whole, 'generator.onnx')), 'the averaged generator, resumed vs whole').to.equal(0);
    const tensors = JSON.parse(bytes(resumed, 'weights.safetensors').subarray(8, 8 + Number(bytes(resumed, 'weights.safetensors').readBigUInt64LE(0))).toString());
    expect(Object.keys(tensors).filter((k) => k.endsWith('.ema')).length, 'the average by parameter name').to.be.greaterThan(4);
    expect(tensors).to.include.keys('augment.p', 'lecam.real', 'lecam.fake');
    const raw = await exportRun(out, { ema: false, out: join(tmp, 'quality-raw') });
    expect(Buffer.compare(bytes(raw, 'generator.onnx'), bytes(resumed, 'generator.onnx')), 'ema: false exports the trained weights').to.not.equal(0);
    const g = await loadGenerator(out);
    const xs = await g.generate(new Float32Array(2 * g.latent).fill(0.3));
    expect(xs.length).to.equal(2 * 28 * 28);
    await g.release();
  });

  it('exportRun and loadGenerator sample the run; the browser entry opens the same bytes on WASM', async () => {
    const out = join(tmp, 'a');
    const e = await exportRun(out);
    expect(e.files.map((f) => f.split('/').pop())).to.include('generator.onnx');
    const g = await loadGenerator(out);
    expect([g.latent, ...g.shape]).to.deep.equal([16, 2]);
    const z = new Float32Array(4 * g.latent).fill(0.5);
    const xs = await g.generate(z);
    expect(xs.length).to.equal(8);
    const w = await loadInBrowser(new Uint8Array(readFileSync(join(out, 'export', 'generator.onnx'))));
    const ys = await w.generate(z);
    for (let i = 0; i < 8; i++) expect(ys[i]).to.be.closeTo(xs[i], 1e-5);
    await Promise.all([g.release(), w.release()]);
    await rejects(loadGenerator(join(tmp, 'nothing')), /^Error: loadGenerator: no generator at .*nothing \(a generator\.onnx, an export folder, or a run directory/);
    await rejects(g.generate(new Float32Array(3)), /z holds 3 values, not a multiple of the latent size 16/);
  });

  it('settings are the CLI\'s: runDirectory, errors naming the key, evaluate refusing a 2-D run', async () => {
    expect(runDirectory({ data: 'grid25', loss: 'hinge', seed: 3 })).to.match(/runs\/grid25-hinge-s3$/);
    await rejects(train({ ...small, nCritc: 2 } as never), /train settings: 'nCritc': .*did you mean 'nCritic'/i);
    await rejects(evaluate(join(tmp, 'a'), { classifier: packageFile('package.json') }), /trained on 'ring8', not images/);
    expect(existsSync(join(packageRoot(), 'bin', 'onnx-gan.js'))).to.equal(true);
  });
});
