// Reliability, as CI can afford it: kills and resumes, fuzzing, divergence rollback, a full disk.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeSafetensors } from '../../training/checkpoint.ts';
import type { FormatReport } from './fuzz.ts';
import { killTest } from './kill.ts';
import { BIN } from '../helpers.ts';

const SMALL = ['train', '--hidden', '32,32', '--batch', '64', '--eval-samples', '200'];

describe('reliability', function () {
  this.timeout(300000);
  let tmp: string;
  before(() => (tmp = mkdtempSync(join(tmpdir(), 'onnx-gan-rel-'))));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('SIGKILL at 5 random moments, resumed each time: final parameters bit-identical to an uninterrupted run', async () => {
    const rep = await killTest(5, 7);
    expect(rep.kills).to.equal(5);
    expect(rep.mismatched).to.deep.equal([]);
    expect(rep.identical).to.equal(true);
  });

  it('fuzzing 1,000 mutated files per format: no crash, no hang, every refusal a clear error', () => {
    const script = new URL('./fuzz.ts', import.meta.url).pathname;
    const r = spawnSync(process.execPath, ['--import', 'tsx', script, '--cases', '1000', '--seed', '11', '--json'], { encoding: 'utf8', timeout: 240000 });
    expect(r.signal, 'the fuzzing process was killed or crashed').to.equal(null);
    const reps = JSON.parse(r.stdout.trim().split('\n').pop()!) as FormatReport[];
    expect(reps.map((x) => x.format)).to.deep.equal(['onnx', 'checkpoint', 'safetensors', 'config', 'idx', 'png']);
    for (const x of reps) {
      expect(x.cases).to.equal(1000);
      expect(x.bugs, x.format).to.deep.equal([]);
      expect(x.rejected, `${x.format}: the mutations reach the error paths`).to.be.greaterThan(500);
    }
    expect(r.status).to.equal(0);
  });

  it('with --on-divergence rollback a run that diverges rolls back, lowers the learning rate and completes', () => {
    const d = join(tmp, 'rb');
    const r = spawnSync(process.execPath, [BIN, ...SMALL, '--optimizer', 'sgd', '--lr', '1', '--iterations', '60', '--checkpoint-every', '10', '--out', d, '--on-divergence', 'rollback', '--max-rollbacks', '5', '--rollback-lr-scale', '0.1', '--json'], { encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.match(/training diverged at iteration \d+: .*NaN.*rolled back to iteration \d+, learning rates now G 1\.00e-1/);
    expect(JSON.parse(r.stdout).iterations).to.equal(60);
    const last = decodeSafetensors(readFileSync(join(d, 'checkpoints', readdirSync(join(d, 'checkpoints')).sort().at(-1)!)));
    for (const t of Object.values(last.tensors)) expect(t.data.every(Number.isFinite)).to.equal(true);
  });

  it('a full disk during a checkpoint write leaves the previous checkpoint intact (file size limit, EFBIG)', function () {
    if (spawnSync('prlimit', ['--version']).status !== 0) this.skip();
    const d = join(tmp, 'full');
    expect(spawnSync(process.execPath, [BIN, ...SMALL, '--iterations', '20', '--checkpoint-every', '10', '--out', d]).status).to.equal(0);
    const before = readdirSync(join(d, 'checkpoints')).sort();
    const bytes = Object.fromEntries(before.map((f) => [f, readFileSync(join(d, 'checkpoints', f))]));
    // Checkpoints of this model are ~34 kB: a 20 kB file size limit makes the next one fail mid-write.
    const r = spawnSync('prlimit', ['--fsize=20000', process.execPath, BIN, ...SMALL, '--iterations', '40', '--checkpoint-every', '10', '--out', d, '--resume'], { encoding: 'utf8' });
    expect(r.status).to.not.equal(0);
    expect(r.stderr.trim().split('\n').pop()).to.match(/^onnx-gan: could not write .*ckpt-000000030\.safetensors \(EFBIG\); the previous version, if any, is unchanged; the last checkpoint is .*ckpt-000000020\.safetensors: resume with onnx-gan train --resume --out .*full$/);
    const after = readdirSync(join(d, 'checkpoints')).sort();
    expect(after).to.deep.equal(before); // nothing half-written, no temp file left
    for (const f of before) expect(readFileSync(join(d, 'checkpoints', f)).equals(bytes[f]), f).to.equal(true);
    expect(existsSync(join(d, 'config.json'))).to.equal(true);
  });
});
