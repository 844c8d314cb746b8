// run/open.ts and run/run-dir.ts: the one way to open a run directory (its config, identity, checkpoint
// history and lock), and what it says about a directory that is not a run.
import { expect } from 'chai';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../run/config.ts';
import { LOCK_FILE } from '../../run/lock.ts';
import { isRun, openRun } from '../../run/open.ts';
import { folderStore, listCheckpoints, runOf } from '../../run/run-dir.ts';

describe('run/open: openRun', () => {
  let tmp: string;
  beforeEach(() => (tmp = mkdtempSync(join(tmpdir(), 'onnx-gan-open-'))));
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  it('names what is wrong with a directory that is not a run', () => {
    expect(() => openRun(join(tmp, 'nope'), 'eval')).to.throw(`eval: ${join(tmp, 'nope')} does not exist`);
    writeFileSync(join(tmp, 'file'), 'x');
    expect(() => openRun(join(tmp, 'file'), 'export')).to.throw('is a file, not a run directory');
    expect(() => openRun(tmp, 'web')).to.throw(`web: ${tmp} is not a run directory (no config.json)`);
    writeFileSync(join(tmp, 'config.json'), '{"loss": "ns", "nCritc": 2}');
    expect(() => openRun(tmp, 'eval')).to.throw(`${join(tmp, 'config.json')}: 'nCritc': Unrecognized key: "nCritc" (did you mean 'nCritic'?)`);
    writeFileSync(join(tmp, 'config.json'), '[1, 2]');
    expect(() => openRun(tmp, 'eval')).to.throw(`${join(tmp, 'config.json')} is not a JSON object`);
  });

  it("checks identity: a run's model settings may not change, its budget may", () => {
    writeFileSync(join(tmp, 'config.json'), JSON.stringify({ loss: 'ns', seed: 2, iterations: 100 }));
    const run = openRun(tmp, 'continue');
    expect(isRun(tmp)).to.equal(true);
    expect(run.config).to.include({ loss: 'ns', seed: 2, iterations: 100, data: 'ring8' });
    expect(() => run.checkIdentity(parseConfig({ loss: 'ns', seed: 2, iterations: 5000 }), '--resume')).to.not.throw();
    expect(() => run.checkIdentity(parseConfig({ loss: 'ns', seed: 3 }), '--resume')).to.throw(/^--resume: --seed is 3, the run's .*config\.json has 2 \(only iterations/);
  });

  it('reads its lineage: the newest checkpoint that loads, a damaged newer one reported and skipped', async () => {
    writeFileSync(join(tmp, 'config.json'), JSON.stringify({ loss: 'ns' }));
    const run = openRun(tmp, 'export');
    mkdirSync(run.checkpoints);
    const info = { config: '{"loss":"ns"}', slots: { G: [], D: [] }, states: [] };
    const net = () => ({ params: Float32Array.from([1, 2]), slots: [], step: 1, lr: 0.1 });
    const store = folderStore(run.checkpoints, info, 2);
    for (const it of [10, 20, 30]) store.save({ iteration: it, G: net(), D: net(), states: {} });
    expect(listCheckpoints(run.checkpoints)).to.deep.equal(['ckpt-000000030.safetensors', 'ckpt-000000020.safetensors']);
    expect(runOf(join(run.checkpoints, 'ckpt-000000030.safetensors'))).to.equal(tmp);
    writeFileSync(join(run.checkpoints, 'ckpt-000000040.safetensors'), 'not a checkpoint');
    const said: string[] = [];
    const latest = run.latest(info, (m) => void said.push(m), 'export');
    expect(latest?.state.iteration).to.equal(30);
    expect(said[0]).to.match(/^export: using .*ckpt-000000030\.safetensors at iteration 30 \(newer checkpoints unusable: /);
  });

  it('locks: another command on the same run is refused while it works, and the lock goes with it', async () => {
    writeFileSync(join(tmp, 'config.json'), JSON.stringify({ loss: 'ns' }));
    const run = openRun(tmp, 'eval');
    const inner = await run.locked('onnx-gan eval', undefined, async () => {
      expect(existsSync(join(tmp, LOCK_FILE))).to.equal(true);
      return openRun(tmp, 'export').locked('onnx-gan export', undefined, () => 'ran').catch((e: Error) => e.message);
    });
    expect(inner).to.match(/^run directory .* is already in use by this process$/);
    expect(existsSync(join(tmp, LOCK_FILE))).to.equal(false);
  });
});
