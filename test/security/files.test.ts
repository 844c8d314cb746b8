// Run directories on a shared machine: one writer per directory, no write through a planted link, and no
// value read back from disk (a config, a checkpoint's metadata) used before the command line's checks.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../../run/files.ts';
import { LOCK_FILE, lockDir } from '../../run/lock.ts';
import { decodeSafetensors, encodeSafetensors } from '../../training/checkpoint.ts';
import { cli, startCli, until } from '../helpers.ts';

const SMALL = ['--hidden', '32,32', '--batch', '64', '--eval-samples', '200', '--log-every', '10'];

/** A pid that is certainly not running: a process that has exited. */
const deadPid = () => spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout.trim();

/** Rewrite a checkpoint's metadata or tensors, keeping its checksum right, so only the change is at fault. */
function tamper(file: string, f: (c: ReturnType<typeof decodeSafetensors>) => void): void {
  const c = decodeSafetensors(readFileSync(file));
  f(c);
  const { crc32: _crc, ...meta } = c.metadata;
  writeFileSync(file, encodeSafetensors(c.tensors, meta));
}

const newest = (run: string) => join(run, 'checkpoints', readdirSync(join(run, 'checkpoints')).sort().at(-1)!);

describe('security: run directories, links, values read back from disk', function () {
  this.timeout(240000);
  let tmp: string;
  let run: string;
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'onnx-gan-sec-files-'));
    run = join(tmp, 'run');
    const r = cli(['train', ...SMALL, '--iterations', '60', '--checkpoint-every', '20', '--out', run]);
    expect(r.code, r.err).to.equal(0);
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('two runs on one --out: the second is refused with one line naming the first; the first finishes alone', async () => {
    const out = join(tmp, 'two');
    const a = startCli(['train', ...SMALL, '--iterations', '200000', '--checkpoint-every', '100000', '--out', out]);
    try {
      // Ready: A holds the lock and is training (its log has a line).
      await until('the first run to train', () => existsSync(join(out, 'metrics.jsonl')) || a.proc.exitCode !== null);
      const b = cli(['train', ...SMALL, '--iterations', '50', '--seed', '1', '--out', out, '--force']);
      expect(b.code).to.equal(1);
      expect(b.err.trim().split('\n')).to.have.length(1);
      expect(b.err).to.match(new RegExp(`^onnx-gan: run directory ${out} is in use by onnx-gan train \\(pid ${a.proc.pid} on host ${hostname()}, since .*\\); wait for it to end or stop it`));
      const c = cli(['train', '--resume', '--out', out]);
      expect(c.err).to.match(/is in use by onnx-gan train/);
      a.proc.kill('SIGINT');
      expect(await a.exited, a.log()).to.equal(130);
    } finally {
      a.proc.kill('SIGKILL');
    }
    // The directory is A's alone: its config (seed 0), and the lock is gone with A.
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).seed).to.equal(0);
    expect(existsSync(join(out, LOCK_FILE))).to.equal(false);
    // A sweep directory takes the same lock.
    const sweepDir = join(tmp, 'sweep-locked');
    const held = lockDir(sweepDir, 'a test', 'sweep directory');
    try {
      const s = cli(['sweep', '--data', 'ring8', '--loss', 'ns', '--seeds', '1', '--iterations', '10', '--out', sweepDir]);
      expect(s.code).to.equal(1);
      expect(s.err).to.match(new RegExp(`^onnx-gan: sweep directory ${sweepDir} is in use by a test \\(pid ${process.pid} `));
    } finally {
      held.release();
    }
  });

  it('a lock left by a killed process on this host is taken over, saying so', () => {
    const pid = deadPid();
    writeFileSync(join(run, LOCK_FILE), JSON.stringify({ pid: Number(pid), host: hostname(), start: null, command: 'onnx-gan train', since: '2026-01-01T00:00:00.000Z', token: 'x' }));
    const r = cli(['train', '--resume', '--iterations', '80', '--out', run]);
    expect(r.code, r.err).to.equal(0);
    expect(r.err).to.match(new RegExp(`took over the lock of onnx-gan train \\(pid ${pid} on host ${hostname()}, since 2026-01-01T00:00:00.000Z\\), which is no longer running`));
    expect(existsSync(join(run, LOCK_FILE))).to.equal(false);
    // A live holder on another host cannot be judged from here: refused, with the way out named.
    writeFileSync(join(run, LOCK_FILE), JSON.stringify({ pid: 1, host: 'elsewhere', start: null, command: 'onnx-gan train', since: '2026-01-01T00:00:00.000Z', token: 'y' }));
    const other = cli(['train', '--resume', '--iterations', '80', '--out', run]);
    expect(other.code).to.equal(1);
    expect(other.err).to.match(/in use by onnx-gan train \(pid 1 on host elsewhere, .*\(if it is gone, remove .*\.onnx-gan\.lock\)/);
    rmSync(join(run, LOCK_FILE));
  });

  it('continue refuses artifacts whose config.json says keepCheckpoints 0, and deletes nothing', () => {
    expect(cli(['export', run]).code).to.equal(0);
    const art = join(tmp, 'art');
    cpSync(join(run, 'export', 'training'), art, { recursive: true });
    mkdirSync(join(art, 'checkpoints'));
    cpSync(newest(run), join(art, 'checkpoints', 'ckpt-000000080.safetensors'));
    const cfg = JSON.parse(readFileSync(join(art, 'config.json'), 'utf8'));
    writeFileSync(join(art, 'config.json'), JSON.stringify({ ...cfg, keepCheckpoints: 0 }));
    const r = cli(['continue', art, '--iterations', '10']);
    expect(r.code).to.equal(1);
    expect(r.err.trim()).to.match(/config\.json: 'keepCheckpoints': .*\(got 0\)$/);
    expect(readdirSync(join(art, 'checkpoints'))).to.deep.equal(['ckpt-000000080.safetensors']);
  });

  it('writes replace a planted link instead of writing through it: atomic files, metrics.jsonl, checkpoints/', () => {
    const victim = join(tmp, 'victim.txt');
    writeFileSync(victim, 'precious\n');
    const dir = join(tmp, 'links');
    mkdirSync(dir);
    symlinkSync(victim, join(dir, 'out.json'));
    writeFileAtomic(join(dir, 'out.json'), 'new\n');
    expect(readFileSync(victim, 'utf8')).to.equal('precious\n');
    expect(lstatSync(join(dir, 'out.json')).isSymbolicLink()).to.equal(false);
    expect(readFileSync(join(dir, 'out.json'), 'utf8')).to.equal('new\n');

    // A resumed run whose metrics.jsonl is a dangling link and whose checkpoints/ is a link elsewhere.
    const r2 = join(tmp, 'run-links');
    cpSync(run, r2, { recursive: true });
    const target = join(tmp, 'appended-through-link.txt');
    const elsewhere = join(tmp, 'elsewhere');
    mkdirSync(elsewhere);
    rmSync(join(r2, 'metrics.jsonl'));
    symlinkSync(target, join(r2, 'metrics.jsonl'));
    cpSync(join(r2, 'checkpoints'), join(elsewhere, 'checkpoints'), { recursive: true });
    rmSync(join(r2, 'checkpoints'), { recursive: true });
    symlinkSync(join(elsewhere, 'checkpoints'), join(r2, 'checkpoints'));
    const before = readdirSync(join(elsewhere, 'checkpoints'));
    const r = cli(['train', '--resume', '--iterations', '100', '--checkpoint-every', '10', '--out', r2]);
    expect(r.code, r.err).to.equal(0);
    expect(existsSync(target), 'nothing appended through the dangling link').to.equal(false);
    expect(lstatSync(join(r2, 'metrics.jsonl')).isFile()).to.equal(true);
    expect(lstatSync(join(r2, 'checkpoints')).isDirectory()).to.equal(true);
    expect(readdirSync(join(elsewhere, 'checkpoints')), 'the linked folder is untouched').to.deep.equal(before);
  });

  describe('checkpoint metadata and values are range-checked on load, naming the field', () => {
    const cases: [string, (c: ReturnType<typeof decodeSafetensors>) => void, RegExp][] = [
      ['NaN parameters', (c) => (c.tensors['G.params'].data[3] = NaN), /tensor G\.params holds NaN at index 3/],
      ['an infinite optimizer slot', (c) => (c.tensors[Object.keys(c.tensors).find((k) => k.startsWith('D.opt.'))!].data[0] = Infinity), /tensor D\.opt\.\w+ holds Infinity at index 0/],
      ['a learning rate of "NaN"', (c) => (c.metadata['G.lr'] = 'NaN'), /metadata 'G\.lr' is "NaN", not a positive number/],
      ['a negative learning rate', (c) => (c.metadata['D.lr'] = '-0.001'), /metadata 'D\.lr' is "-0\.001", not a positive number/],
      ['an absurd iteration', (c) => (c.metadata.iteration = '99999999999999999999'), /metadata 'iteration' is "99999999999999999999", not an integer from 0 to 100000000/],
      ['a fractional step count', (c) => (c.metadata['G.step'] = '1.5'), /metadata 'G\.step' is "1\.5", not an integer/],
    ];
    for (const [what, change, message] of cases)
      it(what, () => {
        const r3 = join(tmp, `ckpt-${what.replace(/\W+/g, '-')}`);
        cpSync(run, r3, { recursive: true });
        const files = readdirSync(join(r3, 'checkpoints')).sort();
        tamper(join(r3, 'checkpoints', files.at(-1)!), change);
        // Export of that file alone refuses it; --resume skips it for the newest good one, naming the fault.
        const exp = cli(['export', join(r3, 'checkpoints', files.at(-1)!), '--out', join(r3, 'x')]);
        expect(exp.code).to.equal(1);
        expect(exp.err).to.match(message);
        const resumed = cli(['train', '--resume', '--iterations', '100', '--out', r3]);
        expect(resumed.code, resumed.err).to.equal(0);
        expect(resumed.err).to.match(message);
        expect(resumed.err).to.match(new RegExp(`resuming from .*${files.at(-2)}`));
      });
  });

  it('export to a folder that cannot be made names the folder and the reason', () => {
    const r = cli(['export', run, '--out', '/proc/onnx-gan-test/export']);
    expect(r.code).to.equal(1);
    expect(r.err.trim()).to.match(/^onnx-gan: cannot create the folder \/proc\/onnx-gan-test\/export \(\/proc refuses new entries: ENOENT\)$/);
  });
});
