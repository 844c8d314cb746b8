// Soak: train a fixed number of iterations and sample the process's RSS; after warm-up it must stay flat
// (no per-step growth from tensors or sessions never released). Not run in CI.
//   npm run soak -- [--iterations 6000] [--json]
import { Command } from 'commander';
import { dataset } from '../data/mixtures.ts';
import { nodeRuntime } from '../runtime/node.ts';
import { Trainer } from '../training/trainer.ts';
import { mlpGan } from '../training/gan-pairs.ts';

const o = new Command('soak').option('--iterations <n>', 'generator iterations', (v) => parseInt(v, 10), 6000).option('--fuse <k>', 'iterations per run (0: one run per step)', (v) => parseInt(v, 10), 10).option('--json').parse(process.argv).opts();
// With --expose-gc, collect before each sample so RSS reflects what is retained, not garbage not yet collected.
const gc = (globalThis as { gc?: () => void }).gc;
const mb = () => {
  gc?.();
  return process.memoryUsage().rss / 2 ** 20;
};
const start = mb();
const trainer = await Trainer.create({ setup: mlpGan({ loss: 'wgan-gp' }), runtime: nodeRuntime(), data: dataset('ring8'), seed: 0, nCritic: () => 5, threads: 1 });
const state = trainer.initialState();
const samples: [number, number][] = [];
const warm = Math.floor(o.iterations / 10);
while (state.iteration < o.iterations) {
  if (o.fuse > 0) await trainer.fusedIterations(state, o.fuse);
  else await trainer.iteration(state);
  if (state.iteration % 100 === 0) samples.push([state.iteration, mb()]);
}
await trainer.release();
const after = samples.filter(([it]) => it >= warm);
// Least-squares slope of RSS against iteration after warm-up, in MB per 1,000 iterations.
const mx = after.reduce((a, [x]) => a + x, 0) / after.length;
const my = after.reduce((a, [, y]) => a + y, 0) / after.length;
const slope = (1000 * after.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0)) / after.reduce((a, [x]) => a + (x - mx) ** 2, 0);
const trajectory = samples.filter(([it]) => it % Math.max(100, Math.floor(o.iterations / 12 / 100) * 100) === 0).map(([it, m]) => [it, Math.round(m)]);
const rep = { iterations: o.iterations, fuse: o.fuse, rssStartMB: start, rssAfterWarmupMB: after[0][1], rssEndMB: samples.at(-1)![1], rssMaxAfterWarmupMB: Math.max(...after.map(([, y]) => y)), slopeMBPer1000: slope, trajectory };
console.log(o.json ? JSON.stringify({ ...rep, gc: !!gc }) : `RSS: start ${start.toFixed(0)} MB, after warm-up (${warm} it) ${rep.rssAfterWarmupMB.toFixed(0)} MB, end ${rep.rssEndMB.toFixed(0)} MB, max ${rep.rssMaxAfterWarmupMB.toFixed(0)} MB; slope ${slope.toFixed(2)} MB / 1,000 iterations\n  ${trajectory.map(([it, m]) => `${it}: ${m} MB`).join(', ')}`);
