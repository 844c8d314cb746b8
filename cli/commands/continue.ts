// `onnx-gan continue`: keep training from training artifacts, as the browser page does.
import { Command, Option } from 'commander';
import { continueArtifacts } from '../../run/continue.ts';
import { Interrupted, stopOnSignals } from '../interrupt.ts';
import { NODE_EPS } from '../../runtime/runtime.ts';
import { progress } from '../progress.ts';
import { num, positiveInts } from '../options.ts';

export function continueCommand(cli: Command): void {
  cli
    .command('continue <artifacts>')
    .description("keep training from a training-artifacts directory (<run>/export/training), as the browser page does; checkpoints go to the run's checkpoints/")
    .requiredOption('--iterations <n>', 'generator iterations to run', num)
    .option('--threads <n>', 'onnxruntime intra-op threads', num)
    .option('--checkpoint-every <n>', "iterations between checkpoints (default: the run's setting)", num)
    .option('--keep-checkpoints <n>', "checkpoints kept (default: the run's setting)", num)
    .addOption(new Option('--ep <name>', "execution provider; wasm runs onnxruntime-web's kernels, as the browser page does").choices([...NODE_EPS, 'wasm']).default('cpu'))
    .option('--json', 'print the result as one JSON object')
    .action(async (dir: string, o) => {
      positiveInts(o, ['iterations', 'threads', 'checkpointEvery', 'keepCheckpoints']);
      const bar = progress('continue [{bar}] {value}/{total} it | D.loss {dloss} | G.loss {gloss}', o.json);
      const stop = stopOnSignals(bar.say);
      const r = await continueArtifacts(dir, {
        iterations: o.iterations, threads: o.threads, ep: o.ep, checkpointEvery: o.checkpointEvery, keepCheckpoints: o.keepCheckpoints, log: bar.say, stopRequested: stop.requested,
        onProgress: (i, t, v) => bar.update(i, t, { dloss: v['D.loss']?.toFixed(3), gloss: v['G.loss']?.toFixed(3) }),
      }).finally(() => (bar.stop(), stop.dispose()));
      if (r.status === 'interrupted') throw new Interrupted(`interrupted at iteration ${r.iteration}; saved ${r.file}; resume with onnx-gan continue ${dir} --iterations ${o.iterations - (r.iteration - r.start)}`);
      if (o.json) console.log(JSON.stringify(r));
      else console.log(`iteration ${r.iteration}: wrote ${r.file}`);
    });
}
