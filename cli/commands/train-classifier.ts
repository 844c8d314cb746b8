// `onnx-gan train-classifier`: the classifier `eval` scores images with.
import { Command, Option } from 'commander';
import { CLASSIFIER_ARCHS, interruptedSettings, trainScoringClassifier } from '../../run/evaluate.ts';
import { progress } from '../progress.ts';
import { printScores } from './eval.ts';
import { num, positiveInts } from '../options.ts';
import { Interrupted, stopOnSignals } from '../interrupt.ts';

export function trainClassifierCommand(cli: Command): void {
  cli
    .command('train-classifier')
    .description('train the scoring classifier on Fashion-MNIST (this engine, one ONNX graph per step); write classifier.onnx with its test accuracy and the train-vs-test floor')
    .option('--out <file>', 'output model', 'classifier.onnx')
    .addOption(new Option('--arch <name>', 'vgg: two convs per stage, max pooling, 256 features; small: the first releases\' scorer (one conv per stage, 128 features)').choices(Object.keys(CLASSIFIER_ARCHS)).default('vgg'))
    .option('--epochs <n>', 'passes over the 60,000 training images', num, 12)
    .option('--shift <px>', 'augmentation: random horizontal flips and shifts of up to this many pixels (0: none)', num, 2)
    .option('--batch <n>', 'batch size', num, 64)
    .option('--lr <x>', 'Adam learning rate at the start (cosine decay to 0)', num, 1e-3)
    .option('--seed <n>', 'random seed', num, 0)
    .option('--samples <n>', 'training images scored against the test split for the floor', num, 10000)
    .option('--threads <n>', 'onnxruntime intra-op threads', num)
    .option('--resume', 'go on from where an interrupted training of --out stopped (<out>.progress.safetensors)')
    .option('--force', 'start over, discarding such progress')
    .option('--json', 'print the result as one JSON object')
    .action(async (o, cmd: Command) => {
      // --resume: the interrupted training's settings are the base, so `--resume --out FILE` is enough.
      const saved = o.resume && !o.force ? interruptedSettings(o.out) : null;
      for (const key of ['arch', 'epochs', 'shift', 'batch', 'lr', 'seed'] as const)
        if (saved && cmd.getOptionValueSource(key) === 'default') o[key] = saved[key];
      positiveInts(o, ['epochs', 'batch', 'samples', 'threads']);
      if (!Number.isInteger(o.shift) || o.shift < 0) throw new Error(`--shift must be a whole number of pixels >= 0, got ${o.shift}`);
      const bar = progress('classifier [{bar}] {value}/{total} steps | loss {loss}', o.json);
      const stop = stopOnSignals(bar.say);
      const r = await trainScoringClassifier({
        out: o.out, arch: o.arch, epochs: o.epochs, batch: o.batch, lr: o.lr, shift: o.shift, seed: o.seed, threads: o.threads, samples: o.samples, resume: o.resume, force: o.force,
        stopRequested: stop.requested,
        onProgress: (s, total, loss) => bar.update(s, total, { loss: loss.toFixed(3) }),
        log: bar.say,
      }).finally(() => (bar.stop(), stop.dispose()));
      if ('interrupted' in r) throw new Interrupted(`interrupted at step ${r.step} of ${r.steps}; saved ${r.progress}; go on with onnx-gan train-classifier --out ${o.out} --resume`);
      if (o.json) console.log(JSON.stringify(r));
      else {
        console.log(`test accuracy    ${(100 * r.testAccuracy).toFixed(2)} % after ${r.epochs} epochs (${r.seconds.toFixed(0)} s)`);
        printScores('floor (train vs test split)', r.floor);
        console.log(`wrote ${r.file}`);
      }
    });
}
