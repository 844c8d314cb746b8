// The onnx-gan command line, as a user runs it: resume, bad input, --json.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeSafetensors } from '../../training/checkpoint.ts';
import { cli, BIN } from '../helpers.ts';
import { program } from '../../cli/main.ts';

const SMALL = ['--hidden', '32,32', '--batch', '64', '--eval-samples', '200', '--log-every', '10'];

const ckpts = (dir: string) => readdirSync(join(dir, 'checkpoints')).sort();
const lastCkpt = (dir: string) => decodeSafetensors(readFileSync(join(dir, 'checkpoints', ckpts(dir).at(-1)!)));

describe('onnx-gan train (CLI)', function () {
  this.timeout(180000);
  let tmp: string;
  before(() => (tmp = mkdtempSync(join(tmpdir(), 'onnx-gan-cli-'))));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('--resume continues exactly as an uninterrupted run (parameters bit-equal after the same steps)', () => {
    const a = join(tmp, 'a');
    const b = join(tmp, 'b');
    const r1 = cli(['train', ...SMALL, '--iterations', '40', '--checkpoint-every', '20', '--out', a, '--json']);
    expect(r1.code, r1.err).to.equal(0);
    const r2 = cli(['train', ...SMALL, '--iterations', '20', '--checkpoint-every', '20', '--out', b]);
    expect(r2.code, r2.err).to.equal(0);
    const r3 = cli(['train', ...SMALL, '--iterations', '40', '--checkpoint-every', '20', '--out', b, '--resume']);
    expect(r3.code, r3.err).to.equal(0);
    expect(r3.err).to.match(/resuming from .*ckpt-000000020/);
    const [ca, cb] = [lastCkpt(a), lastCkpt(b)];
    expect(ca.metadata.iteration).to.equal('40');
    for (const k of Object.keys(ca.tensors)) expect(Buffer.from(cb.tensors[k].data.buffer).equals(Buffer.from(ca.tensors[k].data.buffer)), k).to.equal(true);
    // The log reads as one run: iterations 10..40 once each.
    const its = readFileSync(join(b, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).iteration);
    expect(its).to.deep.equal([10, 20, 30, 40]);
    const j = JSON.parse(r1.out);
    expect(j).to.include.keys('modesCaptured', 'highQualityPct', 'reverseKL', 'seconds');
    expect(readFileSync(join(a, 'samples.csv'), 'utf8').trim().split('\n')).to.have.length(201);
    expect(readFileSync(join(a, 'samples.svg'), 'utf8')).to.match(/^<svg/);
    // The loss curves of the whole (resumed) run, one line per logged series, named in the legend.
    const losses = readFileSync(join(b, 'losses.svg'), 'utf8');
    expect(losses).to.match(/^<svg/);
    for (const series of ['D.loss', 'G.loss', 'D.gp']) expect(losses, series).to.include(`>${series}</text>`);
  });

  it('a corrupt newest checkpoint is skipped on --resume with a message; none usable is an error', () => {
    const d = join(tmp, 'c');
    expect(cli(['train', ...SMALL, '--iterations', '20', '--checkpoint-every', '10', '--out', d]).code).to.equal(0);
    const [older, newest] = ckpts(d);
    truncateSync(join(d, 'checkpoints', newest), 100);
    const r = cli(['train', ...SMALL, '--iterations', '20', '--checkpoint-every', '10', '--out', d, '--resume']);
    expect(r.code, r.err).to.equal(0);
    expect(r.err).to.match(new RegExp(`resuming from .*${older}.*truncated`));
    for (const f of ckpts(d)) writeFileSync(join(d, 'checkpoints', f), 'garbage that is not a checkpoint');
    const bad = cli(['train', ...SMALL, '--iterations', '30', '--out', d, '--resume']);
    expect(bad.code).to.not.equal(0);
    expect(bad.err.trim().split('\n')).to.have.length(1);
    expect(bad.err).to.match(/no usable checkpoint/);
  });

  const rejects: [string, string[], RegExp][] = [
    ['an unknown loss', ['--loss', 'nope'], /option '--loss <name>' argument 'nope' is invalid. Allowed choices are ns, minimax, .*fgan/],
    ['a loss without a setting it needs', ['--loss', 'fgan'], /loss 'fgan' needs --divergence \(kl, rkl, pearson, neyman, hellinger, js\)/],
    ['weight clipping with a gradient penalty', ['--loss', 'wgan-gp', '--clip', '0.01'], /weight clipping \(loss 'wgan-gp', --clip\) cannot be combined with the 'gp' penalty: .*choose one/],
    ['an unknown data set', ['--data', 'moons'], /unknown data set 'moons'; valid data sets: ring8, grid25, fashion-mnist, an IDX file/],
    ['a data path that is not there', ['--data', '/no/such/images'], /^onnx-gan: --data: \/no\/such\/images does not exist \(a data set is ring8, grid25, fashion-mnist/],
    ['a flag value that is not a number', ['--lr', 'fast'], /option '--lr <x>' argument 'fast' is invalid. 'fast' is not a number/],
    ['a negative iteration count', ['--iterations', '-5'], /'iterations': Too small/],
    ['an unknown execution provider', ['--ep', 'tpu'], /argument 'tpu' is invalid/],
    ['an iteration count past the maximum', ['--iterations', '1e12'], /'iterations': Too big: expected number to be <=100000000/],
    ['a batch that cannot fit in memory', ['--batch', '100000000'], /these settings do not fit: training needs about \d+ GiB \(.*activations \d+ GiB.*batch 100000000.*\), this machine has \d+(\.\d)? GiB/],
    ['a latent size that cannot fit in memory', ['--latent', '1000000'], /these settings do not fit: .*draws \d+ GiB.*latent 1000000/],
    ['hidden layers that cannot fit in memory', ['--hidden', '100000,100000'], /these settings do not fit: .*parameters \d+ GiB.*[\d,]+ parameters/],
    ['lazy regularization without a gradient penalty', ['--loss', 'ns', '--penalty-every', '4'], /--penalty-every 4: the loss 'ns' has no gradient penalty to apply lazily \(give one with --penalty r1\|r2\|gp\|lp\|dragan\)/],
    ['lazy regularization on shards', ['--loss', 'ns', '--penalty', 'r1', '--penalty-every', '4', '--shards', '2'], /--penalty-every 4: data-parallel shards \(--shards 2\) run the penalty on every critic step/],
  ];
  for (const [what, args, re] of rejects)
    it(`refuses ${what} with one line and a non-zero exit`, () => {
      const r = cli(['train', ...args, '--out', join(tmp, 'never')]);
      expect(r.code).to.not.equal(0);
      expect(r.err.trim().split('\n'), r.err).to.have.length(1);
      expect(r.err).to.match(re);
      expect(existsSync(join(tmp, 'never'))).to.equal(false);
    });

  it('--out naming a file is one clear line; --threads above the core count warns; f-GAN runs are named by divergence', () => {
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    const r = cli(['train', ...SMALL, '--iterations', '2', '--out', file]);
    expect(r.code).to.equal(1);
    expect(r.err.trim()).to.match(/^onnx-gan: --out: .*a-file is a file, not a run directory$/);
    const t = cli(['train', ...SMALL, '--iterations', '2', '--threads', '64', '--out', join(tmp, 'threads')]);
    expect(t.code, t.err).to.equal(0);
    expect(t.err).to.match(/warning: --threads 64 is more than this machine's \d+ cores/);
    const f = spawnSync(process.execPath, [BIN, 'train', ...SMALL, '--loss', 'fgan', '--divergence', 'js', '--iterations', '2', '--json'], { encoding: 'utf8', cwd: tmp });
    expect(f.status, f.stderr).to.equal(0);
    expect(JSON.parse(f.stdout).out).to.equal(join(tmp, 'runs', 'ring8-fgan-js-s0'));
  });

  it('train-classifier refuses a bad --shift and an unknown --arch in one line, before any data is read', () => {
    expect(cli(['train-classifier', '--shift', '-1', '--out', join(tmp, 'c.onnx')]).err.trim()).to.equal('onnx-gan: --shift must be a whole number of pixels >= 0, got -1');
    expect(cli(['train-classifier', '--arch', 'resnet', '--out', join(tmp, 'c.onnx')]).err.trim()).to.match(/--arch.*'resnet' is invalid.*vgg, small/);
    expect(existsSync(join(tmp, 'c.onnx'))).to.equal(false);
  });

  it('refuses a config file with an unknown key, naming it', () => {
    const f = join(tmp, 'bad.json');
    writeFileSync(f, JSON.stringify({ loss: 'ns', learning_rate: 1 }));
    const r = cli(['train', '--config', f, '--out', join(tmp, 'never')]);
    expect(r.code).to.not.equal(0);
    expect(r.err).to.match(/'learning_rate': Unrecognized key/);
  });

  it('refuses to overwrite a run directory without --resume or --force', () => {
    const d = join(tmp, 'c');
    const before = readdirSync(join(d, 'checkpoints'));
    const r = cli(['train', ...SMALL, '--iterations', '10', '--out', d]);
    expect(r.code).to.not.equal(0);
    expect(r.err).to.match(/already exists; pass --resume to continue it or --force/);
    expect(readdirSync(join(d, 'checkpoints'))).to.deep.equal(before);
  });

  it('stops on a non-finite loss, naming the iteration and the value, keeping the last good checkpoint', () => {
    const d = join(tmp, 'nan');
    const r = cli(['train', ...SMALL, '--optimizer', 'sgd', '--lr', '1', '--iterations', '50', '--checkpoint-every', '1', '--out', d]);
    expect(r.code).to.not.equal(0);
    expect(r.err.trim().split('\n')).to.have.length(1);
    expect(r.err).to.match(/training diverged at iteration (\d+): .*(NaN|Infinity).*the last good checkpoint is .*ckpt-/);
    const it = Number(/iteration (\d+)/.exec(r.err)![1]);
    for (const f of ckpts(d)) {
      const c = decodeSafetensors(readFileSync(join(d, 'checkpoints', f)));
      expect(Number(c.metadata.iteration)).to.be.lessThan(it);
      for (const t of Object.values(c.tensors)) expect(t.data.every(Number.isFinite)).to.equal(true);
    }
  });
});

describe('cli/main: usage errors', () => {
  it('a misspelt flag gets a suggestion, given as --name value or --name=value', async () => {
    for (const arg of ['--itersations', '--itersations=10']) {
      const cmd = program();
      let err = '';
      for (const c of cmd.commands) c.configureOutput({ writeErr: (s) => void (err += s) });
      await cmd.parseAsync(['train', arg], { from: 'user' }).catch(() => {});
      expect(err, arg).to.equal("error: unknown option '--itersations'\n(Did you mean --iterations?)\n");
    }
  });
});

