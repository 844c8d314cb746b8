// npm run bench:ema -- --classifier classifier.onnx: which generator average helps, and when? One training
// run (the README's DCGAN SN-GAN on Fashion-MNIST by default) with several exponential moving averages of
// the generator kept on the host beside it (weights and running statistics, as --ema keeps them in the
// graph), all scored at the end by classifier-feature FID on the same latents. A quality study, not a
// timing: docs/results.md quotes its output.
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { fashionMnist } from '../data/image-files.ts';
import { labelled } from '../data/images.ts';
import { Rng } from '../data/random.ts';
import { fid } from '../eval/scores.ts';
import { parseConfig } from '../run/config.ts';
import { resolveSetup, runData } from '../run/setup.ts';
import { nodeRuntime } from '../runtime/node.ts';
import { Sampler } from '../training/sampler.ts';
import { ClassifierRunner, imageBatch } from '../training/supervised.ts';
import { Trainer } from '../training/trainer.ts';
import type { ProgramState } from '../training/signature.ts';

const o = new Command('bench:ema')
  .requiredOption('--classifier <file>', 'the scoring classifier (onnx-gan train-classifier)')
  .option('--loss <name>', 'loss', 'sngan')
  .option('--seed <n>', 'seed', (v) => parseInt(v, 10), 0)
  .option('--iterations <n>', 'generator iterations', (v) => parseInt(v, 10), 2000)
  .option('--samples <n>', 'generated images per score', (v) => parseInt(v, 10), 5000)
  .option('--threads <n>', 'onnxruntime intra-op threads', (v) => parseInt(v, 10), 2)
  .option('--json', 'one JSON object')
  .parse(process.argv)
  .opts<{ classifier: string; loss: string; seed: number; iterations: number; samples: number; threads: number; json?: boolean }>();

// beta_t = 0 until `start`, then `decay`, or with the warm-up min(decay, (1 + s) / (10 + s)) as --ema does.
const AVERAGES = [
  { name: 'decay 0.9', decay: 0.9, start: 0, warm: false },
  { name: 'decay 0.95', decay: 0.95, start: 0, warm: false },
  { name: 'decay 0.99', decay: 0.99, start: 0, warm: false },
  { name: 'decay 0.99, warm-up', decay: 0.99, start: 0, warm: true },
  { name: 'decay 0.995, warm-up', decay: 0.995, start: 0, warm: true },
  { name: 'decay 0.999, warm-up', decay: 0.999, start: 0, warm: true },
  { name: 'decay 0.99 from half-way', decay: 0.99, start: 0.5, warm: false },
  { name: 'decay 0.999 from half-way', decay: 0.999, start: 0.5, warm: false },
];

const cfg = parseConfig({ data: 'fashion-mnist', loss: o.loss, seed: o.seed });
const data = await runData(cfg);
const { setup, nCritic } = resolveSetup(cfg, data);
const runtime = nodeRuntime();
const trainer = await Trainer.create({ setup, runtime, data, seed: o.seed, nCritic, threads: o.threads });
const state = trainer.initialState();
const generatorStates = (setup.generator.states ?? []).map((s) => s.name);
const averages = AVERAGES.map((a) => ({ ...a, start: Math.round(a.start * o.iterations), params: Float64Array.from(state.G.params), states: Object.fromEntries(generatorStates.map((n) => [n, Float64Array.from(state.states[n])])) }));
const t0 = performance.now();
for (let it = 1; it <= o.iterations; it++) {
  await trainer.iteration(state);
  for (const a of averages) {
    const since = it - a.start;
    const beta = since <= 0 ? 0 : a.warm ? Math.min(a.decay, (1 + since) / (10 + since)) : a.decay;
    const blend = (avg: Float64Array, w: Float32Array) => avg.forEach((v, i) => (avg[i] = beta * v + (1 - beta) * w[i]));
    blend(a.params, state.G.params);
    for (const n of generatorStates) blend(a.states[n], state.states[n]);
  }
  if (!o.json && it % 200 === 0) process.stderr.write(`${it}/${o.iterations} it, ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
}
const runner = await ClassifierRunner.create(runtime, new Uint8Array(readFileSync(o.classifier)), o.threads);
const test = fashionMnist('t10k');
const ref = await runner.run(imageBatch(labelled(test), Uint32Array.from({ length: test.count }, (_, i) => i)));
const sampler = Sampler.compile(trainer.compiler!, runtime, o.threads, { ema: false });
const score = async (params: Float32Array, states: Record<string, Float32Array>) => {
  const z = Rng.stream(0, 'eval-images').fillNormal(new Float32Array(o.samples * trainer.plan.latent));
  const gen = await runner.run(await sampler.generate({ ...state, G: { ...state.G, params }, states } as ProgramState, z));
  return fid(gen.features, ref.features, gen.featureSize);
};
const rows = [{ name: 'trained weights', fid: await score(state.G.params, state.states) }];
for (const a of averages) rows.push({ name: a.name, fid: await score(Float32Array.from(a.params), { ...state.states, ...Object.fromEntries(generatorStates.map((n) => [n, Float32Array.from(a.states[n])])) }) });
if (o.json) console.log(JSON.stringify({ loss: o.loss, seed: o.seed, iterations: o.iterations, samples: o.samples, rows }));
else {
  console.log(`${o.loss} on fashion-mnist, seed ${o.seed}, ${o.iterations} iterations; classifier-FID on ${o.samples} samples`);
  for (const r of rows) console.log(`  ${r.name.padEnd(28)} ${r.fid.toFixed(2)}`);
}
await Promise.all([trainer.release(), sampler.release(), runner.release()]);
