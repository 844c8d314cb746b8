// Sweeps on a Redis job queue (BullMQ): `sweep --queue` enqueues one job per run and collects the results;
// `worker` on any number of machines runs jobs as child `onnx-gan train` processes. Results (metrics,
// samples, loss curves) come back through Redis as the job's return value, so workers need no shared disk.
// Delivery is at least once (a worker that dies loses its lock and the run goes to another worker); the
// client keys results by run, writes each run's files once and then removes its job, so a run is never
// counted twice. A worker told to stop (SIGTERM) has its runs checkpoint, attaches each checkpoint to its
// job and puts the job back in the queue: the next worker resumes it, bit-identical to an unbroken run.
import { Queue, WaitingError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from './files.ts';
import { CKPT_DIR, listCheckpoints } from './run-dir.ts';
import { finished, prepareSweepDir, resultBase, runSpecs, specRecord, startRun, writeReports, type RunProcess, type RunResult, type RunSpec, type SweepOptions, type SweepSpec } from './sweep.ts';

/** One queue serves every sweep; job ids are `<sweep id>.<run key>`. */
export const QUEUE_NAME = 'onnx-gan-runs';

/** The files of a run that travel back to the client: enough for the reports. */
const RESULT_FILES = ['config.json', 'metrics.json', 'metrics.jsonl', 'samples.csv', 'samples.svg'];

interface JobData {
  sweep: string;
  run: RunSpec;
  /** A stopped worker's run: its directory's files as base64 (config, log, newest checkpoint), to resume from. */
  handoff?: Record<string, string>;
}

interface JobResult {
  result: Omit<RunResult, 'dir'>;
  files: Record<string, string>;
}

/** redis://[user:password@]host:port[/db] -> ioredis options; the error names the flag. */
export function redisOptions(url: string, flag = '--queue'): { host: string; port: number; db: number; username?: string; password?: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`${flag} ${url}: not a URL; expected redis://HOST:PORT[/DB]`);
  }
  if (u.protocol !== 'redis:') throw new Error(`${flag} ${url}: expected redis://HOST:PORT[/DB] (got the scheme ${u.protocol})`);
  const db = u.pathname && u.pathname !== '/' ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw new Error(`${flag} ${url}: the database '${u.pathname.slice(1)}' is not a non-negative integer`);
  return { host: u.hostname || '127.0.0.1', port: u.port ? Number(u.port) : 6379, db, ...(u.username ? { username: decodeURIComponent(u.username) } : {}), ...(u.password ? { password: decodeURIComponent(u.password) } : {}) };
}

