// `onnx-gan worker`: runs sweep jobs from the queue as child `onnx-gan train` processes. A job is checked
// against job-schema.ts before it reaches a path or a process; a run's files go back through Redis as the
// job's result, so workers need no shared disk. Told to stop (SIGTERM), its runs checkpoint, each
// checkpoint is attached to its job and the job goes back to the queue: the next worker resumes it,
// bit-identical to an unbroken run.
import { UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { printable } from '../graph/serialize.ts';
import { CONFIG_KEYS, parseConfig, parseConfigText, type ConfigKey } from '../run/config.ts';
import { inside, makeDir, writeFileAtomic } from '../run/files.ts';
import { lockHolder } from '../run/lock.ts';
import { check, JobDataSchema, RESULT_FILES, type JobData, type JobResult } from './job-schema.ts';
import { CKPT_DIR, listCheckpoints } from '../run/run-dir.ts';
import { QUEUE_NAME, checkReachable, jobId, redact, type QueueAccess } from './queue-access.ts';
import { type RunProcess, runSettings, startRun } from './runs.ts';

// ---- the worker ------------------------------------------------------------------------------------

export interface WorkerOptions extends QueueAccess {
  concurrency?: number;
  threads?: number;
  /** A directory every worker sees: runs live there, and a run retried after a worker died resumes from its checkpoint. */
  runsDir?: string;
  /** How long a job stays locked to a worker that stopped renewing it (died) before another takes it. */
  lockSeconds?: number;
  /** Once told to stop, the worker is gone within this many seconds, whatever Redis does. */
  stopSeconds?: number;
  log?: (m: string) => void;
  /** Checked every 200 ms: once true, runs in flight checkpoint and go back to the queue, and the worker ends. */
  stopRequested?: () => boolean;
}

export interface WorkerReport {
  completed: number;
  handedBack: number;
  /** Jobs refused for what they held (named in the log and in each job's failure). */
  refused: number;
}

/** A file a worker writes into each run directory it makes: it removes no directory without one. */
const MADE_BY_WORKER = '.onnx-gan-worker';

/** What a result file may weigh; a run's reports need far less. */
const MAX_RESULT_FILE = 64 << 20;

export async function runWorker(o: WorkerOptions): Promise<WorkerReport> {
  const connection = await checkReachable(o);
  const say = o.log ?? (() => {});
  const name = `${process.env.HOSTNAME ?? 'worker'}:${process.pid}`;
  const root = o.runsDir ? resolve(o.runsDir) : mkdtempSync(join(tmpdir(), 'onnx-gan-worker-'));
  const scratch = !o.runsDir;
  const running = new Set<RunProcess>();
  const report: WorkerReport = { completed: 0, handedBack: 0, refused: 0 };
  let stopping = false;
  const lock = Math.round((o.lockSeconds ?? 30) * 1000);
  const refuse = (job: Job, why: string): never => {
    report.refused++;
    say(`job ${printable(job.id)} refused: ${why}`);
    // Failed for good, not retried: the same job would be refused again.
    throw new UnrecoverableError(why);
  };

  const processor = async (job: Job<JobData, JobResult>, token?: string): Promise<JobResult> => {
    let data: JobData;
    let dir: string;
    try {
      data = check(JobDataSchema, job.data, `job ${printable(job.id)}`);
      if (job.id !== jobId(data.sweep, data.run.key)) throw new Error(`job ${printable(job.id)}: its id does not name its run (${jobId(data.sweep, data.run.key)})`);
      dir = inside(root, [data.sweep, data.run.key], 'run directory');
      if (data.handoff) checkHandoffConfig(data, dir, o.threads);
    } catch (e) {
      return refuse(job, (e as Error).message);
    }
    const { sweep, run, handoff } = data;
    if (existsSync(dir) && !existsSync(join(dir, MADE_BY_WORKER))) return refuse(job, `${dir} exists and no onnx-gan worker made it; it is left as it is`);
    // A run whose last worker died may still be saving its checkpoint there (its process stops once it sees
    // its worker gone): wait for it to let go, so the resumed run starts from that checkpoint.
    await untilFree(dir, lock + 30_000);
    if (handoff) {
      rmSync(dir, { recursive: true, force: true });
      madeDir(dir);
      for (const [f, b64] of Object.entries(handoff)) writeFileAtomic(inside(dir, f.split('/'), 'handoff file'), Buffer.from(b64, 'base64'));
    } else if (!existsSync(dir)) madeDir(dir);
    // A shared directory may hold the checkpoints of an attempt whose worker died: resume from them.
    const resume = existsSync(join(dir, 'config.json'));
    say(`${run.key}: ${resume ? 'resuming' : 'starting'} (job ${job.id}, attempt ${job.attemptsStarted})`);
    const p = startRun(run, dir, {
      resume,
      threads: o.threads,
      onMessage: (m) => {
        const at = /^resuming from .* at iteration (\d+)/.exec(m);
        if (at) say(`${run.key}: resumed from iteration ${at[1]}`);
      },
    });
    running.add(p);
    if (stopping) p.stop();
    const r = await p.result.finally(() => running.delete(p));
    // A run told to stop while it was still starting may end killed rather than checkpointed: hand it back all the same.
    if (r.status === 'interrupted' || (stopping && r.status !== 'ok')) {
      await job.updateData({ sweep, run, handoff: handoffFiles(dir) });
      await job.moveToWait(token);
      report.handedBack++;
      say(`${run.key}: checkpointed and handed back to the queue`);
      throw new WaitingError();
    }
    const files = resultFiles(dir);
    if (scratch) rmSync(dir, { recursive: true, force: true });
    report.completed++;
    const { dir: _dir, data: _d, loss: _l, seed: _s, pack: _p, ...result } = r;
    say(`${run.key}: ${r.status}${r.status === 'ok' ? `, ${r.modesCaptured}/${r.modes} modes` : r.error ? `: ${r.error}` : ''}`);
    return { result: { ...result, ...(result.error ? { error: result.error.slice(0, 2000) } : {}) }, files };
  };

  const worker = new Worker<JobData, JobResult>(QUEUE_NAME, processor, {
    connection,
    concurrency: o.concurrency ?? 1,
    lockDuration: lock,
    stalledInterval: lock,
    // A run survives this many dead workers before it is failed.
    maxStalledCount: 10,
  });
  worker.on('error', (e) => say(`worker: ${e.message}`));
  say(`worker ${name}: waiting for runs on ${redact(o.queue)} (concurrency ${o.concurrency ?? 1}, ${o.threads ?? 1} thread${(o.threads ?? 1) > 1 ? 's' : ''} each${o.runsDir ? `, runs in ${o.runsDir}` : ''})`);
  const bound = o.stopSeconds ?? 60;
  await new Promise<void>((done) => {
    const poll = setInterval(() => {
      if (!o.stopRequested?.() || stopping) return;
      stopping = true;
      clearInterval(poll);
      for (const p of running) p.stop();
      // close() takes no new job and waits for the ones in flight, which hand themselves back; without
      // Redis it would wait for ever, so after `bound` seconds the worker goes and says where the runs are.
      const giveUp = setTimeout(() => {
        say(`worker: Redis did not answer within ${bound} s of the stop; runs in flight are not handed back (their checkpoints are in ${root}; their jobs go to another worker when their locks expire)`);
        void worker.disconnect().catch(() => {});
        done();
      }, bound * 1000);
      giveUp.unref();
      void worker.close().then(done, done);
    }, 200);
    worker.on('closed', () => (clearInterval(poll), done()));
  });
  if (scratch && running.size === 0) rmSync(root, { recursive: true, force: true });
  return report;
}

function madeDir(dir: string): void {
  makeDir(dir);
  writeFileSync(join(dir, MADE_BY_WORKER), `${process.pid}\n`);
}

async function untilFree(dir: string, ms: number): Promise<void> {
  const t0 = Date.now();
  while (lockHolder(dir) && Date.now() - t0 < ms) await new Promise((r) => setTimeout(r, 200));
}

/**
 * A handed-over config.json must be the one this run would write (the train process resumes under it):
 * parsed by the command line's schema and equal, key by key, to the run's own settings.
 */
function checkHandoffConfig(data: JobData, dir: string, threads = 1): void {
  const b64 = data.handoff!['config.json'];
  if (b64 === undefined) throw new Error(`job ${jobId(data.sweep, data.run.key)}: handoff has a checkpoint but no config.json`);
  const held = parseConfigText(Buffer.from(b64, 'base64').toString('utf8'), `job ${jobId(data.sweep, data.run.key)}: handoff config.json`);
  const own = parseConfig({ ...runSettings(data.run, threads), out: dir });
  for (const k of Object.keys(CONFIG_KEYS) as ConfigKey[])
    if (k !== 'out' && k !== 'threads' && JSON.stringify(held[k]) !== JSON.stringify(own[k])) throw new Error(`job ${jobId(data.sweep, data.run.key)}: handoff config.json: '${k}' is not this run's`);
}

/** What another worker needs to resume a stopped run: its config, log and newest checkpoint. */
function handoffFiles(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of ['config.json', 'metrics.jsonl']) if (existsSync(join(dir, f))) out[f] = readFileSync(join(dir, f)).toString('base64');
  const [newest] = listCheckpoints(join(dir, CKPT_DIR));
  if (newest) out[`${CKPT_DIR}/${newest}`] = readFileSync(join(dir, CKPT_DIR, newest)).toString('base64');
  return out;
}

/** The report files of a finished run: plain files of the run directory (a link there is not followed). */
function resultFiles(dir: string): JobResult['files'] {
  const files: JobResult['files'] = {};
  for (const f of RESULT_FILES) {
    const st = lstatSync(join(dir, f), { throwIfNoEntry: false });
    if (st?.isFile() && st.size <= MAX_RESULT_FILE) files[f] = readFileSync(join(dir, f), 'utf8');
  }
  return files;
}
