// Exports that other frameworks use: OpenCV's DNN importer loads generator.onnx and critic.onnx (weights
// folded, attributes explicit), and the exported model.py rebuilds both networks in PyTorch from
// weights.safetensors; both give onnxruntime's outputs. Needs Debian's python3-opencv and python3-torch
// (.ci/run installs them); the test is skipped, saying so, where they are missing.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../../data/random.ts';
import { tensor } from '../../graph/ir.ts';
import { nodeRuntime } from '../../runtime/node.ts';
import type { Feeds } from '../../runtime/runtime.ts';
import { BIN } from '../helpers.ts';

const SCRIPT = new URL('../python/interop.py', import.meta.url).pathname;
const PY = '/usr/bin/python3';
const hasPython = spawnSync(PY, ['-c', 'import cv2, torch, numpy'], { encoding: 'utf8' }).status === 0;
const hasFmnist = existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz') || !!process.env.FASHION_MNIST_DIR;

/** Name, train flags, the generator's sample shape, and the critic's input shape where packing makes it differ. */
const RUNS: [string, string[], number[], number[]?][] = [
  ['mlp-wgan-gp', ['--loss', 'wgan-gp', '--hidden', '32,32'], [2]],
  // PacGAN's networks (batch norm, maxout), the critic judging packs of 2 points.
  ['pacgan-pack2', ['--protocol', 'pacgan', '--pack', '2', '--batch', '16', '--data-size', '1000'], [2], [4]],
  ['mlp-sngan', ['--loss', 'sngan', '--hidden', '32,32'], [2]],
  ['dcgan-layer-norm', ['--data', 'fashion-mnist', '--loss', 'ns', '--width', '8', '--batch', '16', '--latent', '16'], [1, 28, 28]],
  ['dcgan-instance-norm', ['--data', 'fashion-mnist', '--loss', 'wgan-gp', '--norm', 'instance', '--width', '8', '--batch', '16', '--latent', '16', '--n-critic', '1'], [1, 28, 28]],
  ['dcgan-sngan', ['--data', 'fashion-mnist', '--loss', 'sngan', '--width', '8', '--batch', '16', '--latent', '16', '--n-critic', '1'], [1, 28, 28]],
  // The export holds the generator's weight average; model.py loads the same ('<name>.ema' tensors).
  ['dcgan-sngan-ema', ['--data', 'fashion-mnist', '--loss', 'sngan', '--width', '8', '--batch', '16', '--latent', '16', '--n-critic', '1', '--ema', '0.9', '--augment', 'color,translation'], [1, 28, 28]],
  ['resnet-sngan', ['--data', 'fashion-mnist', '--arch', 'resnet', '--loss', 'sngan', '--width', '8', '--batch', '8', '--latent', '16', '--n-critic', '1'], [1, 28, 28]],
  ['resnet-wgan-gp', ['--data', 'fashion-mnist', '--arch', 'resnet', '--loss', 'wgan-gp', '--width', '8', '--batch', '8', '--latent', '16', '--n-critic', '1'], [1, 28, 28]],
  // Class-conditional pairs: model.py only (OpenCV's DNN takes float inputs, not the int64 class).
  ['dcgan-projection-sngan', ['--data', 'fashion-mnist', '--conditional', 'projection', '--loss', 'sngan', '--width', '8', '--batch', '16', '--latent', '16', '--n-critic', '1'], [1, 28, 28]],
  ['resnet-projection-sngan', ['--data', 'fashion-mnist', '--arch', 'resnet', '--conditional', 'projection', '--loss', 'sngan', '--width', '8', '--batch', '8', '--latent', '16', '--n-critic', '1'], [1, 28, 28]],
  ['resnet-acgan-wgan-gp', ['--data', 'fashion-mnist', '--arch', 'resnet', '--conditional', 'acgan', '--loss', 'wgan-gp', '--width', '8', '--batch', '8', '--latent', '16', '--n-critic', '1'], [1, 28, 28]],
];

const maxAbs = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

