// `onnx-gan eval`: classifier-feature FID / KID and class scores of an image run.
import { Command, Option } from 'commander';
import { evaluate, evaluateFeatures } from '../../api/index.ts';
import { featureOptions, printFeatureScores } from './fid.ts';
import { NODE_EPS } from '../../runtime/runtime.ts';
import { num, positiveInts } from '../options.ts';
import { type ImageScores } from '../../eval/image-scores.ts';

/** How the latents were drawn, for the heading line. */
const truncated = (r: { truncation: number | null; truncationAt: string | null }) =>
  r.truncationAt !== null ? ` ('${r.truncationAt}' pulled toward its mean, psi ${r.truncation})` : r.truncation !== null ? ` (latents truncated at +-${r.truncation})` : '';

export function evalCommand(cli: Command): void {
  featureOptions(cli
    .command('eval <run>')
    .description("score an image run: classifier-feature FID and KID against Fashion-MNIST's test split, class histogram and its KL to uniform (class-conditional runs: intra-class FID per class and conditioning accuracy); adds them to <run>/metrics.json")
    .option('--classifier <file>', 'classifier from onnx-gan train-classifier', 'classifier.onnx'))
    .option('--real <data>', "with --features: the real images (a folder, an IDX file, fashion-mnist, fashion-mnist-test); default Fashion-MNIST's test split for a Fashion-MNIST run, else the run's own data")
    .option('--samples <n>', 'generated images', num, 10000)
    .option('--seed <n>', 'seed of the latent draws and KID subsets', num, 0)
    .option('--truncation <psi>', 'draw the latents within +-psi standard deviations (the truncation trick: fidelity for diversity); with --truncation-at, interpolate toward the mean by psi', num)
    .option('--truncation-at <tensor>', "mean-latent truncation (StyleGAN's) for an imported generator with a mapping network: this tensor w (named as in its ONNX graph) becomes w_mean + psi (w - w_mean), w_mean its mean over 10,000 latents")
    .option('--no-ema', "score the trained generator's own weights, not their average (runs trained with --ema)")
    .option('--threads <n>', 'onnxruntime intra-op threads', num)
    .addOption(new Option('--ep <name>', 'execution provider for the generator and the classifier').choices(NODE_EPS).default('cpu'))
    .option('--json', 'print the scores as one JSON object')
    .action(async (run: string, o) => {
      positiveInts(o, ['samples', 'threads']);
      if (o.truncation !== undefined && !(o.truncationAt !== undefined ? o.truncation >= 0 : o.truncation > 0)) throw new Error(`--truncation: must be ${o.truncationAt !== undefined ? 'a psi >= 0' : 'a positive number of standard deviations'}, got ${o.truncation}`);
      const ema = o.ema === false ? false : undefined;
      if (o.features) {
        positiveInts(o, ['featuresSize']);
        const r = await evaluateFeatures(run, { features: o.features, featuresSize: o.featuresSize, featuresOutput: o.featuresOutput, real: o.real, samples: o.samples, seed: o.seed, truncation: o.truncation, truncationAt: o.truncationAt, ema, threads: o.threads, ep: o.ep, onLog: (m) => void process.stderr.write(`${m}\n`) });
        if (o.json) console.log(JSON.stringify(r));
        else {
          console.log(`${r.run} at iteration ${r.iteration}: ${r.samples[1]} samples${r.ema ? ' of the averaged generator' : ''} vs ${r.samples[0]} images of ${r.real}, ${r.d} features of ${r.network}`);
          printFeatureScores(r);
        }
        return;
      }
      if (o.real) throw new Error('--real: the real images of a --features score; the classifier scores against Fashion-MNIST\'s test split');
      const r = await evaluate(run, { classifier: o.classifier, samples: o.samples, seed: o.seed, truncation: o.truncation, truncationAt: o.truncationAt, ema, threads: o.threads, ep: o.ep, onLog: (m) => void process.stderr.write(`${m}\n`) });
      if (o.json) console.log(JSON.stringify(r));
      else {
        console.log(`${r.run} at iteration ${r.iteration}, ${r.samples} samples${r.ema ? ', averaged generator (--ema)' : ''}${truncated(r)}; classifier ${r.classifier}${r.classifierTestAccuracy === null ? '' : ` (test accuracy ${(100 * r.classifierTestAccuracy).toFixed(2)} %)`}`);
        console.log('classifier-feature scores (not Inception FID):');
        printScores('generated vs test', r);
        if (r.floor) printScores('floor (train vs test)', r.floor);
        if (r.conditional) {
          const c = r.conditional;
          console.log(`class-conditional: conditioning accuracy ${(100 * c.accuracy).toFixed(1)} %, mean intra-class FID ${c.meanIntraFid.toFixed(2)}`);
          console.log(`  ${'class'.padEnd(14)} ${'FID'.padStart(8)} ${'accuracy'.padStart(9)}`);
          for (const k of c.perClass) console.log(`  ${k.class.padEnd(14)} ${k.fid.toFixed(2).padStart(8)} ${`${(100 * k.accuracy).toFixed(1)} %`.padStart(9)}`);
        }
      }
    });
}

/** One line of image scores: FID, KID, class coverage. */
export function printScores(what: string, s: ImageScores): void {
  const share = s.classHistogram.map((c) => ((100 * c) / s.samples).toFixed(0)).join(' ');
  console.log(`${what.padEnd(28)} FID ${s.fid.toFixed(2)}  KID ${s.kid.toPrecision(3)} +- ${s.kidStd.toPrecision(2)}  classes ${s.classesCovered}/${s.classHistogram.length}  KL to uniform ${s.classKL.toFixed(4)}  histogram % [${share}]`);
  const m = s.manifold;
  if (m) console.log(`${''.padEnd(28)} precision ${m.precision.toFixed(3)}  recall ${m.recall.toFixed(3)} (k ${m.k.precisionRecall})  density ${m.density.toFixed(3)}  coverage ${m.coverage.toFixed(3)} (k ${m.k.densityCoverage})${s.inceptionScore ? `  IS ${s.inceptionScore.mean.toFixed(2)} +- ${s.inceptionScore.std.toFixed(2)}` : ''}`);
}
