// The onnx-gan command line. Every failure is one line on stderr and a non-zero exit.
import { Command, Option } from 'commander';
import { SingleBar } from 'cli-progress';
import { readFileSync } from 'node:fs';
import { DIVERGENCES, LOSSES } from '../losses/index.ts';
import { PENALTIES } from '../losses/penalties.ts';
import { exportLoss } from '../export/loss.ts';
import { addConfigOptions, configFromOptions, defaultOut, flagOf, num, numList, parseConfig, PROTOCOLS } from './config.ts';
import { DATASETS } from '../data/mixtures.ts';
import { continueArtifacts } from './continue.ts';
import { evalRun, trainClassifierCommand, type ImageScores } from './evaluate.ts';
import { exportRun } from './export.ts';
import { writeFileAtomic } from './files.ts';
import { expandLosses, markdownTable, PASSWORD_ENV, publishedRow, summarize, sweep, type RunResult } from './sweep.ts';
import { queueSweep, redactArgs, runWorker, sweepStatus } from './queue.ts';
import { Interrupted, stopOnSignals } from './interrupt.ts';
import { runConfig, train } from './train.ts';
import { NODE_EPS } from '../training/runtime-node.ts';

function loadConfigFile(path: string): Record<string, unknown> {
  // Read and shape-check only; the merged config (file + flags) is validated once by parseConfig.
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`--config: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    const v = JSON.parse(text);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v;
  } catch (e) {
    throw new Error(`--config: ${path} is not a JSON object: ${(e as Error).message}`);
  }
}

/** Each named option that is set must be a positive integer; the error names the flag. */
function positiveInts(o: Record<string, unknown>, keys: string[]): void {
  for (const k of keys) if (o[k] !== undefined && (!Number.isInteger(o[k]) || (o[k] as number) < 1)) throw new Error(`--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: must be a positive integer, got ${o[k]}`);
}

/**
 * A progress bar on a terminal (none under --json or when stderr is not one), started by its first
 * update; `say` stops it first so a message gets its own line.
 */
function progress(format: string, quiet: boolean) {
  const bar = !quiet && process.stderr.isTTY ? new SingleBar({ format, hideCursor: true }) : null;
  let started = false;
  return {
    update(value: number, total: number, payload: Record<string, unknown>) {
      if (!bar) return;
      if (started) bar.update(value, payload);
      else (started = true), bar.start(total, value, payload);
    },
    say: (m: string) => (bar?.stop(), void process.stderr.write(`${m}\n`)),
    stop: () => bar?.stop(),
  };
}

/** The settings a loss takes, shared by every command that builds one. */
function lossFlags(cmd: Command): Command {
  return cmd
    .option('--lambda <x>', 'penalty weight (gamma for r1/r2)', num)
    .option('--penalty <name>', `penalty instead of the loss's own: none | ${Object.keys(PENALTIES).join(' | ')}`)
    .option('--ls <a,b,c>', 'LSGAN targets', numList)
    .option('--divergence <name>', `f-GAN divergence: ${Object.keys(DIVERGENCES).join(' | ')}`)
    .option('--rho <x>', "Fisher GAN's rho", num);
}

