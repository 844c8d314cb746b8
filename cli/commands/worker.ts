// `onnx-gan worker`: serve a sweep queue until told to stop.
import { Command } from 'commander';
import { flagOf } from '../../run/config.ts';
import { stopOnSignals } from '../interrupt.ts';
import { runWorker } from '../../sweep/queue-worker.ts';
import { PASSWORD_ENV } from '../../sweep/queue-access.ts';
import { num, positiveInts } from '../options.ts';

export function workerCommand(cli: Command): void {
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
}
