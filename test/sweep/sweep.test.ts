// `onnx-gan sweep`: runs in parallel child processes; one that fails is reported and the others go on.
import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { specRecord, sweep } from '../../sweep/local.ts';
import { markdownTable, summarize } from '../../sweep/report.ts';
import { type RunResult, expandLosses } from '../../sweep/runs.ts';

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
