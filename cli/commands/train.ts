// `onnx-gan train`: one run, from flags and/or a JSON config file; --resume continues a run from its own
// config.json.
import { Command } from 'commander';
import { defaultOut, parseConfig } from '../../run/config.ts';
import { Interrupted, stopOnSignals } from '../interrupt.ts';
import { resume, train, type TrainOptions } from '../../api/index.ts';
import { resumeConfig } from '../../run/train.ts';
import { progress } from '../progress.ts';
import { addConfigOptions, configFromOptions, loadConfigFile } from '../options.ts';

export function trainCommand(cli: Command): void {
  addConfigOptions(cli.command('train'))
    .description('train a GAN and evaluate it (2-D mixtures: modes captured, % high quality, reverse KL)')
    .option('--config <file>', 'JSON config file with the same keys in camelCase; flags override its values')
    .option('--resume', "continue the run in --out from its newest good checkpoint (its config.json is the base; flags override)")
    .option('--force', 'replace an existing run directory (its checkpoints and export too)')
    .option('--json', 'print the final metrics as one JSON object')
    .action(async (o) => {
      const file = o.config ? loadConfigFile(o.config) : {};
      const flags = configFromOptions(o);
      const source = o.config ? `config (${o.config} + flags)` : 'flags';
      const given = { ...file, ...flags };
      const cfg = o.resume ? resumeConfig(given.out ?? defaultOut(parseConfig(given, source)), given, source) : parseConfig(given, source);
      const out = cfg.out ?? defaultOut(cfg);
      const prepare = progress('prepare [{bar}] {value}/{total} images', o.json);
      const bar = progress('train [{bar}] {value}/{total} it | {rate} it/s | D.loss {dloss} | G.loss {gloss}', o.json);
      const t0 = Date.now();
      const stop = stopOnSignals(bar.say);
      const options: TrainOptions = {
        force: o.force,
        signal: stop.signal,
        onLog: bar.say,
        onDataProgress: (done, total) => (prepare.update(done, total, {}), done === total && prepare.stop()),
        onIteration: ({ iteration: it, total, values: v }) => bar.update(it, total, { rate: ((it * 1000) / Math.max(1, Date.now() - t0)).toFixed(0), dloss: v['D.loss']?.toFixed(3), gloss: v['G.loss']?.toFixed(3) }),
      };
      // --resume: the run's own settings are the base, so `train --resume --out DIR` is enough.
      const res = await (o.resume ? resume(out, cfg, options) : train(cfg, options)).finally(() => (prepare.stop(), bar.stop(), stop.dispose()));
      if (res.status === 'interrupted') throw new Interrupted(`interrupted at iteration ${res.iterations}; saved ${res.checkpoint}; resume with onnx-gan train --resume --out ${out}`);
      const m = res.metrics;
      if (o.json) console.log(JSON.stringify({ out: res.out, data: cfg.data, loss: cfg.loss, seed: cfg.seed, iterations: res.iterations, seconds: res.seconds, ...m }));
      else {
        console.log(`${cfg.loss} on ${cfg.data}, seed ${cfg.seed}: ${res.iterations} iterations in ${res.seconds.toFixed(1)} s`);
        if (!m) {
          console.log(`run directory    ${res.out} (samples.png, samples/, metrics.jsonl, checkpoints/); score it with onnx-gan eval ${res.out}`);
          return;
        }
        console.log(`modes captured   ${m.modesCaptured} / ${m.modes}`);
        console.log(`high quality     ${m.highQualityPct.toFixed(1)} %`);
        console.log(`reverse KL       ${m.reverseKL === null ? 'n/a (no high-quality sample)' : m.reverseKL.toFixed(3)}`);
        console.log(`run directory    ${res.out} (samples.csv, samples.svg, metrics.jsonl, checkpoints/)`);
      }
    });
}
