// `onnx-gan sweep`: every loss x data set x packing x seed, here (--workers) or on a Redis queue (--queue);
// --status says where a queued sweep stands.
import { Command, Option } from 'commander';
import { existsSync } from 'node:fs';
import { PROTOCOLS } from '../../run/config.ts';
import { DATASETS } from '../../data/mixtures.ts';
import { Interrupted, stopOnSignals } from '../interrupt.ts';
import { sweep } from '../../sweep/local.ts';
import { queueSweep, sweepStatus } from '../../sweep/queue-client.ts';
import { publishedRow } from '../../run/protocols.ts';
import { markdownTable, summarize } from '../../sweep/report.ts';
import { type RunResult, expandLosses } from '../../sweep/runs.ts';
import { PASSWORD_ENV, redactArgs } from '../../sweep/queue-access.ts';
import { progress } from '../progress.ts';
import { num, numList, positiveInts } from '../options.ts';

export function sweepCommand(cli: Command): void {
  cli
    .command('sweep')
    .description('train every loss on the same architecture and budget; write a table and an HTML report')
    .option('--data <list>', 'data sets, comma separated: ring8, grid25, fashion-mnist, or paths of image folders / IDX files (image data sweeps here, not on a queue)', 'ring8,grid25')
    .option('--image-size <n>', 'image data: resize every image to N x N', num)
    .option('--classifier <file>', 'image data: score each run with onnx-gan eval and this classifier (classifier-feature FID / KID against Fashion-MNIST\'s test split)')
    .option('--eval-samples <n>', 'image data: generated images per score', num, 2000)
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
      for (const d of data) if (!Object.hasOwn(DATASETS, d) && d !== 'fashion-mnist' && !existsSync(d)) throw new Error(`--data: unknown data set '${d}' (not ring8, grid25 or fashion-mnist, and no such path)`);
      positiveInts(o, ['seeds', 'iterations', 'workers', 'imageSize', 'evalSamples']);
      if (o.classifier && !existsSync(o.classifier)) throw new Error(`--classifier: ${o.classifier} not found; make it with onnx-gan train-classifier --out ${o.classifier}`);
      if (o.classifier && data.some((d) => d !== 'fashion-mnist' && !Object.hasOwn(DATASETS, d))) throw new Error(`--classifier: the scores compare against Fashion-MNIST's test split, so they apply to --data fashion-mnist only`);
      for (const m of o.pack) if (!Number.isInteger(m) || m < 1 || m > 64) throw new Error(`--pack: each packing degree must be an integer from 1 to 64, got ${m}`);
      const preset = o.protocol ? PROTOCOLS[o.protocol as keyof typeof PROTOCOLS].settings : null;
      const losses = expandLosses(preset && o.loss === 'all' ? preset.loss : String(o.loss));
      const iterations = o.iterations ?? preset?.iterations ?? 2000;
      const total = data.length * losses.length * o.pack.length * o.seeds;
      const bar = progress(o.queue ? 'sweep [{bar}] {value}/{total} runs | {queued} queued, {running} running, {done} done, {failed} failed' : 'sweep [{bar}] {value}/{total} runs | {last}', o.json);
      const stop = stopOnSignals(bar.say);
      const spec = { data, losses, seeds: o.seeds, iterations, packs: o.pack, protocol: o.protocol, imageSize: o.imageSize, classifier: o.classifier, evalSamples: o.classifier ? o.evalSamples : undefined, out: o.out, resume: o.resume, force: o.force, stopRequested: stop.requested };
      const score = (r: RunResult) => (r.modes !== undefined ? `${r.modesCaptured}/${r.modes} modes` : r.fid !== undefined ? `FID ${r.fid.toFixed(2)}` : 'done');
      const last = (r: RunResult) => `${r.data}/${r.loss}${r.pack > 1 ? `/pack${r.pack}` : ''}/s${r.seed}: ${r.status === 'ok' ? score(r) : r.status}`;
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
}
