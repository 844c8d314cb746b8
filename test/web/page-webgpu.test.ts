// The page training on WebGPU: headless chromium with --enable-unsafe-webgpu has an adapter (SwiftShader
// on a machine without a GPU), so the page trains there, its parameters and optimizer state in GPU
// buffers; the checkpoint it downloads matches onnxruntime-node's CPU path and keeps training in Node.
import { expect } from 'chai';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { continueArtifacts } from '../../run/continue.ts';
import { parseConfig } from '../../run/config.ts';
import { exportRun } from '../../run/export.ts';
import { train } from '../../run/train.ts';
import { decodeSafetensors } from '../../training/checkpoint.ts';
import { needChromium, openPage, type OpenPage } from '../browser-page.ts';
import { expectAgrees } from '../helpers.ts';

describe('web page training on WebGPU in Chromium', function () {
  this.timeout(300_000);
  let tmp: string;
  let run: string;
  let opened: OpenPage;
  let page: Page;
  const onnxGan = () => opened.state();

  before(async function () {
    needChromium(this);
    tmp = mkdtempSync(join(tmpdir(), 'onnx-gan-web-gpu-'));
    run = join(tmp, 'run');
    await train(parseConfig({ loss: 'ns', hidden: [32, 32], batch: 64, iterations: 10, checkpointEvery: 10, evalSamples: 100, out: run }));
    await exportRun(run, {});
    // The GPU process and WebGPU on: SwiftShader's Vulkan where no GPU is.
    opened = await openPage(run, ['--enable-unsafe-webgpu']);
    page = opened.page;
  });
  after(async () => {
    await opened?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  /** Node continuing `n` iterations from a copy of the artifacts, from `checkpoint` if given. */
  async function inNode(n: number, checkpoint?: string) {
    const copy = mkdtempSync(join(tmp, 'node-'));
    cpSync(join(run, 'export', 'training'), copy, { recursive: true });
    if (checkpoint) cpSync(checkpoint, join(copy, 'checkpoint.safetensors'));
    await continueArtifacts(copy, { iterations: n, ep: 'cpu' });
    return decodeSafetensors(readFileSync(join(copy, 'checkpoint.safetensors')));
  }

  it('trains 5 iterations on WebGPU; the downloaded checkpoint agrees with the CPU and continues in Node', async () => {
    const st = await onnxGan();
    expect(st.errors, st.errors.join('; ')).to.deep.equal([]);
    expect(st.trainingBackend, (await page.textContent('#backend')) ?? '').to.equal('web-webgpu');
    expect(await page.textContent('#backend')).to.equal('sampling: WebGPU · training: WebGPU');
    expect(st.training.iteration).to.equal(10);

    await page.fill('#train-for', '5');
    await page.click('#train');
    await page.waitForFunction(() => { const t = (globalThis as any).onnxGan.training; return t.iteration >= 15 && !t.running; }, null, { timeout: 240_000 });
    const after = await onnxGan();
    expect(after.errors, after.errors.join('; ')).to.deep.equal([]);
    expect(after.trainingBackend, 'still on WebGPU after training').to.equal('web-webgpu');
    expect(Object.values(after.training.losses).every((v) => Number.isFinite(v as number))).to.equal(true);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    expect(download.suggestedFilename()).to.equal('ckpt-000000015.safetensors');
    const file = (await download.path())!;
    const fromPage = decodeSafetensors(readFileSync(file));
    expect(fromPage.metadata.iteration).to.equal('15');

    // The same 5 iterations on onnxruntime-node's CPU provider (NS-GAN: 5 critic and 5 generator updates).
    const cpu = await inNode(5);
    expect(Object.keys(fromPage.tensors).sort()).to.deep.equal(Object.keys(cpu.tensors).sort());
    for (const n of ['G', 'D']) {
      expect(fromPage.metadata[`${n}.step`]).to.equal(cpu.metadata[`${n}.step`]);
      const worst = expectAgrees(cpu.tensors[`${n}.params`].data, fromPage.tensors[`${n}.params`].data, Number(cpu.metadata[`${n}.lr`]), 5, `tab vs node ${n}.params`);
      console.log(`      ${n}.params, tab on WebGPU vs node CPU after 5 iterations: largest difference ${worst.toExponential(1)} of their scale`);
    }

    // The download keeps training in Node, and lands where 10 straight CPU iterations do.
    const continued = await inNode(5, file);
    expect(continued.metadata.iteration).to.equal('20');
    const straight = await inNode(10);
    for (const n of ['G', 'D']) expectAgrees(straight.tensors[`${n}.params`].data, continued.tensors[`${n}.params`].data, Number(straight.metadata[`${n}.lr`]), 10, `tab then node vs node ${n}.params`);
    expect(opened.pageErrors, opened.pageErrors.join('; ')).to.deep.equal([]);
  });
});
