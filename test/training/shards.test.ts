// Data parallel (training/shards.ts): each step's batch split over forked processes, their gradients'
// mean applied here. Against one process on the same draws: equal up to float rounding with SGD (the
// update is linear in the gradient); with Adam, logs equal and parameters within a few lr (a parameter
// whose gradient is rounding noise takes a step of about lr either way).
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { dataset } from '../../data/mixtures.ts';
import { imageSet } from '../../data/images.ts';
import { nodeRuntime } from '../../runtime/node.ts';
import { messageDir } from '../../runtime/tensor-pipe.ts';
import { Trainer, type DataSource } from '../../training/trainer.ts';
import { Shards } from '../../training/shards.ts';
import { StepCompiler } from '../../training/step.ts';
import { webRuntime } from '../../runtime/web.ts';
import type { GanSetup } from '../../training/step.ts';
import { BIN, cli, relErr, rt } from '../helpers.ts';
import { dcganGan, mlpGan } from '../../training/gan-pairs.ts';

async function train(setup: GanSetup, shards: number, iterations: number, data: DataSource = dataset('ring8')) {
  const t = await Trainer.create({ setup, runtime: rt, data, seed: 3, nCritic: () => 2, threads: 1, shards });
  try {
    const state = t.initialState();
    const logs = [];
    for (let i = 0; i < iterations; i++) logs.push(await t.iteration(state));
    return { state, logs, canFuse: t.canFuse };
  } finally {
    await t.release();
  }
}
const forkDirs = () => readdirSync(messageDir()).filter((f) => f.startsWith('onnx-gan-fork-'));

