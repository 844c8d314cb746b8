// The web page in a real browser: Debian's chromium driven by playwright-core opens the page served by
// web/serve.ts, samples an exported generator, keeps training from the run's artifacts on WASM, downloads
// the checkpoint, and the numbers are checked against Node's. Screenshots go to test-artifacts/.
import { expect } from 'chai';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { Graph } from '../../graph/ir.ts';
import * as o from '../../graph/ops.ts';
import { toBytes, fromBytes } from '../../graph/serialize.ts';
import { continueArtifacts } from '../../run/continue.ts';
import { exportRun } from '../../run/export.ts';
import { parseConfig } from '../../run/config.ts';
import { train } from '../../run/train.ts';
import { FASHION_MNIST_DIR } from '../../data/paths.ts';
import { Rng } from '../../data/random.ts';
import { decodeSafetensors } from '../../training/checkpoint.ts';
import { packArtifacts } from '../../training/artifacts.ts';
import { mlpGan } from '../../training/gan-pairs.ts';
import { StepCompiler } from '../../training/step.ts';
import { needChromium, openPage, type OpenPage } from '../browser-page.ts';
import { expectClose, relErr, rt } from '../helpers.ts';

const SHOTS = new URL('../../test-artifacts', import.meta.url).pathname;

describe('web page in Chromium (playwright-core)', function () {
  this.timeout(240000);
  let tmp: string;
  let run: string;
  let opened: OpenPage;
  let page: Page;
  let pageErrors: string[];

  before(async function () {
    needChromium(this);
    tmp = mkdtempSync(join(tmpdir(), 'onnx-gan-web-'));
    run = join(tmp, 'run');
    // The main job's loss (WGAN-GP), and NS-GAN, whose loss is smooth (see the cross-kernel test below).
    for (const [loss, out] of [['wgan-gp', run], ['ns', join(tmp, 'ns')]]) {
      await train(parseConfig({ loss, hidden: [32, 32], batch: 64, iterations: 40, checkpointEvery: 20, evalSamples: 100, out }));
      await exportRun(out, {});
    }
    mkdirSync(SHOTS, { recursive: true });
    // --disable-gpu: no WebGPU adapter, so the page samples and trains on WASM (browser-webgpu.test.ts: WebGPU).
    opened = await openPage(run, ['--disable-gpu'], { width: 1200, height: 900 });
    ({ page, pageErrors } = opened);
  });
  after(async () => {
    await opened?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const onnxGan = () => opened.state();

  it('samples the exported generator on the backend it reports; the samples equal onnxruntime-node (1e-5)', async () => {
    const st = await onnxGan();
    expect(st.errors, st.errors.join('; ')).to.deep.equal([]);
    // This headless chromium runs with --disable-gpu: no WebGPU adapter, so WASM, and the page says so.
    expect(st.backend).to.be.oneOf(['web-wasm', 'web-webgpu']);
    expect(await page.textContent('#backend')).to.match(st.backend === 'web-wasm' ? /sampling: WASM \(.+\) · training: WASM/ : /sampling: WebGPU/);
    expect(st.generator.latent).to.equal(16);
    expect(st.generator.shape).to.deep.equal([2]);
    const z = Rng.stream(0, 'page-samples').fillNormal(new Float32Array(1000 * 16));
    const s = await rt.createSession(readFileSync(join(run, 'export', 'generator.onnx')));
    const want = (await s.run({ z: { dtype: 'float32', dims: [1000, 16], data: z } })).samples.data as Float32Array;
    await s.release();
    expectClose(st.generator.samples, want, 1e-5, 1e-6, 'page samples vs node');
    expect(await page.textContent('#sample-info')).to.match(/z \[N, 16\] -> \[N, 2\]; 1000 samples shown · loss wgan-gp · data ring8 · step 40/);
    // The latent slider redraws the interpolation.
    await page.$eval('#lerp', (el: HTMLInputElement) => {
      el.value = '0.5';
      el.dispatchEvent(new Event('input'));
    });
    await page.waitForFunction(() => document.getElementById('lerp-value')!.textContent === '0.50');
    await page.screenshot({ path: join(SHOTS, 'browser-samples.png') });
  });

  /** Train n iterations in the tab from what is loaded; the downloaded checkpoint. */
  async function trainInTab(n: number) {
    const start = (await onnxGan()).training.iteration;
    await page.fill('#train-for', String(n));
    await page.click('#train');
    await page.waitForFunction((end) => { const t = (globalThis as any).onnxGan.training; return t.iteration >= end && !t.running; }, start + n, { timeout: 120000 });
    const st = await onnxGan();
    expect(st.training.iteration).to.equal(start + n);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    expect(download.suggestedFilename()).to.equal(`ckpt-${String(start + n).padStart(9, '0')}.safetensors`);
    const file = (await download.path())!;
    return { st, file, ckpt: decodeSafetensors(readFileSync(file)) };
  }

  /** Node continuing from a copy of the same artifacts. */
  async function inNode(artifacts: string, n: number, ep: 'cpu' | 'wasm') {
    const copy = mkdtempSync(join(tmp, `node-${ep}-`));
    cpSync(artifacts, copy, { recursive: true });
    await continueArtifacts(copy, { iterations: n, ep });
    return decodeSafetensors(readFileSync(join(copy, 'checkpoint.safetensors')));
  }

  const sameKeys = (a: ReturnType<typeof decodeSafetensors>, b: ReturnType<typeof decodeSafetensors>) => {
    expect(Object.keys(a.tensors).sort()).to.deep.equal(Object.keys(b.tensors).sort());
    for (const k of ['iteration', 'config', 'G.step', 'D.step']) expect(a.metadata[k], k).to.equal(b.metadata[k]);
  };

  it('keeps training WGAN-GP from the artifacts in the tab: the downloaded checkpoint is bit-identical to Node on the same WASM kernels', async () => {
    const before = await onnxGan();
    expect(before.training.iteration).to.equal(40);
    const { st, ckpt: fromPage, file: fromPageFile } = await trainInTab(20);
    expect(Object.keys(st.training.losses)).to.include.members(['D.loss', 'G.loss', 'D.gp']);
    expect(await page.textContent('#train-status')).to.match(/iteration 60 \(paused\) · D\.wdist/);
    await page.screenshot({ path: join(SHOTS, 'browser-training.png') });
    const artifacts = join(run, 'export', 'training');
    const wasm = await inNode(artifacts, 20, 'wasm');
    sameKeys(fromPage, wasm);
    for (const k of Object.keys(wasm.tensors)) expect(Buffer.from(fromPage.tensors[k].data.buffer).equals(Buffer.from(wasm.tensors[k].data.buffer)), k).to.equal(true);
    // onnxruntime-node's CPU kernels round differently; WGAN-GP's penalty differentiates through LeakyReLU's
    // mask, so a pre-activation within rounding of 0 flips it on one side only: an lr-sized jump in the
    // parameters (measured 3e-4 relative here) that Adam's first moment carries (2e-3), not a drift.
    const cpu = await inNode(artifacts, 20, 'cpu');
    sameKeys(fromPage, cpu);
    for (const k of Object.keys(cpu.tensors)) expect(relErr(fromPage.tensors[k].data, cpu.tensors[k].data), k).to.be.below(k.includes('.opt.') ? 1e-2 : 1e-3);
    // The download is the run's own checkpoint format: dropped into the run, `train --resume` goes on from it.
    writeFileSync(join(run, 'checkpoints', 'ckpt-000000060.safetensors'), readFileSync(fromPageFile));
    const logs: string[] = [];
    const res = await train(parseConfig({ loss: 'wgan-gp', hidden: [32, 32], batch: 64, iterations: 61, checkpointEvery: 20, evalSamples: 100, out: run }), { resume: true, log: (m) => logs.push(m) });
    expect(logs.join('\n')).to.match(/resuming from .*ckpt-000000060\.safetensors at iteration 60/);
    expect(res.iterations).to.equal(61);
    // ... and the downloaded file exports on its own, as any checkpoint file does.
    const exported = await exportRun(fromPageFile, { out: join(tmp, 'from-page') });
    expect(exported.iteration).to.equal(60);
    expect(fromBytes(readFileSync(join(tmp, 'from-page', 'generator.onnx'))).metadata.step).to.equal('60');
  });

  it('keeps training NS-GAN from artifacts chosen as files: 20 iterations in the tab equal onnxruntime-node CPU within 1e-4', async () => {
    const dir = join(tmp, 'ns', 'export', 'training');
    const names = ['artifacts.json', 'critic_step.onnx', 'generator_step.onnx', 'sampler.onnx', 'checkpoint.safetensors', 'config.json'];
    await page.setInputFiles('#artifacts-files', names.map((n) => join(dir, n)));
    await page.waitForFunction(() => /loaded chosen files: ns on ring8/.test(document.getElementById('train-status')!.textContent!));
    const { ckpt: fromPage } = await trainInTab(20);
    const cpu = await inNode(dir, 20, 'cpu');
    sameKeys(fromPage, cpu);
    for (const k of Object.keys(cpu.tensors)) expect(relErr(fromPage.tensors[k].data, cpu.tensors[k].data), k).to.be.below(1e-4);
  });

  it('trains in a worker: the status shows speed and time left while training, Pause stops mid-run, the page draws frames meanwhile', async () => {
    const start = (await onnxGan()).training.iteration;
    await page.fill('#train-for', '1000000');
    await page.click('#train');
    await page.waitForFunction(() => /iteration \d+ of 1000060, [\d.]+ it\/s, .+ left \(training\)/.test(document.getElementById('train-status')!.textContent!));
    expect(await page.isVisible('#train-progress')).to.equal(true);
    await page.waitForFunction((s) => (globalThis as any).onnxGan.training.iteration > s + 5, start);
    await page.click('#pause');
    await page.waitForFunction(() => !(globalThis as any).onnxGan.training.running);
    const st = await onnxGan();
    expect(st.training.iteration).to.be.above(start + 5).and.below(start + 1000000);
    expect(st.training.lastRun.iterations).to.equal(st.training.iteration - start);
    expect(st.training.frames.count, 'frames drawn while the worker trained').to.be.above(0);
    expect(await page.isVisible('#train-progress')).to.equal(false);
    expect(await page.textContent('#train-status')).to.match(new RegExp(`iteration ${st.training.iteration} \\(paused\\)`));
  });

  it('?threads=N sets the trainer\'s WASM threads (the page is cross-origin isolated); a bad N is one line', async () => {
    const other = await opened.browser.newPage();
    try {
      await other.goto(`${opened.server.pageUrl}&threads=3`);
      await other.waitForSelector('body[data-ready=true]');
      await other.waitForFunction(() => (globalThis as any).onnxGan.training);
      expect(await other.evaluate(() => crossOriginIsolated)).to.equal(true);
      expect(await other.textContent('#backend')).to.match(/training: WASM \(.+\), 3 threads$/);
      await other.goto(`${opened.server.pageUrl}&threads=0`);
      await other.waitForSelector('body[data-ready=true]');
      expect(await other.textContent('#error')).to.equal('?threads=0: a whole number of threads from 1 to 64');
    } finally {
      await other.close();
    }
  });

  describe('bad input gets one line on the page, naming what is wrong; what was loaded keeps working', () => {
    const write = (name: string, bytes: Uint8Array) => {
      const p = join(tmp, name);
      writeFileSync(p, bytes);
      return p;
    };
    const model = (build: (g: Graph) => void) => {
      const g = new Graph('m');
      build(g);
      return toBytes(g);
    };
    const errorAfter = async (selector: string, files: string | string[]) => {
      const before = (await onnxGan()).errors.length;
      await page.setInputFiles(selector, files);
      await page.waitForFunction((n) => (globalThis as any).onnxGan.errors.length > n, before);
      const text = (await page.textContent('#error'))!;
      expect(text.split('\n')).to.have.length(1);
      expect(await page.isVisible('#error')).to.equal(true);
      return text;
    };

    it('a truncated .onnx file', async () => {
      const p = join(tmp, 'generator-cut.onnx');
      cpSync(join(run, 'export', 'generator.onnx'), p);
      truncateSync(p, 300);
      expect(await errorAfter('#generator-file', p)).to.match(/^generator-cut\.onnx: not a valid ONNX model/);
      // The generator loaded before is still the one shown.
      expect((await onnxGan()).generator.name).to.equal('generator.onnx');
    });
    it('a model with two outputs, and one whose input is not float, as a generator', async () => {
      const two = write('two-out.onnx', model((g) => {
        const x = g.input('z', 'float32', ['N', 2]);
        g.output(o.tanh(x), 'a');
        g.output(o.sigmoid(x), 'b');
      }));
      expect(await errorAfter('#generator-file', two)).to.equal('two-out.onnx: a generator needs exactly one output, this model has 2');
      const intIn = write('int-in.onnx', model((g) => g.output(o.cast(g.input('z', 'int64', ['N', 4]), 'float32'), 'y')));
      expect(await errorAfter('#generator-file', intIn)).to.equal("int-in.onnx: the generator's input 'z' must be float, it is int64");
    });
    it('a checkpoint from another model', async () => {
      const other = join(tmp, 'other');
      await train(parseConfig({ loss: 'wgan-gp', hidden: [16, 16], batch: 64, iterations: 10, checkpointEvery: 10, evalSamples: 100, out: other }));
      const before = (await onnxGan()).training.iteration;
      const text = await errorAfter('#checkpoint-file', join(other, 'checkpoints', 'ckpt-000000010.safetensors'));
      expect(text).to.equal('ckpt-000000010.safetensors: written by a different model or settings than this run\'s (loss: "wgan-gp" there, "ns" here)');
      expect((await onnxGan()).training.iteration).to.equal(before); // the run trained in the tab, unchanged
    });
    it('artifacts too large for a tab\'s WASM memory: refused before any session opens, naming the largest batch that fits', async () => {
      const dir = join(tmp, 'huge-artifacts');
      mkdirSync(dir);
      // An MLP at batch 300,000: its step programs are only shapes, nothing that size is ever allocated.
      const plan = new StepCompiler(mlpGan({ loss: 'wgan-gp', batch: 300_000 })).plan();
      const net = (n: 'G' | 'D') => ({ params: new Float32Array(plan.nets[n].size), slots: plan.nets[n].slots.map(() => new Float32Array(plan.nets[n].size)), step: 0, lr: 1e-4 });
      const info = { config: '{}', slots: { G: plan.nets.G.slots, D: plan.nets.D.slots }, states: [] };
      const files = packArtifacts(plan, { iteration: 0, G: net('G'), D: net('D'), states: {} }, info, { producer: 'test', data: 'ring8', seed: 0, schedule: { base: 5, wgan: false }, config: { loss: 'wgan-gp', batch: 300_000 } });
      for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
      const text = await errorAfter('#artifacts-files', Object.keys(files).map((n) => join(dir, n)));
      expect(text).to.match(/^these settings do not fit: training needs about \d+(\.\d)? GiB \(.*activations \d+(\.\d)? GiB.*batch 300000.*\), a tab has 4\.0 GiB of WASM memory: batch (\d+) or less fits these models \(estimated\)$/);
      const most = Number(/batch (\d+) or less/.exec(text)![1]);
      expect(most).to.be.above(1000).and.below(300_000);
    });
    it('artifacts with a truncated step graph', async () => {
      const dir = join(tmp, 'bad-artifacts');
      cpSync(join(run, 'export', 'training'), dir, { recursive: true });
      truncateSync(join(dir, 'generator_step.onnx'), 400);
      const names = ['artifacts.json', 'critic_step.onnx', 'generator_step.onnx', 'sampler.onnx', 'checkpoint.safetensors', 'config.json'];
      expect(await errorAfter('#artifacts-files', names.map((n) => join(dir, n)))).to.match(/^chosen files\/generator_step\.onnx: not a valid ONNX model/);
      await page.screenshot({ path: join(SHOTS, 'browser-error.png') });
      expect(pageErrors, pageErrors.join('; ')).to.deep.equal([]);
    });
  });

  describe('an image GAN (DCGAN on Fashion-MNIST)', () => {
    let img: string;
    before(async function () {
      if (!existsSync(join(FASHION_MNIST_DIR, 'train-images-idx3-ubyte.gz'))) {
        if (process.env.ONNX_GAN_REQUIRE_BROWSER) throw new Error(`no Fashion-MNIST in ${FASHION_MNIST_DIR} (apt-get install dataset-fashion-mnist)`);
        console.log(`    (skipped: no Fashion-MNIST in ${FASHION_MNIST_DIR})`);
        this.skip();
      }
      img = join(tmp, 'fmnist');
      await train(parseConfig({ data: 'fashion-mnist', loss: 'ns', width: 8, batch: 16, latent: 16, iterations: 4, checkpointEvery: 2, sampleEvery: 2, out: img }));
      await exportRun(img);
    });

    it('shows the exported generator\'s samples as an image grid, equal to onnxruntime-node (1e-5)', async () => {
      const before = (await onnxGan()).errors.length;
      await page.setInputFiles('#generator-file', join(img, 'export', 'generator.onnx'));
      await page.waitForFunction(() => (globalThis as any).onnxGan.generator?.shape?.length === 3);
      const st = await onnxGan();
      expect(st.errors.length).to.equal(before);
      expect(st.generator.shape).to.deep.equal([1, 28, 28]);
      const z = Rng.stream(0, 'page-samples').fillNormal(new Float32Array(56 * 16));
      const s = await rt.createSession(readFileSync(join(img, 'export', 'generator.onnx')));
      const want = (await s.run({ z: { dtype: 'float32', dims: [56, 16], data: z } })).samples.data as Float32Array;
      await s.release();
      expectClose(st.generator.samples, want, 1e-5, 1e-6, 'page image samples vs node');
      expect(await page.textContent('#sample-info')).to.match(/z \[N, 16\] -> \[N, 1,28,28\]; 56 samples shown · loss ns · data fashion-mnist · step 4/);
      // The legend explains images now, not dots and rings.
      expect(await page.isVisible('#sample-section [data-kind="images"]')).to.equal(true);
      expect(await page.isVisible('#sample-section [data-kind="points"]')).to.equal(false);
      await page.screenshot({ path: join(SHOTS, 'browser-images.png') });
    });

    it('keeps training the image GAN (batch norm running statistics as state) in the tab: 3 iterations equal onnxruntime-node CPU within 1e-4', async () => {
      const dir = join(img, 'export', 'training');
      const names = ['artifacts.json', 'critic_step.onnx', 'generator_step.onnx', 'sampler.onnx', 'checkpoint.safetensors', 'config.json'];
      await page.setInputFiles('#artifacts-files', names.map((n) => join(dir, n)));
      // The images come from the page's server (/data/fashion-mnist/, Debian's package).
      await page.waitForFunction(() => /loaded chosen files: ns on fashion-mnist/.test(document.getElementById('train-status')!.textContent!));
      expect(await page.isVisible('#train-section [data-kind="points"]')).to.equal(false);
      const { ckpt: fromPage } = await trainInTab(3);
      const cpu = await inNode(dir, 3, 'cpu');
      sameKeys(fromPage, cpu);
      expect(Object.keys(cpu.tensors).filter((k) => k.includes('running_mean'))).to.have.length(2);
      const worst = Math.max(...Object.keys(cpu.tensors).map((k) => relErr(fromPage.tensors[k].data, cpu.tensors[k].data)));
      console.log(`      image GAN, tab vs node CPU after 3 iterations: max relative difference ${worst.toExponential(1)}`);
      for (const k of Object.keys(cpu.tensors)) expect(relErr(fromPage.tensors[k].data, cpu.tensors[k].data), k).to.be.below(1e-4);
      await page.screenshot({ path: join(SHOTS, 'browser-images-training.png') });
    });

    it('a class-conditional generator: the picker lists its classes and the samples are those of the picked class (onnxruntime-node, 1e-5); its artifacts keep training in the tab with the labels from the server', async () => {
      const cond = join(tmp, 'fmnist-cond');
      await train(parseConfig({ data: 'fashion-mnist', loss: 'sngan', conditional: 'projection', nCritic: 1, width: 8, batch: 16, latent: 16, iterations: 4, checkpointEvery: 2, sampleEvery: 2, out: cond }));
      await exportRun(cond);
      await page.setInputFiles('#generator-file', join(cond, 'export', 'generator.onnx'));
      await page.waitForFunction(() => (globalThis as any).onnxGan.generator?.classes?.length === 10);
      expect(await page.isVisible('#class-picker')).to.equal(true);
      await page.selectOption('#class', '7');
      await page.waitForFunction(() => (globalThis as any).onnxGan.generator.picked === 7);
      const st = await onnxGan();
      expect(st.generator.classes[7]).to.equal('Sneaker');
      const z = Rng.stream(0, 'page-samples').fillNormal(new Float32Array(56 * 16));
      const s = await rt.createSession(readFileSync(join(cond, 'export', 'generator.onnx')));
      const want = (await s.run({ z: { dtype: 'float32', dims: [56, 16], data: z }, label: { dtype: 'int64', dims: [56], data: new BigInt64Array(56).fill(7n) } })).samples.data as Float32Array;
      await s.release();
      expectClose(st.generator.samples, want, 1e-5, 1e-6, 'page samples of class 7 vs node');

      const dir = join(cond, 'export', 'training');
      const names = ['artifacts.json', 'critic_step.onnx', 'generator_step.onnx', 'sampler.onnx', 'checkpoint.safetensors', 'config.json'];
      await page.setInputFiles('#artifacts-files', names.map((n) => join(dir, n)));
      await page.waitForFunction(() => /loaded chosen files: sngan on fashion-mnist/.test(document.getElementById('train-status')!.textContent!));
      const { ckpt: fromPage } = await trainInTab(2);
      // The preview has a column of class names at its left: paper there (transparent), not image pixels.
      const clear = await page.evaluate(() => {
        const c = document.getElementById('train-samples') as HTMLCanvasElement;
        const d = c.getContext('2d')!.getImageData(0, 0, 4, c.height).data;
        let n = 0;
        for (let i = 3; i < d.length; i += 4) n += d[i] === 0 ? 1 : 0;
        return n / (d.length / 4);
      });
      expect(clear).to.be.above(0.9);
      const cpu = await inNode(dir, 2, 'cpu');
      sameKeys(fromPage, cpu);
      for (const k of Object.keys(cpu.tensors)) expect(relErr(fromPage.tensors[k].data, cpu.tensors[k].data), k).to.be.below(1e-4);
      await page.screenshot({ path: join(SHOTS, 'browser-conditional.png') });
      // A plain generator hides the picker again.
      await page.setInputFiles('#generator-file', join(img, 'export', 'generator.onnx'));
      await page.waitForFunction(() => (globalThis as any).onnxGan.generator?.classes?.length === 0);
      expect(await page.isVisible('#class-picker')).to.equal(false);
    });
  });
});
