// One lineage per run, as a user meets it: train, export, continue, export again; a checkpoint file from
// anywhere exports; nothing is replaced by an older iteration; Ctrl-C saves and resumes bit for bit.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../../data/random.ts';
import { fromBytes } from '../../graph/serialize.ts';
import { decodeSafetensors } from '../../training/checkpoint.ts';
import { LOCK_FILE } from '../../run/lock.ts';
import { cli, BIN, until } from '../helpers.ts';

const SMALL = ['--hidden', '32,32', '--batch', '64', '--eval-samples', '200', '--log-every', '10'];

const step = (onnx: string) => fromBytes(readFileSync(onnx)).metadata.step;
const ckptIteration = (file: string) => decodeSafetensors(readFileSync(file)).metadata.iteration;
const sameTensors = (a: string, b: string) => {
  const [x, y] = [decodeSafetensors(readFileSync(a)), decodeSafetensors(readFileSync(b))];
  const keys = Object.keys(x.tensors);
  expect(Object.keys(y.tensors).sort()).to.deep.equal(keys.slice().sort());
  return keys.filter((k) => !Buffer.from(x.tensors[k].data.buffer).equals(Buffer.from(y.tensors[k].data.buffer)));
};

/**
 * Start a command, wait until it is `ready` (training: it listens for signals by then), send SIGINT `ms`
 * later, and return its exit code and stderr. Timed from readiness, not from the start, so a slow start on
 * a busy machine does not move the signal into start-up.
 */
async function interrupted(args: string[], ready: () => boolean, ms: number): Promise<{ code: number | null; err: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (b) => (err += b));
  const exited = new Promise<number | null>((done) => child.on('exit', done));
  await until('the command to be ready', () => ready() || child.exitCode !== null);
  const timer = setTimeout(() => child.kill('SIGINT'), ms);
  const code = await exited;
  clearTimeout(timer);
  return { code, err };
}

