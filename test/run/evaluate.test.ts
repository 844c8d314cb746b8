// run/evaluate.ts: `eval` opens the run through openRun and refuses what it cannot score before loading
// anything heavy, each with one line naming the run or the file. (Scores on Fashion-MNIST runs:
// test/data/image-files.test.ts and test/models/conditioning.test.ts, through the CLI.)
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evalRun } from '../../run/evaluate.ts';

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
});
