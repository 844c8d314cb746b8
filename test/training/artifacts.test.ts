// Training artifacts (<run>/export/training): `onnx-gan continue` keeps training from them in Node and
// lands where the uninterrupted run does; damaged artifacts are refused with one line naming the file.
import { expect } from 'chai';
import { cpSync, mkdtempSync, readFileSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArtifactsError, loadArtifacts, packArtifacts } from '../../training/artifacts.ts';
import { decodeSafetensors } from '../../training/checkpoint.ts';
import { mlpGan } from '../../training/gan-pairs.ts';
import { StepCompiler } from '../../training/step.ts';
import { cli, relErr } from '../helpers.ts';

const SMALL = ['--loss', 'sngan', '--hidden', '32,32', '--batch', '64', '--eval-samples', '100', '--checkpoint-every', '30'];


describe('training artifacts (Node)', function () {
  this.timeout(180000);
  let tmp: string;
  let art: string;
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), 'onnx-gan-artifacts-'));
    for (const [name, its] of [['full', '60'], ['half', '30']]) {
      const r = cli(['train', ...SMALL, '--iterations', its, '--out', join(tmp, name)]);
      if (r.code !== 0) throw new Error(r.err);
    }
    const e = cli(['export', join(tmp, 'half')]);
    if (e.code !== 0) throw new Error(e.err);
    art = join(tmp, 'half', 'export', 'training');
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('export writes one directory: step graphs, sampler, checkpoint, config and the manifest', () => {
    const manifest = JSON.parse(readFileSync(join(art, 'artifacts.json'), 'utf8'));
    expect(manifest.format).to.equal('onnx-gan-artifacts/2');
    // Each program's signature as the compiler wrote it: every input and output with its role.
    const roles = (side: { role: string; name: string }[]) => side.map((x) => x.role);
    expect(roles(manifest.programs.critic.inputs)).to.include.members(['param', 'slot', 'counter', 'lr', 'state', 'data', 'random']);
    expect(manifest.programs.critic.outputs.filter((x: { role: string }) => x.role === 'log').map((x: { log: string }) => x.log)).to.include('D.loss');
    expect(manifest.programs.sampler.outputs.map((x: { role: string }) => x.role)).to.deep.equal(['output']);
    // SN-GAN's power-iteration vectors are carried state: listed, and in the checkpoint.
    expect(manifest.states.length).to.be.greaterThan(0);
    const ck = decodeSafetensors(readFileSync(join(art, 'checkpoint.safetensors')));
    expect(ck.metadata.iteration).to.equal('30');
    for (const s of manifest.states) expect(ck.tensors[`state.${s.name}`], s.name).to.not.equal(undefined);
    expect(JSON.parse(readFileSync(join(art, 'config.json'), 'utf8')).loss).to.equal('sngan');
  });

  it('continue from the artifacts reaches the uninterrupted run (30 + 30 vs 60 iterations, rel 1e-5)', () => {
    const dir = join(tmp, 'cont');
    cpSync(art, dir, { recursive: true });
    const r = cli(['continue', dir, '--iterations', '30', '--json']);
    expect(r.code, r.err).to.equal(0);
    expect(JSON.parse(r.out).iteration).to.equal(60);
    const got = decodeSafetensors(readFileSync(join(dir, 'checkpoint.safetensors')));
    const want = decodeSafetensors(readFileSync(join(tmp, 'full', 'checkpoints', 'ckpt-000000060.safetensors')));
    expect(Object.keys(got.tensors).sort()).to.deep.equal(Object.keys(want.tensors).sort());
    // The run trains 10 iterations per Loop, continue one step per run: equal up to float rounding.
    for (const k of Object.keys(want.tensors)) expect(relErr(got.tensors[k].data, want.tensors[k].data), k).to.be.below(1e-5);
    expect(got.metadata['G.step']).to.equal(want.metadata['G.step']);
  });

  describe('refuses damaged artifacts with one line naming the file; the checkpoint is untouched', () => {
    const damaged = (name: string, harm: (dir: string) => void) => {
      const dir = join(tmp, name);
      cpSync(art, dir, { recursive: true });
      harm(dir);
      return dir;
    };
    const refused = (dir: string, pattern: RegExp) => {
      const before = readFileSync(join(dir, 'checkpoint.safetensors'));
      const r = cli(['continue', dir, '--iterations', '2']);
      expect(r.code).to.equal(1);
      expect(r.err.trim().split('\n'), r.err).to.have.length(1);
      expect(r.err).to.match(pattern);
      expect(readFileSync(join(dir, 'checkpoint.safetensors')).equals(before)).to.equal(true);
    };
    it('a truncated step graph', () => {
      const dir = damaged('trunc', (d) => truncateSync(join(d, 'critic_step.onnx'), 500));
      refused(dir, /critic_step\.onnx: not a valid ONNX model/);
    });
    it('a missing file', () => refused(damaged('missing', (d) => unlinkSync(join(d, 'sampler.onnx'))), /cannot read sampler\.onnx: ENOENT/));
    it('a manifest with a wrong field', () =>
      refused(damaged('manifest', (d) => {
        const m = JSON.parse(readFileSync(join(d, 'artifacts.json'), 'utf8'));
        m.nets.G.size = 'big';
        writeFileSync(join(d, 'artifacts.json'), JSON.stringify(m));
      }), /artifacts\.json: 'nets\.G\.size'/));
    it('step graphs of another model than the manifest says', () =>
      refused(damaged('other-graph', (d) => {
        const m = JSON.parse(readFileSync(join(d, 'artifacts.json'), 'utf8'));
        m.programs.critic.inputs.find((x: { name: string }) => x.name === 'D.params').shape[0] += 1;
        writeFileSync(join(d, 'artifacts.json'), JSON.stringify(m));
      }), /critic_step\.onnx: input D\.params has shape \[\d+\], the signature says \[\d+\]/));
    it('a manifest whose network sizes disagree with its programs', () =>
      refused(damaged('other-size', (d) => {
        const m = JSON.parse(readFileSync(join(d, 'artifacts.json'), 'utf8'));
        m.nets.D.size += 1;
        writeFileSync(join(d, 'artifacts.json'), JSON.stringify(m));
      }), /artifacts\.json: nets\.D\.size is \d+, critic_step\.onnx takes D\.params of \d+/));
    it('a checkpoint from another model', () => {
      const other = join(tmp, 'other');
      const r = cli(['train', '--loss', 'wgan-gp', '--hidden', '16,16', '--batch', '64', '--iterations', '10', '--checkpoint-every', '10', '--eval-samples', '100', '--out', other]);
      expect(r.code, r.err).to.equal(0);
      refused(damaged('foreign', (d) => cpSync(join(other, 'checkpoints', 'ckpt-000000010.safetensors'), join(d, 'checkpoint.safetensors'))), /checkpoint\.safetensors: written by a different model/);
    });
  });
});

