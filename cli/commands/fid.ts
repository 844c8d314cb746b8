// `onnx-gan fid A B`: two image sets compared on one network's features, no run needed (pytorch-fid's two
// paths): FID, KID, precision / recall, density / coverage.
import { Command, Option } from 'commander';
import { fidOfSets, type FeatureScores } from '../../run/feature-scores.ts';
import { NODE_EPS } from '../../runtime/runtime.ts';
import { num, positiveInts } from '../options.ts';

/** The feature options eval and fid share. */
export function featureOptions(cmd: Command): Command {
  return cmd
    .option('--features <file.onnx>', "an ONNX feature network (pytorch-fid's InceptionV3 exported by scripts/export_fid_inception.py gives the FID papers report); it gets RGB in [0, 1] resized to its input (bilinear)")
    .option('--features-size <n>', "the network's input side, when its model leaves it open", num)
    .option('--features-output <name>', 'the output holding the features (default the first)');
}

export function fidCommand(cli: Command): void {
  featureOptions(
    cli
      .command('fid <a> <b>')
      .description("FID, KID, precision / recall (k 3) and density / coverage (k 5) between two image sets (folders, IDX files, fashion-mnist, fashion-mnist-test) on a feature network's features, or the scoring classifier's"),
  )
    .option('--classifier <file>', 'without --features: the scoring classifier whose features are compared (28 x 28 grey images)', 'classifier.onnx')
    .option('--image-size <n>', 'folders: resize every image to N x N first (needed when a folder mixes sizes)', num)
    .option('--samples <n>', 'at most this many images of each set (a random subset from --seed; default all)', num)
    .option('--seed <n>', 'seed of the subsets and KID subsets', num, 0)
    .option('--threads <n>', 'onnxruntime intra-op threads', num)
    .addOption(new Option('--ep <name>', 'execution provider').choices(NODE_EPS).default('cpu'))
    .option('--json', 'print the scores as one JSON object')
    .action(async (a: string, b: string, o) => {
      positiveInts(o, ['featuresSize', 'imageSize', 'samples', 'threads']);
      const r = await fidOfSets(a, b, { features: o.features, featuresSize: o.featuresSize, featuresOutput: o.featuresOutput, classifier: o.classifier, imageSize: o.imageSize, samples: o.samples, seed: o.seed, threads: o.threads, ep: o.ep });
      if (o.json) console.log(JSON.stringify(r));
      else {
        console.log(`${a} (${r.samples[0]} images) vs ${b} (${r.samples[1]} images), ${r.d} features of ${r.network}`);
        printFeatureScores(r);
      }
    });
}

export function printFeatureScores(r: FeatureScores): void {
  const m = r.manifold;
  console.log(`FID ${r.fid.toFixed(3)}  KID ${r.kid.toPrecision(3)} +- ${r.kidStd.toPrecision(2)}  precision ${m.precision.toFixed(3)}  recall ${m.recall.toFixed(3)}  density ${m.density.toFixed(3)}  coverage ${m.coverage.toFixed(3)}`);
}