/** Fail fast, in one line, when Redis is not there (ioredis would otherwise retry forever). */
async function checkReachable(url: string): Promise<ConnectionOptions> {
  const o = redisOptions(url);
  const probe = new Redis({ ...o, lazyConnect: true, connectTimeout: 5000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  let cause: Error | null = null;
  probe.on('error', (e) => (cause ??= e));
  try {
    await probe.connect();
    await probe.ping();
  } catch (e) {
    throw new Error(`--queue ${url}: cannot reach Redis (${(cause ?? (e as Error)).message.split('\n')[0]})`);
  } finally {
    probe.disconnect();
  }
  // BullMQ's blocking commands need ioredis not to give up on a request.
  return { ...o, maxRetriesPerRequest: null };
}

const jobId = (sweep: string, key: string) => `${sweep}.${key}`;

// ---- the worker ------------------------------------------------------------------------------------

export interface WorkerOptions {
  queue: string;
  concurrency?: number;
  threads?: number;
  /** A directory every worker sees: runs live there, and a run retried after a worker died resumes from its checkpoint. */
  runsDir?: string;
  /** How long a job stays locked to a worker that stopped renewing it (died) before another takes it. */
  lockSeconds?: number;
  log?: (m: string) => void;
  /** Checked every 200 ms: once true, runs in flight checkpoint and go back to the queue, and the worker ends. */
  stopRequested?: () => boolean;
}

export interface WorkerReport {
  completed: number;
  handedBack: number;
}

export async function runWorker(o: WorkerOptions): Promise<WorkerReport> {
  const connection = await checkReachable(o.queue);
  const say = o.log ?? (() => {});
  const name = `${process.env.HOSTNAME ?? 'worker'}:${process.pid}`;
  const scratch = o.runsDir ? null : mkdtempSync(join(tmpdir(), 'onnx-gan-worker-'));
  const running = new Set<RunProcess>();
  const report: WorkerReport = { completed: 0, handedBack: 0 };
  let stopping = false;
  const lock = Math.round((o.lockSeconds ?? 30) * 1000);

  const processor = async (job: Job<JobData, JobResult>, token?: string): Promise<JobResult> => {
    const { sweep, run, handoff } = job.data;
    const dir = join(o.runsDir ? resolve(o.runsDir) : scratch!, sweep, run.key);
    if (handoff) {
      rmSync(dir, { recursive: true, force: true });
      for (const [f, b64] of Object.entries(handoff)) writeFileAtomic(join(dir, f), Buffer.from(b64, 'base64'));
    }
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
    const files = Object.fromEntries(RESULT_FILES.filter((f) => existsSync(join(dir, f))).map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
    if (scratch) rmSync(dir, { recursive: true, force: true });
    report.completed++;
    const { dir: _dir, ...result } = r;
    say(`${run.key}: ${r.status}${r.status === 'ok' ? `, ${r.modesCaptured}/${r.modes} modes` : r.error ? `: ${r.error}` : ''}`);
    return { result, files };
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
  say(`worker ${name}: waiting for runs on ${o.queue} (concurrency ${o.concurrency ?? 1}, ${o.threads ?? 1} thread${(o.threads ?? 1) > 1 ? 's' : ''} each${o.runsDir ? `, runs in ${o.runsDir}` : ''})`);
  await new Promise<void>((done) => {
    const poll = setInterval(() => {
      if (!o.stopRequested?.() || stopping) return;
      stopping = true;
      clearInterval(poll);
      for (const p of running) p.stop();
      // close() takes no new job and waits for the ones in flight, which hand themselves back; without
      // Redis it would wait for ever, so after a minute the worker goes and says where the runs are.
      const giveUp = setTimeout(() => {
        say(`worker: Redis did not answer for 60 s; runs in flight are not handed back (their checkpoints are in ${o.runsDir ?? scratch}; their jobs go to another worker when their locks expire)`);
        void worker.disconnect().catch(() => {});
        done();
      }, 60_000);
      giveUp.unref();
      void worker.close().then(done, done);
    }, 200);
    worker.on('closed', () => (clearInterval(poll), done()));
  });
  if (scratch && running.size === 0) rmSync(scratch, { recursive: true, force: true });
  return report;
}

/** What another worker needs to resume a stopped run: its config, log and newest checkpoint. */
function handoffFiles(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of ['config.json', 'metrics.jsonl']) if (existsSync(join(dir, f))) out[f] = readFileSync(join(dir, f)).toString('base64');
  const [newest] = listCheckpoints(join(dir, CKPT_DIR));
  if (newest) out[join(CKPT_DIR, newest)] = readFileSync(join(dir, CKPT_DIR, newest)).toString('base64');
  return out;
}

// ---- the client ------------------------------------------------------------------------------------

export interface QueueSweepOptions extends SweepOptions {
  queue: string;
  /** Called every poll with the counts of the sweep's runs by state. */
  onCounts?: (c: QueueCounts) => void;
}

export interface QueueCounts {
  queued: number;
  running: number;
  done: number;
  failed: number;
  total: number;
}

/** sweep.json: the sweep's id on the queue and its spec, so `--resume` and `--status` find its jobs. */
interface SweepRecord {
  id: string;
  queue: string;
  spec: SweepSpec;
}

function readRecord(out: string): SweepRecord {
  const file = join(out, 'sweep.json');
  const record = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Partial<SweepRecord>) : null;
  if (!record?.id) throw new Error(`${out} holds no queued sweep (no sweep.json with a queue id); start one with onnx-gan sweep --queue redis://HOST:PORT --out ${out}`);
  return record as SweepRecord;
}

/** Enqueue (or, with --resume, re-attach to) a sweep's runs, wait for all of them, write the reports. */
export async function queueSweep(o: QueueSweepOptions): Promise<RunResult[]> {
  const connection = await checkReachable(o.queue);
  // --force on a queued sweep: its jobs that are not running are dropped with it (a running one finishes and is never collected).
  const replaced = o.force && existsSync(join(o.out, 'sweep.json')) ? JSON.parse(readFileSync(join(o.out, 'sweep.json'), 'utf8')) : null;
  const out = prepareSweepDir(o);
  const spec: SweepSpec = { data: o.data, losses: o.losses, seeds: o.seeds, iterations: o.iterations, packs: o.packs, protocol: o.protocol };
  // A local sweep's directory resumed on a queue gets a queue id too.
  const record = specRecord(out, spec, !!o.resume, { id: randomUUID().slice(0, 8), queue: o.queue }) as unknown as SweepRecord;
  const runs = runSpecs(spec);
  const queue = new Queue<JobData, JobResult>(QUEUE_NAME, { connection });
  const results = new Map<string, RunResult>();
  try {
    if (replaced?.id) for (const r of runSpecs(replaced.spec)) await (await queue.getJob(jobId(replaced.id, r.key)))?.remove().catch(() => {});
    // Runs the sweep directory already holds are done; the others are (re-)added: an id already queued,
    // running or waiting to be collected is not added twice.
    for (const r of runs) {
      const f = finished(r, join(out, 'runs', r.key));
      if (f) results.set(r.key, f);
    }
    const todo = runs.filter((r) => !results.has(r.key));
    await queue.addBulk(todo.map((r) => ({ name: r.key, data: { sweep: record.id, run: r }, opts: { jobId: jobId(record.id, r.key), attempts: 2, removeOnComplete: false, removeOnFail: false } })));
    for (;;) {
      const counts: QueueCounts = { queued: 0, running: 0, done: 0, failed: 0, total: runs.length };
      for (const r of runs) {
        if (results.has(r.key)) continue;
        const id = jobId(record.id, r.key);
        // The state first, the job after: a job read before it completes carries no return value.
        const raw = await queue.getJobState(id);
        const job = raw === 'unknown' ? undefined : await queue.getJob(id);
        if (!job) throw new Error(`the job of run ${r.key} (${id}) is gone from the queue at ${o.queue}; resume with --resume to queue it again`);
        const state = bucket(raw);
        if (state !== 'done' && state !== 'failed') {
          counts[state]++;
          continue;
        }
        const res = state === 'done' ? collect(out, r, job.returnvalue) : { ...resultBase(r, join(out, 'runs', r.key)), status: 'crashed' as const, error: job.failedReason };
        results.set(r.key, res);
        // Written to disk first, removed from Redis after: a crash in between leaves the job, which the next --resume collects again into the same files.
        await job.remove();
        o.onRunDone?.(res, results.size, runs.length);
      }
      counts.done = [...results.values()].filter((r) => r.status === 'ok').length;
      counts.failed = results.size - counts.done;
      o.onCounts?.(counts);
      if (results.size === runs.length) break;
      // The client stopping stops nothing else: the runs stay queued and running, for --resume to collect.
      if (o.stopRequested?.()) return runs.map((r) => results.get(r.key) ?? { ...resultBase(r, join(out, 'runs', r.key)), status: 'interrupted' });
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    await queue.close();
  }
  const ordered = runs.map((r) => results.get(r.key)!);
  writeReports(out, ordered, spec);
  return ordered;
}

/** Where a BullMQ job state counts: waiting, delayed and prioritized jobs are all queued. */
const bucket = (state: string): 'queued' | 'running' | 'done' | 'failed' => (state === 'completed' ? 'done' : state === 'failed' ? 'failed' : state === 'active' ? 'running' : 'queued');

/** A finished job's files into the sweep directory; its result, pointing there. */
function collect(out: string, r: RunSpec, v: JobResult): RunResult {
  const dir = join(out, 'runs', r.key);
  for (const [f, text] of Object.entries(v.files)) writeFileAtomic(join(dir, f), text);
  return { ...v.result, dir };
}

/** `sweep --status`: where each run of the sweep in `out` stands. */
export async function sweepStatus(out: string, queueUrl?: string): Promise<QueueCounts & { id: string; byRun: Record<string, string> }> {
  const record = readRecord(out);
  const connection = await checkReachable(queueUrl ?? record.queue);
  const queue = new Queue<JobData, JobResult>(QUEUE_NAME, { connection });
  try {
    const counts: QueueCounts = { queued: 0, running: 0, done: 0, failed: 0, total: 0 };
    const byRun: Record<string, string> = {};
    for (const r of runSpecs(record.spec)) {
      counts.total++;
      if (finished(r, join(out, 'runs', r.key))) {
        byRun[r.key] = 'done';
        counts.done++;
        continue;
      }
      const job = await queue.getJob(jobId(record.id, r.key));
      const state = job ? await job.getState() : 'not queued';
      byRun[r.key] = state === 'completed' ? 'done (not yet collected)' : state;
      if (job) counts[bucket(state)]++;
    }
    return { id: record.id, ...counts, byRun };
  } finally {
    await queue.close();
  }
}