describe('training/artifacts: pack and load', () => {
  const compiler = new StepCompiler(mlpGan({ loss: 'fisher', hidden: [8], batch: 16 }));
  const plan = compiler.plan();
  const info = { config: '{"loss":"fisher"}', slots: { G: plan.nets.G.slots, D: plan.nets.D.slots }, states: [{ name: 'fisher.lambda', size: 1 }] };
  const net = (n: 'G' | 'D') => ({ params: Float32Array.from({ length: plan.nets[n].size }, (_, i) => i / 100), slots: plan.nets[n].slots.map(() => new Float32Array(plan.nets[n].size)), step: 4, lr: 2e-4 });
  const state = { iteration: 4, G: net('G'), D: net('D'), states: { 'fisher.lambda': Float32Array.from([0.25]) } };
  const files = packArtifacts(plan, state, info, { producer: 'test', data: 'ring8', seed: 1, schedule: { base: 2, wgan: false }, config: { loss: 'fisher' } });
  const reader = (over: Record<string, Uint8Array> = {}) => async (f: string) => {
    const b = over[f] ?? files[f];
    if (!b) throw Object.assign(new Error('missing'), { code: 'ENOENT' });
    return b;
  };

  it('what is packed loads back: the same programs, signatures, state and config', async () => {
    const a = await loadArtifacts(reader());
    expect(a.plan.critic.signature).to.deep.equal(plan.critic.signature);
    expect(Buffer.compare(Buffer.from(a.plan.sampler.model), Buffer.from(plan.sampler.model))).to.equal(0);
    expect(a.state.iteration).to.equal(4);
    expect(Array.from(a.state.G.params)).to.deep.equal(Array.from(state.G.params));
    expect(a.state.states['fisher.lambda'][0]).to.equal(0.25);
    expect(a.config).to.deep.equal({ loss: 'fisher' });
    expect(a.manifest.schedule).to.deep.equal({ base: 2, wgan: false });
  });

  it('a program that is not the one its manifest describes is refused, naming both files', async () => {
    const e = await loadArtifacts(reader({ 'critic_step.onnx': files['generator_step.onnx'] }), 'art').then(() => null, (x: Error) => x);
    expect(e).to.be.instanceOf(ArtifactsError);
    expect(e!.message).to.match(/^art\/critic_step\.onnx: .*\(artifacts\.json describes another program\)$/);
  });

  it('lazy regularization: the critic program without the penalty travels as critic_step_lazy.onnx, with its period', async () => {
    const setup = mlpGan({ loss: 'ns', penalty: 'r1', hidden: [8], batch: 16 });
    setup.penaltyEvery = 4;
    const lazyPlan = new StepCompiler(setup).plan();
    const lazyInfo = { config: '{"loss":"ns"}', slots: { G: lazyPlan.nets.G.slots, D: lazyPlan.nets.D.slots }, states: [] };
    const lnet = (n: 'G' | 'D') => ({ params: new Float32Array(lazyPlan.nets[n].size), slots: lazyPlan.nets[n].slots.map(() => new Float32Array(lazyPlan.nets[n].size)), step: 0, lr: 2e-4 });
    const packed = packArtifacts(lazyPlan, { iteration: 0, G: lnet('G'), D: lnet('D'), states: {} }, lazyInfo, { producer: 'test', data: 'ring8', seed: 1, schedule: { base: 1, wgan: false }, config: { loss: 'ns' } });
    expect(Object.keys(packed)).to.include('critic_step_lazy.onnx');
    const read = (drop?: string) => async (f: string) => {
      if (f === drop || !packed[f]) throw Object.assign(new Error('missing'), { code: 'ENOENT' });
      return packed[f];
    };
    const a = await loadArtifacts(read());
    expect(a.plan.lazy?.every).to.equal(4);
    expect(a.plan.lazy?.critic.signature).to.deep.equal(lazyPlan.lazy!.critic.signature);
    const e = await loadArtifacts(read('critic_step_lazy.onnx'), 'art').then(() => null, (x: Error) => x);
    expect(e!.message).to.equal('art: cannot read critic_step_lazy.onnx: ENOENT');
    // A period that is no period is refused by the manifest's schema, naming the field.
    const manifest = JSON.parse(new TextDecoder().decode(packed['artifacts.json']));
    manifest.lazy.every = 1;
    const bad: Record<string, Uint8Array> = { ...packed, 'artifacts.json': new TextEncoder().encode(JSON.stringify(manifest)) };
    const e2 = await loadArtifacts(async (f) => bad[f], 'art').then(() => null, (x: Error) => x);
    expect(e2!.message).to.match(/^art\/artifacts\.json: 'lazy\.every': /);
  });
});
