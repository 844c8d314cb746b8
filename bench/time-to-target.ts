// npm run bench:target -- --classifier classifier.onnx --targets 400,375: how long each quality recipe
// (plain SN-GAN, + generator EMA, + DiffAugment, + LeCam) takes to reach a classifier-FID. Each recipe is one
// `train --eval-every` run; its evals.jsonl holds the score and the training seconds (scoring left out) at
// every mark, and the first mark at or under each target is the answer. Runs are kept under --out, and a
// finished one is read back instead of retrained, so other targets cost nothing. A quality study, not a
// timing: run it on an idle machine, one run at a time; docs/results.md quotes its output.
import { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseConfig } from '../run/config.ts';
import { train } from '../run/train.ts';

const RECIPES: Record<string, Record<string, unknown>> = {
  plain: {},
  ema: { ema: 0.999 },
  'ema+da': { ema: 0.999, augment: ['color', 'translation', 'cutout'] },
  'ema+da+lecam': { ema: 0.999, augment: ['color', 'translation', 'cutout'], lecam: 0.3 },
  'ema+ada': { ema: 0.999, augment: ['color', 'translation', 'cutout'], augmentP: 'auto' },
};

const list = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);
const o = new Command('bench:target')
  .requiredOption('--classifier <file>', 'the scoring classifier (onnx-gan train-classifier)')
  .option('--recipes <list>', `any of ${Object.keys(RECIPES).join(', ')}`, list, ['plain', 'ema', 'ema+da', 'ema+da+lecam'])
  .option('--targets <list>', 'classifier-FIDs to reach, comma separated', (v) => list(v).map(Number), [] as number[])
  .option('--loss <name>', 'loss', 'sngan')
  .option('--data-size <n>', 'training images (a fixed subset per seed; default all)', (v) => parseInt(v, 10))
  .option('--seed <n>', 'seed', (v) => parseInt(v, 10), 0)
  .option('--iterations <n>', 'generator iterations per run', (v) => parseInt(v, 10), 3000)
  .option('--eval-every <n>', 'score every N iterations', (v) => parseInt(v, 10), 250)
  .option('--eval-samples <n>', 'generated images per score', (v) => parseInt(v, 10), 2500)
  .option('--threads <n>', 'onnxruntime intra-op threads', (v) => parseInt(v, 10), 2)
  .option('--out <dir>', 'where the runs go (one directory per recipe)', 'runs/time-to-target')
  .option('--json', 'one JSON object')
  .parse(process.argv)
  .opts<{ classifier: string; recipes: string[]; targets: number[]; loss: string; dataSize?: number; seed: number; iterations: number; evalEvery: number; evalSamples: number; threads: number; out: string; json?: boolean }>();

for (const r of o.recipes) if (!RECIPES[r]) throw new Error(`--recipes: no recipe '${r}' (one of ${Object.keys(RECIPES).join(', ')})`);
for (const t of o.targets) if (!(t > 0)) throw new Error(`--targets: ${t} is not a positive classifier-FID`);

interface Score {
  iteration: number;
  seconds: number;
  classifier_fid: number;
}

const rows = [];
for (const name of o.recipes) {
  const out = join(resolve(o.out), `${name}-s${o.seed}`);
  const cfg = parseConfig({ data: 'fashion-mnist', loss: o.loss, seed: o.seed, iterations: o.iterations, dataSize: o.dataSize, evalEvery: o.evalEvery, evalSamples: o.evalSamples, classifier: o.classifier, threads: o.threads, out, ...RECIPES[name] });
  const finished = existsSync(join(out, 'metrics.json')) && JSON.stringify(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'))) === JSON.stringify({ ...cfg, out });
  if (!finished) {
    if (!o.json) process.stderr.write(`${name}: training ${o.iterations} iterations into ${out}\n`);
    await train(cfg, { force: true, log: (m) => o.json || process.stderr.write(`  ${m}\n`) });
  }
  const scores = readFileSync(join(out, 'evals.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Score);
  const best = scores.reduce((a, b) => (b.classifier_fid < a.classifier_fid ? b : a));
  const reached = o.targets.map((target) => {
    const first = scores.find((s) => s.classifier_fid <= target);
    return { target, iteration: first?.iteration ?? null, seconds: first?.seconds ?? null };
  });
  rows.push({ recipe: name, run: out, final: scores.at(-1)!, best, reached, curve: scores.map((s) => ({ iteration: s.iteration, seconds: s.seconds, fid: s.classifier_fid })) });
}

if (o.json) console.log(JSON.stringify({ loss: o.loss, seed: o.seed, dataSize: o.dataSize ?? null, iterations: o.iterations, evalEvery: o.evalEvery, evalSamples: o.evalSamples, rows }));
else {
  console.log(`${o.loss} on fashion-mnist${o.dataSize ? ` (${o.dataSize} images)` : ''}, seed ${o.seed}; classifier-FID on ${o.evalSamples} samples every ${o.evalEvery} iterations`);
  const head = ['recipe', 'final FID', 'best FID (it)', ...o.targets.map((t) => `<= ${t}: it, s`)];
  console.log(head.join(' | '));
  for (const r of rows) {
    const cells = [r.recipe, r.final.classifier_fid.toFixed(2), `${r.best.classifier_fid.toFixed(2)} (${r.best.iteration})`, ...r.reached.map((x) => (x.iteration === null ? 'not reached' : `${x.iteration}, ${x.seconds!.toFixed(0)}`))];
    console.log(cells.join(' | '));
  }
}
