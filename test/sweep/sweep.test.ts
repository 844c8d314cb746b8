// `onnx-gan sweep`: runs in parallel child processes; one that fails is reported and the others go on.
import { expect } from 'chai';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { specRecord, sweep } from '../../sweep/local.ts';
import { markdownTable, summarize } from '../../sweep/report.ts';
import { type RunResult, expandLosses } from '../../sweep/runs.ts';
import { convClassifier } from '../../models/classifier.ts';
import { classifierOnnx } from '../../export/model.ts';
import { initParams, layoutOf } from '../../models/model.ts';
import { Rng } from '../../data/random.ts';
import { pngGrid } from '../../data/image-files.ts';
import { cli, haveFashionMnist } from '../helpers.ts';
import { queueSweep } from '../../sweep/queue-client.ts';
import { rejects } from 'node:assert/strict';

describe('sweep', function () {
  this.timeout(180000);

  it("expands 'all' to every loss, f-GAN once per divergence, and refuses unknown names", () => {
    const all = expandLosses('all');
    expect(all).to.include.members(['ns', 'wgan-gp', 'sngan', 'fisher', 'fgan-kl', 'fgan-js', 'rahinge']);
    expect(all).to.not.include('fgan');
    expect(expandLosses('ns,fgan-rkl')).to.deep.equal(['ns', 'fgan-rkl']);
    expect(() => expandLosses('ns,bogus')).to.throw(/unknown loss 'bogus'; valid losses: all, ns/);
  });

  it('summarizes seeds as mean and spread, counting failed runs apart', () => {
    const base = { data: "ring8", loss: "ns", pack: 1, seconds: 2, dir: "", modes: 8 };
    const rs: RunResult[] = [
      { ...base, seed: 0, status: 'ok', modesCaptured: 8, highQualityPct: 90, reverseKL: 0.1 },
      { ...base, seed: 1, status: 'ok', modesCaptured: 6, highQualityPct: 70, reverseKL: 0.3 },
      { ...base, seed: 2, status: 'diverged', error: 'training diverged at iteration 5' },
    ];
    const [row] = summarize(rs);
    expect(row).to.include({ ok: 2, diverged: 1, crashed: 0, modesMean: 7, modesStd: 1, hqMean: 80, hqStd: 10 });
    expect(row.rklMean).to.be.closeTo(0.2, 1e-12);
    expect(markdownTable([row])).to.match(/\| ring8 \| ns \| 7\.0 ± 1\.0 \/ 8 \| 80\.0 ± 10\.0 \| 0\.20 ± 0\.10 \| 2 \| 1 diverged of 3 \|/);
  });

  it('runs in parallel workers; a failing run is recorded and does not stop the others; writes the reports', async () => {
    const out = mkdtempSync(join(tmpdir(), 'onnx-gan-sweep-'));
    try {
      const rs = await sweep({ data: ['ring8'], losses: ['ns', 'no-such-loss', 'hinge'], seeds: 1, iterations: 20, workers: 2, out });
      expect(rs.map((r) => r.status)).to.deep.equal(['ok', 'crashed', 'ok']);
      expect(rs[1].error).to.match(/no-such-loss/);
      for (const f of ['runs.csv', 'summary.csv', 'summary.md', 'report.html']) expect(existsSync(join(out, f)), f).to.equal(true);
      const html = readFileSync(join(out, 'report.html'), 'utf8');
      expect(html).to.match(/<table>/).and.to.match(/const RUNS = \[/);
      expect(html).to.not.match(/<script src=/); // self-contained: opens from disk
      expect(readFileSync(join(out, 'runs.csv'), 'utf8').trim().split('\n')).to.have.length(4);
      // sweep.json keeps the settings: --resume with others is refused, naming both, before anything runs.
      let refused = '';
      await sweep({ data: ['ring8'], losses: ['ns'], seeds: 1, iterations: 30, out, resume: true }).catch((e: Error) => (refused = e.message));
      // A local sweep finished on a queue: the resumed record gains the queue's id, its spec unchanged.
      const spec = { data: ['ring8'], losses: ['ns', 'no-such-loss', 'hinge'], seeds: 1, iterations: 20 };
      const before = JSON.parse(readFileSync(join(out, 'sweep.json'), 'utf8'));
      expect(before).to.not.have.property('id');
      expect(specRecord(out, spec, true, { id: 'abcdef01', queue: 'redis://x' })).to.deep.equal({ id: 'abcdef01', queue: 'redis://x', ...before });
      expect(JSON.parse(readFileSync(join(out, 'sweep.json'), 'utf8'))).to.include({ id: 'abcdef01' });
      expect(refused).to.match(/^--resume: .*sweep\.json was made with other settings \(\{"data":\["ring8"\],"losses":\["ns","no-such-loss","hinge"\],"seeds":1,"iterations":20,.*now .*"iterations":30/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

describe('sweep over images', function () {
  this.timeout(300000);
  let tmp: string;
  before(() => (tmp = mkdtempSync(join(tmpdir(), 'onnx-gan-sweep-img-'))));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  (haveFashionMnist ? it : it.skip)('fashion-mnist runs are scored by eval with the classifier: FID / KID in the tables, grids in the report; --resume keeps them', async () => {
    const m = convClassifier({ stages: [[4], [8]], features: 16 });
    const clf = join(tmp, 'clf.onnx');
    writeFileSync(clf, classifierOnnx(m, layoutOf(m), initParams(m, Rng.stream(0, 'c')), { metadata: { test_accuracy: '0.5' }, producerVersion: 'test' }));
    const out = join(tmp, 'fm');
    const spec = { data: ['fashion-mnist'], losses: ['hinge', 'wgan-gp'], seeds: 1, iterations: 2, classifier: clf, evalSamples: 200, workers: 2, out };
    const rs = await sweep(spec);
    expect(rs.map((r) => r.status), JSON.stringify(rs)).to.deep.equal(['ok', 'ok']);
    for (const r of rs) expect(r.fid).to.be.greaterThan(0);
    const md = readFileSync(join(out, 'summary.md'), 'utf8');
    expect(md).to.match(/images scored by classifier-feature FID \/ KID on 200 samples against Fashion-MNIST's test split/);
    expect(md).to.match(/\| data \| loss \| classifier-FID \| KID x 1000 \| precision \/ recall \| density \/ coverage \| scored \|/);
    expect(md).to.match(/\| fashion-mnist \| hinge \| \d+\.\d\d ± 0\.00 \| -?\d+\.\d\d ± 0\.00 \| [01]\.\d{3} \/ [01]\.\d{3} \| \d\.\d{3} \/ [01]\.\d{3} \| 1 \|/);
    expect(readFileSync(join(out, 'runs.csv'), 'utf8').split('\n')[0]).to.match(/,fid,kid,kidStd,precision,recall,density,coverage,/);
    for (const r of rs) expect(r.precision).to.be.within(0, 1);
    expect(readFileSync(join(out, 'report.html'), 'utf8')).to.include('"grid":"runs/fashion-mnist-hinge-s0/samples.png"');
    const again = await sweep({ ...spec, resume: true });
    expect(again.map((r) => r.fid)).to.deep.equal(rs.map((r) => r.fid));
  });

  it('an image folder by path: runs keyed by its name, trained at --image-size, unscored without a classifier', async () => {
    const dir = join(tmp, 'my photos');
    mkdirSync(dir);
    for (let i = 0; i < 64; i++) writeFileSync(join(dir, `${i}.png`), pngGrid(Float32Array.from({ length: 36 }, (_, j) => ((i * 7 + j) % 9) / 4 - 1), [1, 6, 6], 1));
    const out = join(tmp, 'folder');
    const rs = await sweep({ data: [dir], losses: ['hinge'], seeds: 1, iterations: 2, imageSize: 16, workers: 1, out });
    expect(rs[0].status, rs[0].error).to.equal('ok');
    expect(rs[0].dir).to.match(/runs\/my_photos-hinge-s0$/);
    expect(JSON.parse(readFileSync(join(rs[0].dir, 'config.json'), 'utf8'))).to.include({ imageSize: 16, sampleEvery: 2 });
    expect(readFileSync(join(out, 'summary.md'), 'utf8')).to.match(/images not scored \(no --classifier\)[\s\S]*\| .*my photos \| hinge \| n\/a \| n\/a \| n\/a \| n\/a \| no \(give --classifier\) \|/);
  });

  it('refuses image data on a queue, an unknown data set, and a classifier for data it cannot score, each in one line', async () => {
    await rejects(queueSweep({ data: ['ring8', 'fashion-mnist'], losses: ['ns'], seeds: 1, iterations: 2, out: join(tmp, 'q'), queue: 'redis://127.0.0.1:1' }), /^Error: --queue: 'fashion-mnist' is image data; queued sweeps take the 2-D mixtures/);
    const unknown = cli(['sweep', '--data', 'ring8,nowhere', '--out', join(tmp, 'never')]);
    expect(unknown.err.trim()).to.equal("onnx-gan: --data: unknown data set 'nowhere' (not ring8, grid25 or fashion-mnist, and no such path)");
    const clf = join(tmp, 'clf.onnx');
    writeFileSync(clf, 'x');
    const folder = cli(['sweep', '--data', tmp, '--classifier', clf, '--out', join(tmp, 'never')]);
    expect(folder.err.trim()).to.equal("onnx-gan: --classifier: the scores compare against Fashion-MNIST's test split, so they apply to --data fashion-mnist only");
  });
});
