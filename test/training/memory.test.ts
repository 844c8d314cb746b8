// The memory estimate: the live-value walk on graphs whose answer is known by hand, and the estimate of
// whole runs against the peak resident memory measured by the bench's row processes (MLP, DCGAN, ResNet-32).
import { expect } from 'chai';
import { Graph } from '../../graph/ir.ts';
import * as o from '../../graph/ops.ts';
import { benchSetup } from '../../bench/cases.ts';
import { ours } from '../../bench/rows.ts';
import { checkFits, estimateMemory, peakLiveBytes } from '../../training/memory.ts';
import { StepCompiler } from '../../training/step.ts';

describe('training/memory', () => {
  it('peakLiveBytes: a chain holds two values at a time; a value read late stays live until its last reader', () => {
    const g = new Graph('chain');
    const x = g.input('x', 'float32', [100]);
    // relu(x) -> tanh -> sigmoid: at each node its input and output are live (400 + 400 bytes).
    g.output(o.sigmoid(o.tanh(o.relu(x))), 'y');
    expect(peakLiveBytes(g)).to.equal(800);

    const h = new Graph('late');
    const a = h.input('a', 'float32', [10]);
    const r = o.relu(a); // 40 bytes, read again by the last node
    const t = o.tanh(o.sigmoid(r)); // while these run, r stays live
    h.output(o.add(r, t), 'y');
    // sigmoid: r + s; tanh: r + s + t (s freed after); add: r + t + y = 120.
    expect(peakLiveBytes(h)).to.equal(120);

    const w = new Graph('wide');
    const b = w.input('b', 'float32', [2, 50]);
    const big = o.matmul(o.transpose(b, [1, 0]), b); // [50, 50]: 10,000 bytes beside the 400-byte transpose
    w.output(o.reduceSum(big, undefined, false), 's');
    expect(peakLiveBytes(w)).to.equal(400 + 10_000);
  });

  it('the estimate grows with the batch, fused runs and the arena; a run that cannot fit is one line naming its parts', () => {
    const plan = (batch: number) => new StepCompiler(benchSetup('dcgan', { batch }).setup).plan();
    const [p64, p128] = [plan(64), plan(128)];
    const e64 = estimateMemory(p64, { fuse: 0, nCritic: 1 });
    const e128 = estimateMemory(p128, { fuse: 0, nCritic: 1 });
    expect(e128.parts.activations / e64.parts.activations).to.be.within(1.8, 2.2);
    expect(estimateMemory(p64, { fuse: 5, nCritic: 1 }).total).to.be.above(e64.total);
    expect(estimateMemory(p64, { fuse: 0, nCritic: 1, arena: false }).parts.activations).to.be.below(e64.parts.activations);
    expect(() => checkFits(p64, { fuse: 0, nCritic: 1 }, 100 * 2 ** 20)).to.throw(/^these settings do not fit: training needs about 0\.\d GiB \(runtime 0\.1 GiB, parameters 0\.0 GiB, activations 0\.\d GiB, draws 0\.0 GiB; batch 64, latent \d+, [\d,]+ parameters\), this machine has 0\.1 GiB$/);
    expect(checkFits(p64, { fuse: 0, nCritic: 1 }, 2 ** 34).total).to.equal(e64.total);
  });

  describe('against the measured peak of a training process (bench rows, one run per step, 1 thread): within 25 %', function () {
    this.timeout(600_000);
    for (const [name, opts, iters] of [['mlp', {}, 20], ['dcgan', {}, 4], ['resnet', { loss: 'sngan' }, 1]] as const) {
      it(`${name}${'loss' in opts ? ` (${opts.loss})` : ''}`, () => {
        const bench = benchSetup(name, opts);
        // Two warm-up iterations: each arena reaches its size over its session's first runs.
        const row = ours(bench, { ep: 'cpu', warmup: 2, iters }, 1, 0);
        const est = estimateMemory(new StepCompiler(bench.setup).plan(), { fuse: 0, nCritic: bench.nCritic }).total / 2 ** 20;
        console.log(`      ${name}: estimated ${est.toFixed(0)} MB, measured peak ${row.peak_rss_mb!.toFixed(0)} MB`);
        expect(Math.abs(est - row.peak_rss_mb!) / row.peak_rss_mb!).to.be.below(0.25);
      });
    }
  });
});
