// `onnx-gan train-classifier` as a user meets it when it is stopped: Ctrl-C saves the progress beside --out
// and says how to go on; `--resume --out FILE` alone goes on (the saved settings are the base) and writes
// the same classifier an uninterrupted training writes; what would lose that progress is refused in one line.
// On a small Fashion-MNIST look-alike (FASHION_MNIST_DIR), so it needs no data set and takes seconds.
import { expect } from 'chai';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Rng } from '../../data/random.ts';
import { fromBytes } from '../../graph/serialize.ts';
import { encodeSafetensors } from '../../training/checkpoint.ts';
import { cli, startCli, until } from '../helpers.ts';

/** IDX files as Fashion-MNIST ships them (gzip): n random 28x28 images and labels. */
function idxSplit(dir: string, split: string, n: number, rng: Rng): void {
  const head = (magic: number, dims: number[]) => {
    const b = Buffer.alloc(4 + 4 * dims.length);
    b.writeUInt32BE(magic, 0);
    dims.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i));
    return b;
  };
  const images = Buffer.from(Uint8Array.from({ length: n * 784 }, () => rng.int(256)));
  const labels = Buffer.from(Uint8Array.from({ length: n }, () => rng.int(10)));
  writeFileSync(join(dir, `${split}-images-idx3-ubyte.gz`), gzipSync(Buffer.concat([head(0x803, [n, 28, 28]), images])));
  writeFileSync(join(dir, `${split}-labels-idx1-ubyte.gz`), gzipSync(Buffer.concat([head(0x801, [n]), labels])));
}

describe('cli: train-classifier', function () {
  this.timeout(300_000);
  let tmp: string;
  let env: Record<string, string>;
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'onnx-gan-classifier-'));
    const data = join(tmp, 'fashion-mnist');
    mkdirSync(data);
    const rng = Rng.stream(1, 'classifier-cli');
    idxSplit(data, 'train', 640, rng);
    idxSplit(data, 't10k', 100, rng);
    env = { FASHION_MNIST_DIR: data, ONNX_GAN_PROGRESS_SECONDS: '0.001' };
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  // 20 steps an epoch, 300 in all: the signal, sent at the first progress line, lands mid-training.
  const args = ['train-classifier', '--arch', 'small', '--epochs', '15', '--batch', '32', '--samples', '100', '--threads', '1'];
  const weights = (file: string) => [...fromBytes(readFileSync(file)).graph.initializers].map(([name, { tensor }]) => `${name} ${Buffer.from((tensor.data as Float32Array).buffer).toString('base64')}`);

  it('Ctrl-C saves the progress and says how to go on; --resume --out FILE alone ends where an uninterrupted training does', async () => {
    const out = join(tmp, 'stopped.onnx');
    const c = startCli([...args, '--out', out], env);
    await until('the first progress line', () => / steps \| loss /.test(c.log()) || c.proc.exitCode !== null);
    c.proc.kill('SIGINT');
    expect(await c.exited, c.log()).to.equal(130);
    const said = c.log().match(/interrupted at step (\d+) of 300; saved (.*); go on with onnx-gan train-classifier --out (.*) --resume/);
    expect(said, c.log()).to.not.equal(null);
    expect(Number(said![1])).to.be.within(1, 299);
    expect(said![2]).to.equal(`${out}.progress.safetensors`);
    expect(existsSync(out)).to.equal(false);

    const again = cli([...args, '--out', out], env);
    expect(again.code).to.equal(1);
    expect(again.err.trim()).to.equal(`onnx-gan: --out ${out}: an interrupted training left ${out}.progress.safetensors; --resume goes on from it, --force starts over`);
    const other = cli([...args, '--epochs', '14', '--out', out, '--resume'], env);
    expect(other.code).to.equal(1);
    expect(other.err.trim()).to.equal(`onnx-gan: --resume: --epochs is 14, the interrupted training's (${out}.progress.safetensors) has 15`);

    const resumed = cli(['train-classifier', '--out', out, '--resume', '--threads', '1', '--samples', '100', '--json'], env);
    expect(resumed.code, resumed.err).to.equal(0);
    expect(resumed.err).to.match(new RegExp(`going on from step ${said![1]} of 300`));
    expect(JSON.parse(resumed.out).epochs).to.equal(15);
    expect(existsSync(`${out}.progress.safetensors`)).to.equal(false);

    const whole = join(tmp, 'whole.onnx');
    const w = cli([...args, '--out', whole, '--json'], env);
    expect(w.code, w.err).to.equal(0);
    expect(weights(out)).to.deep.equal(weights(whole));
    expect(JSON.parse(resumed.out).testAccuracy).to.equal(JSON.parse(w.out).testAccuracy);
  });

  it('a progress file that is not one, or was saved under settings it cannot hold, is refused naming the file', () => {
    const out = join(tmp, 'bad.onnx');
    writeFileSync(`${out}.progress.safetensors`, 'not a safetensors file');
    const r = cli([...args, '--out', out, '--resume'], env);
    expect(r.code).to.equal(1);
    expect(r.err.trim()).to.match(new RegExp(`^onnx-gan: ${out}.progress.safetensors: (truncated|corrupt)`));
    const settings = { arch: 'resnet', epochs: 15, batch: 32, lr: 1e-3, shift: 2, seed: 0, images: 640 };
    writeFileSync(`${out}.progress.safetensors`, encodeSafetensors({ params: { dtype: 'F32', shape: [1], data: new Float32Array(1) } }, { format: 'onnx-gan-classifier-progress/1', identity: JSON.stringify(settings), step: '3', epoch_loss: '[]', loss_sum: '1' }));
    const arch = cli(['train-classifier', '--out', out, '--resume'], env);
    expect(arch.code).to.equal(1);
    expect(arch.err.trim()).to.match(new RegExp(`^onnx-gan: ${out}.progress.safetensors: its setting 'arch' .*vgg.*small`));
    writeFileSync(`${out}.progress.safetensors`, encodeSafetensors({ params: { dtype: 'F32', shape: [1], data: new Float32Array(1) } }, { format: 'onnx-gan-classifier-progress/1', identity: JSON.stringify({ ...settings, arch: 'small' }), step: '3', epoch_loss: '[]', loss_sum: '1' }));
    const size = cli(['train-classifier', '--out', out, '--resume'], env);
    expect(size.code).to.equal(1);
    expect(size.err.trim()).to.match(new RegExp(`^onnx-gan: ${out}.progress.safetensors: 1 parameters, the model has \\d+$`));
  });
});
