// Training on onnxruntime-node's WebGPU provider. On a machine without a GPU it runs on SwiftShader, the
// CPU Vulkan driver Debian's chromium ships (test/webgpu-env.ts points the Vulkan loader at it): correct,
// not fast. Every node of the step graphs on WebGPU; parameters equal to the CPU path's within what float
// rounding and the mask flips it causes explain (expectAgrees); state on the device between runs;
// checkpoints that move between the providers.
import { SWIFTSHADER } from '../webgpu-env.ts';
import { expect } from 'chai';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dataset } from '../../data/mixtures.ts';
import { benchSetup } from '../../bench/cases.ts';
import { decodeSafetensors } from '../../training/checkpoint.ts';
import { nodeRuntime } from '../../runtime/node.ts';
import type { Runtime } from '../../runtime/runtime.ts';
import { carriedOutputs } from '../../training/device-state.ts';
import { feedsOf } from '../../training/signature.ts';
import type { GanSetup } from '../../training/step.ts';
import { Trainer, type DataSource, type TrainState } from '../../training/trainer.ts';
import { cli, expectAgrees } from '../helpers.ts';
import { mlpGan } from '../../training/gan-pairs.ts';

const gpu = nodeRuntime('webgpu');
const cpu = nodeRuntime('cpu');

/** The largest difference over the largest magnitude: rounding scales with the values, not each element. */
function scaledDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).to.equal(b.length);
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(a[i]));
  }
  return d / m;
}

async function trained(runtime: Runtime, setup: GanSetup, data: DataSource, nC: number, iterations: number, fuse = 0): Promise<TrainState> {
  const t = await Trainer.create({ setup, runtime, data, seed: 7, nCritic: () => nC, threads: 1 });
  try {
    const s = t.initialState();
    if (fuse) while (s.iteration < iterations) await t.fusedIterations(s, Math.min(fuse, iterations - s.iteration));
    else while (s.iteration < iterations) await t.iteration(s);
    await t.pull(s);
    return s;
  } finally {
    await t.release();
  }
}