describe('data parallel: shards in forked processes', function () {
  this.timeout(120_000);

  it('refuses a shard count the batch does not split into, and a runtime that cannot fork, before starting a process', async () => {
    const compiler = new StepCompiler(mlpGan({ loss: 'ns', hidden: [8], batch: 64 }));
    const plan = compiler.plan();
    const sigs = { D: plan.critic.signature, G: plan.generator.signature };
    const refused = (p: Promise<unknown>) => p.then(() => 'opened', (e: Error) => e.message);
    expect(await refused(Shards.open(compiler, sigs, 3, rt))).to.equal('shards 3: the batch (64) must split into equal shards');
    expect(await refused(Shards.open(compiler, sigs, 2, webRuntime()))).to.match(/^shards 2: the .* runtime cannot run shards in other processes/);
  });

  it('two and four shards give one process\'s SGD updates (WGAN-GP MLP, the penalty\'s double backward per shard)', async () => {
    const sgd = { name: 'sgd', lr: 1e-2 } as const;
    const setup: GanSetup = { ...mlpGan({ loss: 'wgan-gp', batch: 64 }), optD: sgd, optG: sgd };
    const one = await train(setup, 1, 3);
    for (const shards of [2, 4]) {
      const many = await train(setup, shards, 3);
      expect(many.canFuse, 'sharded steps run one at a time').to.equal(false);
      expect(many.state.iteration).to.equal(3);
      expect(relErr(many.state.D.params, one.state.D.params), `D, ${shards} shards`).to.be.below(1e-5);
      expect(relErr(many.state.G.params, one.state.G.params), `G, ${shards} shards`).to.be.below(1e-5);
      expect(many.state.D.step).to.equal(one.state.D.step);
      for (const [k, v] of Object.entries(one.logs[2].values)) expect(many.logs[2].values[k], k).to.be.closeTo(v, 1e-5 * Math.max(1, Math.abs(v)));
      expect(many.logs.every((l) => l.ok)).to.equal(true);
    }
  });

  it('with Adam: the same logs, parameters within a few learning rates', async () => {
    const setup = mlpGan({ loss: 'wgan-gp', batch: 64 });
    const [one, two] = [await train(setup, 1, 2), await train(setup, 2, 2)];
    const diff = one.state.D.params.reduce((m, v, i) => Math.max(m, Math.abs(v - two.state.D.params[i])), 0);
    expect(diff).to.be.below(4 * setup.optD.lr * one.state.D.step);
    for (const n of ['D', 'G'] as const) one.state[n].slots.forEach((s, j) => expect(relErr(two.state[n].slots[j], s), `${n} slot ${j}`).to.be.below(1e-3));
    for (const [k, v] of Object.entries(one.logs[1].values)) expect(two.logs[1].values[k], k).to.be.closeTo(v, 1e-4 * Math.max(1, Math.abs(v)));
  });

  it('batch norm normalizes each shard: the DCGAN generator\'s running statistics are the shards\' mean, close to one batch\'s', async () => {
    const images = imageSet('noise', [1, 28, 28], Uint8Array.from({ length: 200 * 784 }, (_, i) => (i * 7919) % 256));
    const setup = dcganGan({ loss: 'ns', image: [1, 28, 28], width: 8, batch: 16 });
    // One iteration: its generator step advances the running statistics from the same parameters.
    const [one, two] = [await train(setup, 1, 1, images), await train(setup, 2, 1, images)];
    const mean = Object.keys(one.state.states).find((k) => k.endsWith('running_mean'))!;
    const [a, b] = [one.state.states[mean], two.state.states[mean]];
    expect(relErr(b, a), 'running means: the mean of the shards\' means is the batch mean').to.be.below(1e-5);
    expect(two.logs.every((l) => l.ok)).to.equal(true);
    expect(relErr(two.state.G.params, one.state.G.params), 'per-shard batch statistics change the gradients a little').to.be.above(0);
  });

  it('refuses what it cannot split, naming it, and leaves no process or file behind', async () => {
    const before = forkDirs().length;
    const setup = mlpGan({ loss: 'wgan-gp', batch: 64 });
    let err = await Trainer.create({ setup, runtime: rt, data: dataset('ring8'), seed: 0, nCritic: () => 1, shards: 3 }).catch((e: Error) => e);
    expect((err as Error).message).to.equal('shards 3: the batch (64) must split into equal shards');
    err = await Trainer.create({ setup, runtime: nodeRuntime('webgpu'), data: dataset('ring8'), seed: 0, nCritic: () => 1, shards: 2 }).catch((e: Error) => e);
    expect((err as Error).message).to.match(/^shards 2: the node-webgpu runtime cannot run shards in other processes/);
    await train(setup, 2, 1);
    expect(forkDirs().length, 'message files removed with their process').to.equal(before);
  });

  it('a forked runtime reports its session errors as one line', async () => {
    const fork = await rt.fork!();
    try {
      const err = await fork.createSession(new Uint8Array([1, 2, 3])).catch((e: Error) => e);
      expect((err as Error).message).to.match(/could not create a session/);
      expect((err as Error).message).not.to.contain('\n');
    } finally {
      await fork.close();
    }
  });

  it('a SIGKILLed trainer leaves no shard process or message file behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onnx-gan-shards-'));
    const before = new Set(forkDirs());
    const mine = () => forkDirs().filter((d) => !before.has(d));
    const child = spawn(process.execPath, [BIN, 'train', '--iterations', '100000', '--shards', '2', '--out', join(dir, 'run')], { stdio: 'ignore' });
    try {
      for (let t = 0; mine().length < 2; t++) {
        if (t > 600) throw new Error('the shards did not start in 60 s');
        await sleep(100);
      }
      const started = mine();
      const running = () => spawnSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.includes('forked-runtime.js') && started.some((d) => l.includes(d)));
      expect(running()).to.have.length(2);
      await sleep(1000);
      child.kill('SIGKILL');
      for (let t = 0; mine().length > 0 || running().length > 0; t++) {
        if (t > 100) throw new Error(`10 s after the kill: files ${mine()}, processes ${running()}`);
        await sleep(100);
      }
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a lost shard process stops training with one line that names it and says how to resume', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onnx-gan-shards-'));
    const run = join(dir, 'run');
    const child = spawn(process.execPath, [BIN, 'train', '--iterations', '100000', '--shards', '2', '--checkpoint-every', '20', '--out', run], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      const ckpts = join(run, 'checkpoints');
      for (let t = 0; !(existsSync(ckpts) && readdirSync(ckpts).some((f) => f.endsWith('.safetensors'))); t++) {
        if (t > 600) throw new Error('no checkpoint in 60 s');
        await sleep(100);
      }
      const shard = spawnSync('ps', ['-eo', 'pid,ppid,args'], { encoding: 'utf8' }).stdout.split('\n').map((l) => l.trim().split(/\s+/)).find((f) => Number(f[1]) === child.pid && f.some((a) => a.endsWith('forked-runtime.js')));
      expect(shard, 'a shard process of this trainer').to.not.equal(undefined);
      process.kill(Number(shard![0]), 'SIGKILL');
      expect(await exited).to.equal(1);
      const lines = err.trim().split('\n');
      expect(lines[lines.length - 1]).to.match(/^onnx-gan: shard [12] of 2: forked runtime \(pid \d+\) ended \(SIGKILL\); the last checkpoint is .*ckpt-\d+\.safetensors: resume with onnx-gan train --resume --out /);
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('train --shards 2 trains and records it; --shards 0 is refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'onnx-gan-shards-'));
    try {
      const r = cli(['train', '--iterations', '30', '--shards', '2', '--out', join(dir, 'run'), '--json']);
      expect(r.code, r.err).to.equal(0);
      expect(JSON.parse(r.out.trim().split('\n').pop()!).iterations).to.equal(30);
      expect(JSON.parse(readFileSync(join(dir, 'run', 'config.json'), 'utf8')).shards).to.equal(2);
      const bad = cli(['train', '--iterations', '30', '--shards', '0', '--out', join(dir, 'bad')]);
      expect(bad.code).to.not.equal(0);
      expect(bad.err.trim().split('\n')).to.have.length(1);
      expect(bad.err).to.contain('shards');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