export function program(): Command {
  const cli = new Command('onnx-gan').description('Train GANs as plain ONNX graphs on onnxruntime').showHelpAfterError(false).exitOverride();
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
      let cfg = parseConfig({ ...file, ...flags }, source);
      const out = cfg.out ?? defaultOut(cfg);
      // --resume: the run's own settings are the base, so `train --resume --out DIR` is enough.
      const before = o.resume ? runConfig(out) : null;
      if (before) cfg = parseConfig({ ...before, ...file, ...flags }, `${out}/config.json + ${source}`);
      const bar = progress('train [{bar}] {value}/{total} it | {rate} it/s | D.loss {dloss} | G.loss {gloss}', o.json);
      const t0 = Date.now();
      const stop = stopOnSignals(bar.say);
      const res = await train(cfg, {
        resume: o.resume,
        force: o.force,
        log: bar.say,
        stopRequested: stop.requested,
        onProgress: (it, total, v) => bar.update(it, total, { rate: ((it * 1000) / Math.max(1, Date.now() - t0)).toFixed(0), dloss: v['D.loss']?.toFixed(3), gloss: v['G.loss']?.toFixed(3) }),
      }).finally(() => (bar.stop(), stop.dispose()));
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
  cli
    .command('sweep')
    .description('train every loss on the same architecture and budget; write a table and an HTML report')
    .option('--data <list>', 'data sets, comma separated', 'ring8,grid25')
    .option('--loss <list>', "losses, comma separated, or 'all'", 'all')
    .option('--seeds <n>', 'seeds per loss and data set', num, 3)
    .option('--iterations <n>', "generator iterations per run (default 2000, or the protocol's)", num)
    .option('--pack <list>', 'PacGAN packing degrees to compare, comma separated (1 = no packing)', numList, [1])
    .addOption(new Option('--protocol <name>', "a published setup under every run (its networks, optimizer, batch, data and budget); the report puts the paper's numbers beside the measured ones").choices(Object.keys(PROTOCOLS)))
    .option('--workers <n>', 'parallel runs on this machine (default: the core count; not with --queue)', num)
    .option('--queue <url>', 'run on a Redis job queue (redis://HOST:PORT[/DB], or rediss:// for TLS) served by `onnx-gan worker` processes on any machines, instead of here')
    .option('--queue-password-file <file>', `the queue's password from this file (or set ${PASSWORD_ENV}); a password in the URL shows in ps`)
    .option('--queue-ca <file>', 'PEM certificate authority of a rediss:// queue')
    .option('--status', 'with --out: where each run of the queued sweep there stands (queued, running, done, failed)')
    .option('--out <dir>', 'sweep directory', 'runs/sweep')
    .option('--resume', 'finish a sweep in --out: finished runs are kept, interrupted ones resume from their checkpoints (queued: re-attach and collect)')
    .option('--force', 'replace an existing sweep directory')
    .option('--json', 'print the summary rows as JSON')
    .action(async (o) => {
      if (o.status) {
        const st = await sweepStatus(o.out, { queue: o.queue, passwordFile: o.queuePasswordFile, caFile: o.queueCa });
        if (o.json) console.log(JSON.stringify(st));
        else {
          console.log(`sweep ${st.id} in ${o.out}: ${st.done} done, ${st.running} running, ${st.queued} queued, ${st.failed} failed of ${st.total}`);
          for (const [k, v] of Object.entries(st.byRun)) console.log(`  ${k.padEnd(32)} ${v}`);
        }
        return;
      }
      if (o.queue && o.workers !== undefined) throw new Error('--workers: a queued sweep runs on the workers that serve the queue; start them with onnx-gan worker --queue <url> --concurrency <n>');
      const data = String(o.data).split(',');
      for (const d of data) if (!DATASETS[d]) throw new Error(`unknown data set '${d}'; valid data sets: ${Object.keys(DATASETS).join(', ')}`);
      positiveInts(o, ['seeds', 'iterations', 'workers']);
      for (const m of o.pack) if (!Number.isInteger(m) || m < 1 || m > 64) throw new Error(`--pack: each packing degree must be an integer from 1 to 64, got ${m}`);
      const preset = o.protocol ? PROTOCOLS[o.protocol as keyof typeof PROTOCOLS].settings : null;
      const losses = expandLosses(preset && o.loss === 'all' ? preset.loss : String(o.loss));
      const iterations = o.iterations ?? preset?.iterations ?? 2000;
      const total = data.length * losses.length * o.pack.length * o.seeds;
      const bar = progress(o.queue ? 'sweep [{bar}] {value}/{total} runs | {queued} queued, {running} running, {done} done, {failed} failed' : 'sweep [{bar}] {value}/{total} runs | {last}', o.json);
      const stop = stopOnSignals(bar.say);
      const spec = { data, losses, seeds: o.seeds, iterations, packs: o.pack, protocol: o.protocol, out: o.out, resume: o.resume, force: o.force, stopRequested: stop.requested };
      const last = (r: RunResult) => `${r.data}/${r.loss}${r.pack > 1 ? `/pack${r.pack}` : ''}/s${r.seed}: ${r.status === 'ok' ? `${r.modesCaptured}/${r.modes} modes` : r.status}`;
      bar.update(0, total, { last: '', queued: total, running: 0, done: 0, failed: 0 });
      const results = await (o.queue
        ? queueSweep({ ...spec, queue: o.queue, passwordFile: o.queuePasswordFile, caFile: o.queueCa, onCounts: (c) => bar.update(c.done + c.failed, c.total, c as unknown as Record<string, unknown>) })
        : sweep({ ...spec, workers: o.workers, onRunDone: (r, done) => bar.update(done, total, { last: last(r) }) })
      ).finally(() => (bar.stop(), stop.dispose()));
      const left = results.filter((r) => r.status === 'interrupted').length;
      if (left) {
        const args = redactArgs(process.argv.slice(2).filter((a) => a !== '--resume' && a !== '--force'));
        const where = o.queue ? 'they stay on the queue and its workers go on; collect them' : 'their checkpoints are saved; resume';
        throw new Interrupted(`interrupted with ${left} of ${results.length} runs unfinished; ${where} with onnx-gan ${args.join(' ')} --resume`);
      }
      const rows = summarize(results);
      if (o.json) console.log(JSON.stringify(rows));
      else {
        process.stdout.write(markdownTable(rows, (r) => publishedRow(o.protocol, r)));
        console.log(`wrote ${o.out}/summary.md, summary.csv, runs.csv, report.html`);
      }
    });

  cli
    .command('worker')
    .description('run sweep jobs from a Redis queue until stopped; SIGTERM or Ctrl-C: the runs in flight checkpoint and go back to the queue for another worker')
    .requiredOption('--queue <url>', 'the queue: redis://HOST:PORT[/DB], or rediss:// for TLS')
    .option('--queue-password-file <file>', `the queue's password from this file (or set ${PASSWORD_ENV}); a password in the URL shows in ps`)
    .option('--queue-ca <file>', 'PEM certificate authority of a rediss:// queue')
    .option('--stop-seconds <s>', 'once told to stop, exit within this many seconds even if Redis does not answer (runs in flight checkpoint first)', num, 60)
    .option('--concurrency <n>', 'runs at a time on this machine', num, 1)
    .option('--threads <n>', 'onnxruntime intra-op threads per run', num, 1)
    .option('--runs-dir <dir>', 'a directory all workers share: a run whose worker died resumes there from its last checkpoint (without one, it restarts)')
    .option('--lock-seconds <s>', "how long a dead worker's run stays locked before another worker takes it", num, 30)
    .option('--json', 'print what this worker did as one JSON object when it ends')
    .action(async (o) => {
      positiveInts(o, ['concurrency', 'threads']);
      for (const k of ['lockSeconds', 'stopSeconds'] as const) if (!(o[k] > 0)) throw new Error(`${flagOf(k)}: must be positive, got ${o[k]}`);
      const say = (m: string) => void process.stderr.write(`${m}\n`);
      const stop = stopOnSignals(say);
      const r = await runWorker({ queue: o.queue, passwordFile: o.queuePasswordFile, caFile: o.queueCa, concurrency: o.concurrency, threads: o.threads, runsDir: o.runsDir, lockSeconds: o.lockSeconds, stopSeconds: o.stopSeconds, log: say, stopRequested: stop.requested }).finally(() => stop.dispose());
      if (o.json) console.log(JSON.stringify(r));
      else console.log(`worker stopped: ${r.completed} runs finished, ${r.handedBack} handed back to the queue${r.refused ? `, ${r.refused} jobs refused` : ''}`);
      // A Redis that is gone or hangs keeps ioredis reconnecting for ever: once done, the worker goes.
      setTimeout(() => process.exit(), 1000).unref();
    });

  cli
    .command('export <run>')
    .description("write generator.onnx, critic.onnx (inference only), weights.safetensors and training/ (artifacts to keep training) from a run's newest checkpoint, or from a checkpoint file")
    .option('--out <dir>', 'output directory (default <run>/export; for a checkpoint file outside a run, export/ beside it)')
    .option('--uint8', "also write generator_uint8.onnx: uint8 [N, 3, H, W] images, the output torch-fidelity's ONNX generator wrapper expects (image runs)")
    .option('--json', 'print the result as one JSON object')
    .action(async (run: string, o) => {
      const r = await exportRun(run, { out: o.out, uint8: o.uint8, log: (m) => void process.stderr.write(`${m}\n`) });
      if (o.json) console.log(JSON.stringify(r));
      else if (r.unchanged.length === r.files.length) console.log(`${r.out} already holds iteration ${r.iteration}; nothing changed`);
      else console.log(`exported iteration ${r.iteration} to ${r.out}:\n  ${r.files.map((f) => (r.unchanged.includes(f) ? `${f} (unchanged)` : f)).join('\n  ')}`);
    });

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

  cli
    .command('train-classifier')
    .description('train the scoring classifier on Fashion-MNIST (this engine, one ONNX graph per step); write classifier.onnx with its test accuracy and the train-vs-test floor')
    .option('--out <file>', 'output model', 'classifier.onnx')
    .option('--epochs <n>', 'passes over the 60,000 training images', num, 5)
    .option('--batch <n>', 'batch size', num, 64)
    .option('--lr <x>', 'Adam learning rate at the start (cosine decay to 0)', num, 1e-3)
    .option('--seed <n>', 'random seed', num, 0)
    .option('--samples <n>', 'training images scored against the test split for the floor', num, 10000)
    .option('--threads <n>', 'onnxruntime intra-op threads', num)
    .option('--json', 'print the result as one JSON object')
    .action(async (o) => {
      positiveInts(o, ['epochs', 'batch', 'samples', 'threads']);
      const bar = progress('classifier [{bar}] {value}/{total} steps | loss {loss}', o.json);
      const r = await trainClassifierCommand({
        out: o.out, epochs: o.epochs, batch: o.batch, lr: o.lr, seed: o.seed, threads: o.threads, samples: o.samples,
        onProgress: (s, total, loss) => bar.update(s, total, { loss: loss.toFixed(3) }),
        log: bar.say,
      }).finally(() => bar.stop());
      if (o.json) console.log(JSON.stringify(r));
      else {
        console.log(`test accuracy    ${(100 * r.testAccuracy).toFixed(2)} % after ${r.epochs} epochs (${r.seconds.toFixed(0)} s)`);
        printScores('floor (train vs test split)', r.floor);
        console.log(`wrote ${r.file}`);
      }
    });

  cli
    .command('eval <run>')
    .description("score an image run: classifier-feature FID and KID against Fashion-MNIST's test split, class histogram and its KL to uniform (class-conditional runs: intra-class FID per class and conditioning accuracy); adds them to <run>/metrics.json")
    .option('--classifier <file>', 'classifier from onnx-gan train-classifier', 'classifier.onnx')
    .option('--samples <n>', 'generated images', num, 10000)
    .option('--seed <n>', 'seed of the latent draws and KID subsets', num, 0)
    .option('--threads <n>', 'onnxruntime intra-op threads', num)
    .addOption(new Option('--ep <name>', 'execution provider for the generator and the classifier').choices(NODE_EPS).default('cpu'))
    .option('--json', 'print the scores as one JSON object')
    .action(async (run: string, o) => {
      positiveInts(o, ['samples', 'threads']);
      const r = await evalRun(run, { classifier: o.classifier, samples: o.samples, seed: o.seed, threads: o.threads, ep: o.ep, log: (m) => void process.stderr.write(`${m}\n`) });
      if (o.json) console.log(JSON.stringify(r));
      else {
        console.log(`${r.run} at iteration ${r.iteration}, ${r.samples} samples; classifier ${r.classifier}${r.classifierTestAccuracy === null ? '' : ` (test accuracy ${(100 * r.classifierTestAccuracy).toFixed(2)} %)`}`);
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

  lossFlags(cli.command('export-loss <name>'))
    .description('write a loss as an ONNX model: critic outputs in, losses and their gradients out')
    .option('--out <file>', 'output file (default loss-<name>.onnx)')
    .option('--sample-shape <list>', 'per-sample shape of the critic input, for a penalty', numList)
    .action((name: string, o) => {
      if (!LOSSES[name]) throw new Error(`unknown loss '${name}'; valid losses: ${Object.keys(LOSSES).join(', ')}`);
      const bytes = exportLoss(name, { lambda: o.lambda, penalty: o.penalty, ls: o.ls, divergence: o.divergence, rho: o.rho, sampleShape: o.sampleShape });
      const out = o.out ?? `loss-${name}.onnx`;
      writeFileAtomic(out, bytes);
      console.log(`wrote ${out} (${bytes.length} bytes)`);
    });
  return cli;
}

function printScores(what: string, s: ImageScores): void {
  const share = s.classHistogram.map((c) => ((100 * c) / s.samples).toFixed(0)).join(' ');
  console.log(`${what.padEnd(28)} FID ${s.fid.toFixed(2)}  KID ${s.kid.toPrecision(3)} +- ${s.kidStd.toPrecision(2)}  classes ${s.classesCovered}/${s.classHistogram.length}  KL to uniform ${s.classKL.toFixed(4)}  histogram % [${share}]`);
}

/** An error as one line a person can read: its first line, cut at 1,000 characters. */
const oneLine = (m: string) => {
  const line = m.split('\n')[0];
  return line.length > 1000 ? `${line.slice(0, 1000)}... (${line.length - 1000} more characters)` : line;
};

export async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    const err = e as Error & { code?: string; exitCode?: number };
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
    // commander already printed its own one-line message for usage errors.
    if (e instanceof Interrupted) process.stderr.write(`${err.message}\n`);
    else if (!err.code?.startsWith('commander.')) process.stderr.write(`onnx-gan: ${oneLine(err.message)}\n`);
    return err.exitCode && err.exitCode !== 0 ? err.exitCode : 1;
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('/harness/cli.ts')) {
  process.exitCode = await main(process.argv.slice(2));
}