describe('WebGPU provider (onnxruntime-node; SwiftShader where there is no GPU)', function () {
  this.timeout(600_000);

  it(`finds its adapter (VK_ICD_FILENAMES=${process.env.VK_ICD_FILENAMES ?? 'unset'})`, async () => {
    expect(gpu.device, 'state can stay on the device').to.equal(true);
    expect(gpu.loops, 'WebGPU has no Loop kernel').to.equal(false);
    expect(SWIFTSHADER.length).to.be.greaterThan(0);
  });

  it('places every node of the MLP, DCGAN and ResNet step graphs (and an unrolled fused program) on WebGPU', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onnx-gan-placement-'));
    try {
      for (const [name, b] of [['mlp', benchSetup('mlp')], ['dcgan', benchSetup('dcgan', { width: 8, batch: 8 })], ['resnet', benchSetup('resnet', { width: 8, batch: 4, loss: 'wgan-gp' })]] as const) {
        const t = await Trainer.create({ setup: b.setup, runtime: cpu, data: b.data, seed: 0, nCritic: () => b.nCritic, threads: 1 });
        const state = t.initialState();
        const c = t.compiler!;
        await t.release();
        const programs = [c.stepProgram('D'), c.stepProgram('G'), c.sampler(), ...(name === 'resnet' ? [] : [c.fusedProgram(2, b.nCritic, { unroll: true })])];
        for (const p of programs) {
          const what = `${name} ${p.signature.program}`;
          const s = await gpu.createSession(p.model, { profile: join(dir, what.replace(' ', '-')) });
          // Inputs other than the state: zeros of their shapes (free dimensions 3).
          const given = Object.fromEntries(p.signature.inputs.filter((x) => x.draw || x.role === 'input').map((x) => [x.name, new Float32Array(x.shape.reduce<number>((a, d) => a * (typeof d === 'number' ? d : 3), 1))]));
          await s.run(feedsOf(p.signature, state, given));
          s.endProfiling!();
          await s.release();
          const file = readdirSync(dir).find((f) => f.startsWith(what.replace(' ', '-')))!;
          const nodes = (JSON.parse(readFileSync(join(dir, file), 'utf8')) as { cat: string; name: string; args?: { provider?: string; op_name?: string } }[]).filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
          expect(nodes.length, `${what}: nodes that ran`).to.be.greaterThan(5);
          expect(nodes.filter((e) => e.args?.provider !== 'WebGpuExecutionProvider').map((e) => `${e.args?.op_name} ${e.name} on ${e.args?.provider}`), `${what}: nodes not on WebGPU`).to.deep.equal([]);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('MLP WGAN-GP: 5 iterations equal the CPU path within the mask-flip bound; fused (unrolled) equals one run per step', async () => {
    const setup = mlpGan({ loss: 'wgan-gp' });
    const ref = await trained(cpu, setup, dataset('ring8'), 5, 5);
    const steps = await trained(gpu, setup, dataset('ring8'), 5, 5);
    const fused = await trained(gpu, setup, dataset('ring8'), 5, 5, 5);
    for (const n of ['G', 'D'] as const) {
      // 5 iterations: 25 critic updates, 5 generator updates.
      expectAgrees(ref[n].params, steps[n].params, ref[n].lr, n === 'D' ? 25 : 5, `${n}.params`);
      expect(scaledDiff(steps[n].params, fused[n].params), `${n} fused vs per step`).to.be.at.most(1e-6);
      expect(steps[n].step).to.equal(ref[n].step);
    }
    // Training moved the parameters: the comparison is not between untouched states.
    expect(scaledDiff(ref.D.params, (await trained(cpu, setup, dataset('ring8'), 5, 0)).D.params)).to.be.greaterThan(1e-3);
  });

  for (const [name, make, nC] of [
    ['MLP non-saturating', () => ({ setup: mlpGan({ loss: 'ns' }), data: dataset('ring8') as DataSource }), 1],
    ['DCGAN-28 non-saturating (width 8)', () => { const b = benchSetup('dcgan', { width: 8 }); return { setup: b.setup, data: b.data as DataSource }; }, 1],
  ] as const) {
    it(`${name}: 5 iterations (fused, unrolled) equal the CPU path`, async () => {
      const { setup, data } = make();
      const ref = await trained(cpu, setup, data, nC, 5);
      const got = await trained(gpu, setup, data, nC, 5, 5);
      for (const n of ['G', 'D'] as const) expectAgrees(ref[n].params, got[n].params, ref[n].lr, 5 * (n === 'D' ? nC : 1), `${n}.params`);
    });
  }

  it('keeps parameters and optimizer state on the device between runs: the host holds empty stand-ins until pull()', async () => {
    const t = await Trainer.create({ setup: mlpGan({ loss: 'ns', hidden: [16, 16], batch: 32 }), runtime: gpu, data: dataset('ring8'), seed: 1, nCritic: () => 1, threads: 1 });
    try {
      expect(carriedOutputs(t.plan.critic.signature)).to.include.members(['D.params:new', 'D.opt.m:new', 'D.opt.v:new']);
      const s = t.initialState();
      const before = s.D.params.slice();
      for (let i = 0; i < 3; i++) await t.iteration(s);
      expect(s.D.params.length, 'D.params on the host').to.equal(0);
      expect(s.G.slots.every((x) => x.length === 0), 'G slots on the host').to.equal(true);
      expect(s.G.step, 'update counts travel').to.equal(3);
      await t.pull(s);
      expect(s.D.params.length).to.equal(before.length);
      expect(scaledDiff(before, s.D.params)).to.be.greaterThan(0);
      // After a pull the device copies stay current: training goes on from them.
      const pulled = s.D.params;
      await t.iteration(s);
      await t.pull(s);
      expect(s.D.params).to.not.equal(pulled);
      expect(s.iteration).to.equal(4);
    } finally {
      await t.release();
    }
  });

  describe('the CLI', () => {
    let dir: string;
    before(() => (dir = mkdtempSync(join(tmpdir(), 'onnx-gan-webgpu-'))));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const flags = ['--loss', 'wgan-gp', '--hidden', '32,32', '--batch', '64', '--checkpoint-every', '10', '--eval-samples', '200', '--json'];
    const train = (out: string, ep: string, iterations: number, resume = false) => {
      const r = cli(['train', ...flags, '--ep', ep, '--iterations', String(iterations), '--out', join(dir, out), ...(resume ? ['--resume'] : [])]);
      expect(r.code, r.err).to.equal(0);
    };
    const params = (out: string, it: number) => decodeSafetensors(new Uint8Array(readFileSync(join(dir, out, 'checkpoints', `ckpt-${String(it).padStart(9, '0')}.safetensors`)))).tensors;

    it('train --ep webgpu for 20 iterations lands within the mask-flip bound of --ep cpu; checkpoints resume across providers both ways', async () => {
      train('cpu', 'cpu', 20);
      train('gpu', 'webgpu', 20);
      train('gpu-then-cpu', 'webgpu', 10);
      train('gpu-then-cpu', 'cpu', 20, true);
      train('cpu-then-gpu', 'cpu', 10);
      train('cpu-then-gpu', 'webgpu', 20, true);
      const ref = params('cpu', 20);
      for (const run of ['gpu', 'gpu-then-cpu', 'cpu-then-gpu']) {
        const got = params(run, 20);
        for (const n of ['G', 'D']) {
          // 20 iterations of 5 critic updates and one generator update, Adam lr 1e-4 (WGAN-GP's paper).
          expectAgrees(ref[`${n}.params`].data, got[`${n}.params`].data, 1e-4, n === 'D' ? 100 : 20, `${run} ${n}.params`);
        }
      }
    });

    it('continue --ep webgpu keeps training from exported artifacts: 5 iterations agree with continue --ep cpu', () => {
      train('short', 'cpu', 10);
      expect(cli(['export', join(dir, 'short'), '--json']).code).to.equal(0);
      const got: Record<string, ReturnType<typeof params>> = {};
      for (const ep of ['cpu', 'webgpu']) {
        const copy = join(dir, `artifacts-${ep}`);
        cpSync(join(dir, 'short', 'export', 'training'), copy, { recursive: true });
        const r = cli(['continue', copy, '--iterations', '5', '--ep', ep, '--json']);
        expect(r.code, r.err).to.equal(0);
        const ckpt = decodeSafetensors(new Uint8Array(readFileSync(join(copy, 'checkpoint.safetensors'))));
        expect(ckpt.metadata.iteration, ep).to.equal('15');
        got[ep] = ckpt.tensors;
      }
      for (const n of ['G', 'D']) expectAgrees(got.cpu[`${n}.params`].data, got.webgpu[`${n}.params`].data, 1e-4, n === 'D' ? 25 : 5, `continued ${n}.params`);
    });

    it('says what is missing when WebGPU finds no adapter', () => {
      const r = cli(['train', '--ep', 'webgpu', '--iterations', '1', '--out', join(dir, 'none')], { VK_ICD_FILENAMES: '/nonexistent.json' });
      expect(r.code).to.not.equal(0);
      const line = r.err.split('\n').find((l) => l.includes('node-webgpu'));
      expect(line, r.err).to.match(/could not create a session: Failed to get a WebGPU adapter: No supported adapters; .*libvulkan1.*VK_ICD_FILENAMES=/);
      // Nothing was started, so nothing is left that a plain retry on the CPU would have to --force.
      const retry = cli(['train', '--iterations', '2', '--eval-samples', '10', '--out', join(dir, 'none')]);
      expect(retry.code, retry.err).to.equal(0);
    });
  });
});