describe('exports in other frameworks: OpenCV DNN and PyTorch (model.py)', function () {
  this.timeout(240000);
  let tmp: string;
  before(function () {
    if (process.env.CI && !hasPython) throw new Error('python3-opencv / python3-torch are missing on CI');
    if (!hasPython) this.skip();
    tmp = mkdtempSync(join(tmpdir(), 'onnx-gan-interop-'));
  });
  after(() => tmp && rmSync(tmp, { recursive: true, force: true }));

  for (const [name, args, sample, criticIn = sample] of RUNS)
    it(`${name}: ${args.includes('--conditional') ? 'model.py gives' : 'OpenCV and model.py give'} onnxruntime's samples and scores (1e-5)`, async function () {
      if (sample.length > 1 && !hasFmnist) this.skip();
      const run = join(tmp, name);
      const t = spawnSync(process.execPath, [BIN, 'train', ...args, '--iterations', '3', '--checkpoint-every', '3', '--eval-samples', '100', '--out', run], { encoding: 'utf8' });
      expect(t.status, t.stderr).to.equal(0);
      const e = spawnSync(process.execPath, [BIN, 'export', run], { encoding: 'utf8' });
      expect(e.status, e.stderr).to.equal(0);
      const dir = join(run, 'export');
      const rt = nodeRuntime('cpu');
      const [g, d] = [await rt.createSession(readFileSync(join(dir, 'generator.onnx'))), await rt.createSession(readFileSync(join(dir, 'critic.onnx')))];
      const latent = Number(JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')).latent ?? 16);
      const n = 5;
      const per = criticIn.reduce((a, b) => a * b, 1);
      const z = Rng.stream(9, 'interop-z').fillNormal(new Float32Array(n * latent));
      const x = Rng.stream(9, 'interop-x').fillUniform(new Float32Array(n * per), -1, 1);
      const conditional = args.includes('--conditional');
      const labels = Array.from({ length: n }, (_, i) => (3 * i) % 10);
      const label: Feeds = conditional ? { label: tensor('int64', [n], labels) } : {};
      const gy = (await g.run({ z: tensor('float32', [n, latent], z), ...label })).samples.data as Float32Array;
      const projection = args.includes('projection');
      const dy = (await d.run({ x: tensor('float32', [n, ...criticIn], x), ...(projection ? label : {}) })).score.data as Float32Array;
      await g.release();
      await d.release();
      writeFileSync(join(tmp, `${name}.z`), z);
      writeFileSync(join(tmp, `${name}.x`), x);
      const py = spawnSync(PY, [SCRIPT, dir, join(tmp, `${name}.z`), String(n), join(tmp, `${name}.x`), String(n), tmp, JSON.stringify(criticIn), ...(conditional ? [JSON.stringify(labels)] : [])], { encoding: 'utf8' });
      expect(py.status, py.stderr).to.equal(0);
      const shapes = JSON.parse(py.stdout.trim().split('\n').pop()!);
      if (!conditional) expect(shapes.cv2_generator).to.deep.equal([n, ...sample]);
      expect(shapes.torch_critic).to.deep.equal([n, args.includes('acgan') ? 11 : 1]);
      const read = (f: string) => new Float32Array(Uint8Array.from(readFileSync(join(tmp, f))).buffer);
      for (const fw of conditional ? ['torch'] : ['cv2', 'torch']) {
        expect(maxAbs(read(`${fw}_generator.f32`), gy), `${fw} generator`).to.be.below(1e-5);
        expect(maxAbs(read(`${fw}_critic.f32`), dy), `${fw} critic`).to.be.below(1e-5 * Math.max(1, ...dy.map(Math.abs)));
      }
    });
});

/** Imported pairs (test/fixtures/import), their data, and which exported files OpenCV 4.6 can load. */
const IMPORTED: [string, string, string, string, { generator: boolean; critic: boolean }][] = [
  // view(-1, 1).squeeze(1) in the critic: Squeeze with its axes as an input, written as a Reshape. The
  // batch norms, exported by torch in training mode, normalize with batch statistics: named.
  ['dcgan64', 'dcgan64_g.onnx', 'dcgan64_d.onnx', 'c64', { generator: false, critic: false }],
  // Sum pooling: ReduceSum with its axes as an input, written as ReduceMean times the count.
  ['resnet32', 'sngan_resnet32_g.onnx', 'sngan_resnet32_d.onnx', 'c32', { generator: false, critic: true }],
  // PixelShuffle (DepthToSpace CRD, written as Reshape, Transpose, Reshape) and PReLU; SAGAN's critic.
  ['shuffle-sagan', 'shuffle_prelu_g.onnx', 'sagan_sn_eval_d.onnx', 'g28', { generator: true, critic: true }],
  // Minibatch stddev reads the batch size at run time: named by the export.
  ['stylegan2', 'shuffle_prelu_g.onnx', 'stylegan2_tail_d.onnx', 'g28', { generator: true, critic: false }],
  // Noise injection reads the batch (generator); einsum has no OpenCV layer (critic): both named.
  ['modconv-einsum', 'modconv_g.onnx', 'einsum_attention_d.onnx', 'g28', { generator: false, critic: false }],
];

describe('exports of imported models in OpenCV DNN: loaded where a rewrite makes them loadable, named in one line where not', function () {
  this.timeout(300000);
  let tmp: string;
  const data: Record<string, string> = {};
  before(function () {
    if (process.env.CI && !hasPython) throw new Error('python3-opencv / python3-torch are missing on CI');
    if (!hasPython) this.skip();
    tmp = mkdtempSync(join(tmpdir(), 'onnx-gan-interop-import-'));
    const idx = (name: string, dims: number[]) => {
      const all = [16, ...dims];
      const rng = Rng.stream(3, name);
      const body = Array.from({ length: all.reduce((a, b) => a * b, 1) }, () => rng.int(256));
      writeFileSync(join(tmp, name), Uint8Array.from([0, 0, 8, all.length, ...all.flatMap((d) => [d >>> 24, (d >>> 16) & 255, (d >>> 8) & 255, d & 255]), ...body]));
      return join(tmp, name);
    };
    Object.assign(data, { c32: idx('c32-idx3-ubyte', [32, 32, 3]), c64: idx('c64-idx3-ubyte', [64, 64, 3]), g28: idx('g28-idx3-ubyte', [28, 28]) });
  });
  after(() => tmp && rmSync(tmp, { recursive: true, force: true }));

  for (const [name, g, d, set, loads] of IMPORTED)
    it(`${name}: generator ${loads.generator ? 'loads' : 'is named'}, critic ${loads.critic ? 'loads' : 'is named'}`, async () => {
      const run = join(tmp, name);
      const fx = (f: string) => new URL(`../fixtures/import/${f}`, import.meta.url).pathname;
      const t = spawnSync(process.execPath, [BIN, 'train', '--data', data[set], '--generator', fx(g), '--critic', fx(d), '--loss', 'wgan-gp', '--batch', '8', '--iterations', '1', '--checkpoint-every', '1', '--eval-samples', '20', '--out', run], { encoding: 'utf8' });
      expect(t.status, t.stderr).to.equal(0);
      const e = spawnSync(process.execPath, [BIN, 'export', run], { encoding: 'utf8' });
      expect(e.status, e.stderr).to.equal(0);
      // The constant folding no longer prints onnxruntime's UnsqueezeElimination warnings.
      expect(e.stderr).to.not.match(/UnsqueezeElimination/);
      const rt = nodeRuntime('cpu');
      for (const file of ['generator', 'critic'] as const) {
        const model = join(run, 'export', `${file}.onnx`);
        const note = e.stderr.split('\n').find((l) => l.startsWith(`note: ${file}.onnx: OpenCV's DNN importer (4.6) cannot load it: `));
        const s = await rt.createSession(readFileSync(model));
        const manifest = JSON.parse(readFileSync(join(run, 'export', 'training', 'artifacts.json'), 'utf8'));
        const dims = file === 'generator' ? [3, manifest.latent as number] : [3, ...(manifest.sampleShape as number[])];
        const x = Rng.stream(4, `${name}-${file}`).fillNormal(new Float32Array(dims.reduce((a, b) => a * b, 1)));
        const want = Object.values(await s.run({ [s.inputNames[0]]: tensor('float32', dims, x) }))[0].data as Float32Array;
        await s.release();
        writeFileSync(join(tmp, `${name}-${file}.in`), x);
        const py = spawnSync(PY, [new URL('../python/opencv_forward.py', import.meta.url).pathname, model, join(tmp, `${name}-${file}.in`), JSON.stringify(dims), join(tmp, `${name}-${file}.out`)], { encoding: 'utf8' });
        expect(py.status, py.stderr).to.equal(0);
        const r = JSON.parse(py.stdout.trim().split('\n').pop()!);
        if (loads[file]) {
          expect(note, `${file}: no note`).to.equal(undefined);
          expect(r.refused, `${file}: OpenCV refused it`).to.equal(undefined);
          const got = new Float32Array(Uint8Array.from(readFileSync(join(tmp, `${name}-${file}.out`))).buffer);
          expect(maxAbs(got, want), `${file}: OpenCV vs onnxruntime`).to.be.below(1e-4 * Math.max(1, ...want.map(Math.abs)));
        } else {
          expect(note, `${file}: the export names why OpenCV cannot load it`).to.be.a('string');
          // Refused outright, or (batch statistics) loaded and wrong.
          if (!r.refused) expect(maxAbs(new Float32Array(Uint8Array.from(readFileSync(join(tmp, `${name}-${file}.out`))).buffer), want), `${file}: OpenCV gave onnxruntime's output after all`).to.be.above(1e-2);
        }
      }
    });
});