describe('lineage: export, continue, checkpoint files, interrupts', function () {
  this.timeout(300000);
  let tmp: string;
  before(() => (tmp = mkdtempSync(join(tmpdir(), 'onnx-gan-lineage-'))));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('train 200 -> export -> continue 100 -> export: the export is at 300; exporting again changes nothing', () => {
    const run = join(tmp, 'run');
    expect(cli(['train', ...SMALL, '--iterations', '200', '--checkpoint-every', '100', '--out', run]).code).to.equal(0);
    expect(cli(['export', run]).code).to.equal(0);
    const exp = join(run, 'export');
    expect(step(join(exp, 'generator.onnx'))).to.equal('200');
    const c = cli(['continue', join(exp, 'training'), '--iterations', '100', '--json']);
    expect(c.code, c.err).to.equal(0);
    expect(JSON.parse(c.out)).to.include({ iteration: 300, history: join(run, 'checkpoints') });
    // continue appended to the run's history; the older checkpoints are still there.
    expect(readdirSync(join(run, 'checkpoints'))).to.include.members(['ckpt-000000200.safetensors', 'ckpt-000000300.safetensors']);
    const e = cli(['export', run]);
    expect(e.code, e.err).to.equal(0);
    for (const f of ['generator.onnx', 'critic.onnx']) expect(step(join(exp, f)), f).to.equal('300');
    expect(ckptIteration(join(exp, 'training', 'checkpoint.safetensors'))).to.equal('300');
    const before = Object.fromEntries(['generator.onnx', 'weights.safetensors', 'training/checkpoint.safetensors'].map((f) => [f, statSync(join(exp, f)).mtimeMs]));
    const again = cli(['export', run]);
    expect(again.code, again.err).to.equal(0);
    expect(again.out).to.match(/already holds iteration 300; nothing changed/);
    for (const [f, t] of Object.entries(before)) expect(statSync(join(exp, f)).mtimeMs, f).to.equal(t);
    // A second continue starts from the newest checkpoint of the lineage.
    const c2 = cli(['continue', join(exp, 'training'), '--iterations', '10', '--json']);
    expect(JSON.parse(c2.out).iteration).to.equal(310);
  });

  it('a checkpoint file exports on its own (as a page download does), and an export never goes back', () => {
    const run = join(tmp, 'run');
    const downloads = join(tmp, 'downloads');
    mkdirSync(downloads);
    // The page downloads the artifacts' checkpoint format under the run's own file name.
    cpSync(join(run, 'export', 'training', 'checkpoint.safetensors'), join(downloads, 'ckpt-000000310.safetensors'));
    const e = cli(['export', join(downloads, 'ckpt-000000310.safetensors')]);
    expect(e.code, e.err).to.equal(0);
    expect(step(join(downloads, 'export', 'generator.onnx'))).to.equal('310');
    expect(existsSync(join(downloads, 'export', 'training', 'artifacts.json'))).to.equal(true);
    // An older checkpoint into an export holding a newer one: refused, naming both.
    const old = cli(['export', join(run, 'checkpoints', 'ckpt-000000200.safetensors')]);
    expect(old.code).to.equal(1);
    expect(old.err.trim().split('\n')).to.have.length(1);
    expect(old.err).to.match(/holds iteration 310, newer than iteration 200 of .*ckpt-000000200/);
    expect(step(join(run, 'export', 'generator.onnx'))).to.equal('300');
    // ... and written beside it with --out.
    expect(cli(['export', join(run, 'checkpoints', 'ckpt-000000200.safetensors'), '--out', join(tmp, 'at200')]).code).to.equal(0);
    expect(step(join(tmp, 'at200', 'generator.onnx'))).to.equal('200');
  });

  it('--force replaces the whole run, export included; a sweep refuses an existing --out', () => {
    const run = join(tmp, 'forced');
    expect(cli(['train', ...SMALL, '--iterations', '20', '--checkpoint-every', '10', '--out', run]).code).to.equal(0);
    expect(cli(['export', run]).code).to.equal(0);
    expect(cli(['train', ...SMALL, '--iterations', '10', '--out', run]).code).to.equal(1);
    expect(cli(['train', ...SMALL, '--iterations', '10', '--out', run, '--force']).code).to.equal(0);
    expect(existsSync(join(run, 'export'))).to.equal(false);
    expect(readdirSync(join(run, 'checkpoints'))).to.deep.equal(['ckpt-000000010.safetensors']);
    const sw = join(tmp, 'sweep');
    expect(cli(['sweep', '--data', 'ring8', '--loss', 'ns', '--seeds', '1', '--iterations', '5', '--out', sw]).code).to.equal(0);
    const again = cli(['sweep', '--data', 'ring8', '--loss', 'ns', '--seeds', '1', '--iterations', '5', '--out', sw]);
    expect(again.code).to.equal(1);
    expect(again.err).to.match(/sweep directory .* already exists; pass --resume .* or --force/);
    const resumed = cli(['sweep', '--data', 'ring8', '--loss', 'ns', '--seeds', '1', '--iterations', '5', '--out', sw, '--resume', '--json']);
    expect(resumed.code, resumed.err).to.equal(0);
    expect(JSON.parse(resumed.out)[0]).to.include({ ok: 1, runs: 1 });
  });

  it('--resume names the setting that differs and both values', () => {
    const run = join(tmp, 'forced');
    const r = cli(['train', ...SMALL, '--iterations', '20', '--lr', '0.001', '--out', run, '--resume']);
    expect(r.code).to.equal(1);
    expect(r.err).to.match(/--resume: --lr is 0\.001, the run's .*config\.json has unset/);
    // The run's own settings are the base: `--resume --out DIR` alone goes on.
    const ok = cli(['train', '--iterations', '20', '--out', run, '--resume']);
    expect(ok.code, ok.err).to.equal(0);
  });

  const rng = Rng.stream(3, 'interrupt-moments');
  it('SIGINT during train: finishes the step, saves, says how to resume; the resumed run is bit-identical', async () => {
    // ~1,000-2,000 iterations per second on 2 cores: the signal lands mid-run.
    const args = ['train', ...SMALL, '--iterations', '8000', '--checkpoint-every', '4000', '--seed', '4'];
    const ref = join(tmp, 'ref');
    expect(cli([...args, '--out', ref]).code).to.equal(0);
    const run = join(tmp, 'int');
    const r = await interrupted([...args, '--out', run], () => existsSync(join(run, 'metrics.jsonl')), 200 + rng.uniform() * 1500);
    expect(r.code, r.err).to.equal(130);
    const m = /interrupted at iteration (\d+); saved (\S+); resume with onnx-gan (train --resume --out \S+)\n$/.exec(r.err);
    expect(m, r.err).to.not.equal(null);
    const [, it, file, resume] = m!;
    expect(Number(it)).to.be.greaterThan(0).and.lessThan(8000);
    expect(file).to.equal(join(run, 'checkpoints', `ckpt-${it.padStart(9, '0')}.safetensors`));
    expect(ckptIteration(file)).to.equal(it);
    const res = cli(resume.split(' '));
    expect(res.code, res.err).to.equal(0);
    expect(sameTensors(join(ref, 'checkpoints', 'ckpt-000008000.safetensors'), join(run, 'checkpoints', 'ckpt-000008000.safetensors'))).to.deep.equal([]);
    const its = readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).iteration);
    expect(its).to.deep.equal(Array.from({ length: 800 }, (_, i) => 10 * (i + 1)));
  });

  it('SIGINT during continue: saves into the run history; continuing the rest is bit-identical to one continue', async () => {
    const run = join(tmp, 'ref');
    expect(cli(['export', run]).code).to.equal(0);
    const [a, b] = [join(tmp, 'cont-a'), join(tmp, 'cont-b')];
    cpSync(join(run, 'export', 'training'), a, { recursive: true });
    cpSync(join(run, 'export', 'training'), b, { recursive: true });
    expect(cli(['continue', a, '--iterations', '4000']).code).to.equal(0);
    // Ready once it holds the lock of the artifacts' folder: it has loaded them and listens for signals.
    const r = await interrupted(['continue', b, '--iterations', '4000', '--checkpoint-every', '100000'], () => existsSync(join(b, LOCK_FILE)), 300 + rng.uniform() * 1000);
    expect(r.code, r.err).to.equal(130);
    const m = /interrupted at iteration (\d+); saved (\S+); resume with onnx-gan (continue \S+ --iterations \d+)\n$/.exec(r.err);
    expect(m, r.err).to.not.equal(null);
    expect(Number(m![1])).to.be.at.least(8000).and.lessThan(12000);
    expect(m![2]).to.equal(join(b, 'checkpoints', `ckpt-${m![1].padStart(9, '0')}.safetensors`));
    const rest = cli(m![3].split(' '));
    expect(rest.code, rest.err).to.equal(0);
    expect(sameTensors(join(a, 'checkpoint.safetensors'), join(b, 'checkpoint.safetensors'))).to.deep.equal([]);
    expect(ckptIteration(join(b, 'checkpoint.safetensors'))).to.equal('12000');
  });

  it('SIGINT during a sweep: each run in flight checkpoints; --resume finishes them bit-identically to plain runs', async () => {
    const sw = join(tmp, 'sweep-int');
    const args = ['sweep', '--data', 'ring8', '--loss', 'ns,lsgan', '--seeds', '1', '--iterations', '3000', '--workers', '2', '--out', sw];
    const r = await interrupted(args, () => ['ring8-ns-s0', 'ring8-lsgan-s0'].every((run) => existsSync(join(sw, 'runs', run, 'metrics.jsonl'))), 200 + rng.uniform() * 800);
    expect(r.code, r.err).to.equal(130);
    expect(r.err).to.match(/interrupted with 2 of 2 runs unfinished; their checkpoints are saved; resume with onnx-gan sweep .* --resume\n$/);
    for (const run of ['ring8-ns-s0', 'ring8-lsgan-s0']) expect(readdirSync(join(sw, 'runs', run, 'checkpoints')), run).to.have.length(1);
    const done = cli([...args, '--resume', '--json']);
    expect(done.code, done.err).to.equal(0);
    expect(JSON.parse(done.out).map((x: { ok: number }) => x.ok)).to.deep.equal([1, 1]);
    // The same run, never interrupted, as the sweep runs it.
    const ref = join(tmp, 'sweep-ref');
    expect(cli(['train', '--data', 'ring8', '--loss', 'ns', '--seed', '0', '--iterations', '3000', '--log-every', '25', '--checkpoint-every', '3000', '--keep-checkpoints', '1', '--threads', '1', '--out', ref]).code).to.equal(0);
    const name = 'ckpt-000003000.safetensors';
    expect(sameTensors(join(ref, 'checkpoints', name), join(sw, 'runs', 'ring8-ns-s0', 'checkpoints', name))).to.deep.equal([]);
  });
});
