// The benchmark and profile commands on the small MLP setup: what they print is real and machine-readable.
// (Speed itself is measured by `npm run bench` on an idle machine, never asserted in a test.)
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const TSX = fileURLToPath(new URL('../node_modules/.bin/tsx', import.meta.url));
const script = (name: string, args: string[]) => {
  const r = spawnSync(TSX, [fileURLToPath(new URL(`../bench/${name}`, import.meta.url)), ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

describe('npm run profile and npm run bench', function () {
  this.timeout(120_000);

  it('profile: per-program node counts, op types with their share and GFLOP/s, time outside the graph, page faults', () => {
    const r = script('profile.ts', ['mlp', '--iters', '2', '--json']);
    expect(r.code, r.err).to.equal(0);
    const j = JSON.parse(r.out.trim().split('\n').pop()!);
    expect(j.programs.map((p: { program: string }) => p.program)).to.deep.equal(['critic_step', 'generator_step']);
    for (const p of j.programs) {
      expect(p.nodes).to.be.greaterThan(20);
      expect(p.runs).to.equal(p.program === 'critic_step' ? 10 : 2);
      expect(p.graphMs).to.be.greaterThan(0);
      const shares = p.ops.reduce((a: number, x: { share: number }) => a + x.share, 0);
      expect(shares).to.be.closeTo(1, 1e-6);
      const gemm = p.ops.find((x: { op: string }) => /Gemm|MatMul/.test(x.op));
      expect(gemm.gflops, 'matrix products have a FLOP rate').to.be.greaterThan(0.1);
      expect(p.heavy.length).to.be.greaterThan(0);
      expect(p.faultsPerRun).to.be.a('number').and.at.least(0);
    }
    expect(j.warmup).to.equal(3);
  });

  it('bench: every row and the best-vs-best ratio in --json; bad names refused in one line', () => {
    const r = script('run.ts', ['mlp', '--iters', '3', '--warmup', '1', '--threads', '1', '--no-peer', '--json']);
    expect(r.code, r.err).to.equal(0);
    const j = JSON.parse(r.out.trim().split('\n').pop()!);
    expect(j.rows.map((x: { name: string }) => x.name)).to.deep.equal(['onnx-gan, fused x10', 'onnx-gan, one run per step']);
    for (const row of j.rows) expect(row.steps_per_s).to.be.greaterThan(0);
    expect(j.best.onnx_gan.steps_per_s).to.equal(Math.max(...j.rows.map((x: { steps_per_s: number }) => x.steps_per_s)));
    expect(j.ratios.best_vs_best).to.equal(null);
    const two = JSON.parse(script('run.ts', ['mlp', '--iters', '3', '--warmup', '1', '--threads', '2', '--no-peer', '--json']).out.trim().split('\n').pop()!);
    expect(two.rows.map((x: { name: string; threads: number }) => `${x.name} @${x.threads}`)).to.deep.equal(['onnx-gan, fused x10 @2', 'onnx-gan, one run per step @2', 'onnx-gan, 2 shards (processes) @2']);
    const bad = script('run.ts', ['vgg']);
    expect(bad.code).to.equal(1);
    expect(bad.err.trim()).to.equal('bench: unknown setup \'vgg\'; choose mlp, dcgan, resnet');
  });
});
