// run/evaluate.ts: `eval` opens the run through openRun and refuses what it cannot score before loading
// anything heavy, each with one line naming the run or the file. (Scores on Fashion-MNIST runs:
// test/data/image-files.test.ts and test/models/conditioning.test.ts, through the CLI.)
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evalRun } from '../../run/evaluate.ts';
import { parseConfig } from '../../run/config.ts';
import { train } from '../../run/train.ts';
import { convClassifier } from '../../models/classifier.ts';
import { initParams, layoutOf } from '../../models/model.ts';
import { classifierOnnx } from '../../export/model.ts';
import { Rng } from '../../data/random.ts';
import { fixture, haveFashionMnist } from '../helpers.ts';

describe('run/evaluate', () => {
  let tmp: string;
  before(() => (tmp = mkdtempSync(join(tmpdir(), 'onnx-gan-eval-'))));
  after(() => rmSync(tmp, { recursive: true, force: true }));
  const opts = (classifier: string) => ({ classifier, samples: 10, seed: 0 });
  const refusal = (p: Promise<unknown>) => p.then(() => 'scored', (e: Error) => e.message);

  it('refuses a directory that is not a run, a missing classifier, and a run on 2-D points', async () => {
    expect(await refusal(evalRun(tmp, opts('c.onnx')))).to.equal(`eval: ${tmp} is not a run directory (no config.json)`);
    writeFileSync(join(tmp, 'config.json'), JSON.stringify({ data: 'ring8', loss: 'ns' }));
    expect(await refusal(evalRun(tmp, opts(join(tmp, 'missing.onnx'))))).to.match(/^eval: classifier .*missing\.onnx not found; make it with onnx-gan train-classifier --out /);
    writeFileSync(join(tmp, 'c.onnx'), 'bytes');
    expect(await refusal(evalRun(tmp, opts(join(tmp, 'c.onnx'))))).to.equal(`eval: run ${tmp} trained on 'ring8', not images; its metrics.json already has the 2-D scores`);
  });

  (haveFashionMnist ? it : it.skip)("--truncation-at: an imported generator's mapping output pulled toward its mean changes the scores, psi 1 leaves them; what it cannot do is refused in one line", async function () {
    this.timeout(120_000);
    const { tensor } = fixture<{ tensor: string }>('import/mapping_truncation.json');
    const run = join(tmp, 'mapped');
    const generator = new URL('../fixtures/import/mapping_g.onnx', import.meta.url).pathname;
    await train(parseConfig({ data: 'fashion-mnist', dataSize: 200, generator, loss: 'hinge', nCritic: 1, width: 8, batch: 16, iterations: 2, out: run }));
    const m = convClassifier({ stages: [[4], [8]], features: 16 });
    const clf = join(tmp, 'clf.onnx');
    writeFileSync(clf, classifierOnnx(m, layoutOf(m), initParams(m, Rng.stream(0, 'c')), { metadata: {}, producerVersion: 'test' }));
    const o = { classifier: clf, samples: 300, seed: 0, threads: 1 };
    const plain = await evalRun(run, o);
    const pulled = await evalRun(run, { ...o, truncation: 0.5, truncationAt: tensor });
    const one = await evalRun(run, { ...o, truncation: 1, truncationAt: tensor });
    expect([plain.truncationAt, pulled.truncationAt, pulled.truncation]).to.deep.equal([null, tensor, 0.5]);
    expect(pulled.fid).to.not.be.closeTo(plain.fid, 1e-3 * plain.fid);
    expect(one.fid).to.be.closeTo(plain.fid, 1e-6 * plain.fid);
    expect(await refusal(evalRun(run, { ...o, truncationAt: tensor }))).to.equal(`--truncation-at ${tensor}: pulls that tensor toward its mean by --truncation psi, which is not given`);
    expect(await refusal(evalRun(run, { ...o, truncation: 0.5, truncationAt: 'w' }))).to.equal("--truncation-at: truncation at 'w': the generator has no such tensor (mean-latent truncation rewrites a tensor of an imported generator, named as in its ONNX graph)");
  });
});
