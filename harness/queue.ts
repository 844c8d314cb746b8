// Sweeps on a Redis job queue (BullMQ): `sweep --queue` enqueues one job per run and collects the results;
// `worker` on any number of machines runs jobs as child `onnx-gan train` processes. Results (metrics,
// samples, loss curves) come back through Redis as the job's return value, so workers need no shared disk.
// Delivery is at least once (a worker that dies loses its lock and the run goes to another worker); the
// client keys results by run, writes each run's files once and then removes its job, so a run is never
// counted twice. A worker told to stop (SIGTERM) has its runs checkpoint, attaches each checkpoint to its
// job and puts the job back in the queue: the next worker resumes it, bit-identical to an unbroken run.
// Whoever can write to the Redis can add jobs and answer them: both sides check what they read against
// queue-messages.ts before it reaches a path, a process or a report.
import { Queue, UnrecoverableError, WaitingError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { printable } from '../graph/serialize.ts';
import { CONFIG_KEYS, parseConfig, parseConfigText, type ConfigKey } from './config.ts';
import { inside, makeDir, writeFileAtomic } from './files.ts';
import { lockHolder, withLock } from './lock.ts';
import { check, JobDataSchema, JobResultSchema, RESULT_FILES, type JobData, type JobResult, type SweepRecord } from './queue-messages.ts';
import { CKPT_DIR, listCheckpoints } from './run-dir.ts';
import { PASSWORD_ENV, prepareSweepDir, readFinished, readSweepRecord, resultBase, runSettings, runSpecs, specRecord, startRun, writeReports, type RunProcess, type RunResult, type RunSpec, type SweepOptions, type SweepSpec } from './sweep.ts';

/** One queue serves every sweep; job ids are `<sweep id>.<run key>`. */
export const QUEUE_NAME = 'onnx-gan-runs';


/** How to reach the queue: its URL and, optionally, a file holding the password and a CA for rediss://. */
export interface QueueAccess {
  /** redis[s]://[user[:password]@]host:port[/db] */
  queue: string;
  passwordFile?: string;
  /** PEM file of the certificate authority that signed the server's certificate (rediss://). */
  caFile?: string;
}

const access = (a: string | QueueAccess): QueueAccess => (typeof a === 'string' ? { queue: a } : a);

/** The URL with its password shown as ***: what every message, hint and file says. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (!u.password) return url;
    u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/\/\/([^@/]*):[^@/]*@/, '//$1:***@');
  }
}

/** The URL without its password, for sweep.json: the password is given again where it is used. */
function withoutPassword(url: string): string {
  const u = new URL(url);
  u.password = '';
  return u.toString();
}

/** Command-line arguments with any password in a URL shown as ***, for hints that repeat a command. */
export const redactArgs = (args: string[]) => args.map((a) => (/^rediss?:\/\//.test(a) ? redact(a) : a));

/** The file a flag names, or one line naming the flag, the file and why it cannot be read. */
function flagFile(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new Error(`${flag} ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** redis[s]://[user[:password]@]host:port[/db] -> ioredis options; errors name the flag and never the password. */
export function redisOptions(a: string | QueueAccess, flag = '--queue'): { host: string; port: number; db: number; username?: string; password?: string; tls?: { ca?: Buffer; servername?: string } } {
  const { queue: url, passwordFile, caFile } = access(a);
  const shown = redact(url);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`${flag} ${shown}: not a URL; expected redis://HOST:PORT[/DB] or rediss://HOST:PORT[/DB] (TLS)`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error(`${flag} ${shown}: expected redis://HOST:PORT[/DB] or rediss://HOST:PORT[/DB] (got the scheme ${u.protocol})`);
  const db = u.pathname && u.pathname !== '/' ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw new Error(`${flag} ${shown}: the database '${u.pathname.slice(1)}' is not a non-negative integer`);
  let password = u.password ? decodeURIComponent(u.password) : undefined;
  if (passwordFile) password = flagFile('--queue-password-file', passwordFile).toString('utf8').replace(/\r?\n$/, '');
  else if (!password && process.env[PASSWORD_ENV]) password = process.env[PASSWORD_ENV];
  const host = u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  let tls: { ca?: Buffer; servername?: string } | undefined;
  if (u.protocol === 'rediss:') {
    // SNI carries names only: for an address the certificate is checked against its IP entries.
    tls = isIP(host) ? {} : { servername: host };
    if (caFile) tls.ca = flagFile('--queue-ca', caFile);
  } else if (caFile) throw new Error(`--queue-ca: ${shown} is not a TLS URL; use rediss://`);
  return { host, port: u.port ? Number(u.port) : 6379, db, ...(u.username ? { username: decodeURIComponent(u.username) } : {}), ...(password ? { password } : {}), ...(tls ? { tls } : {}) };
}

/** Fail fast, in one line, when Redis is not there (ioredis would otherwise retry forever). */
async function checkReachable(a: string | QueueAccess): Promise<ConnectionOptions> {
  const o = redisOptions(a);
  const probe = new Redis({ ...o, lazyConnect: true, connectTimeout: 5000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  let cause: Error | null = null;
  probe.on('error', (e) => (cause ??= e));
  try {
    await probe.connect();
    await probe.ping();
  } catch (e) {
    const why = (cause ?? (e as Error)).message.split('\n')[0];
    throw new Error(`--queue ${redact(access(a).queue)}: cannot reach Redis (${o.password ? why.split(o.password).join('***') : why})`);
  } finally {
    probe.disconnect();
  }
  // BullMQ's blocking commands need ioredis not to give up on a request.
  return { ...o, maxRetriesPerRequest: null };
}

const jobId = (sweep: string, key: string) => `${sweep}.${key}`;

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

// ---- the client ------------------------------------------------------------------------------------

export interface QueueSweepOptions extends SweepOptions, QueueAccess {
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

const specOf = (r: SweepRecord): SweepSpec => ({ ...r.spec, protocol: r.spec.protocol ?? undefined });

function queuedRecord(out: string): { id: string; queue: string; spec: SweepSpec } {
  const record = readSweepRecord(out);
  if (!record?.id || !record.queue) throw new Error(`${out} holds no queued sweep (no sweep.json with a queue id); start one with onnx-gan sweep --queue redis://HOST:PORT --out ${out}`);
  return { id: record.id, queue: record.queue, spec: specOf(record) };
}

/** Enqueue (or, with --resume, re-attach to) a sweep's runs, wait for all of them, write the reports. */
export async function queueSweep(o: QueueSweepOptions): Promise<RunResult[]> {
  const connection = await checkReachable(o);
  return withLock(resolve(o.out), 'onnx-gan sweep --queue', 'sweep directory', undefined, () => {
    // --force on a queued sweep: its jobs that are not running are dropped with it (a running one finishes
    // and is never collected). Read before the directory is cleared; a record that does not read drops nothing.
    let replaced: SweepRecord | null = null;
    try {
      if (o.force) replaced = readSweepRecord(resolve(o.out));
    } catch {
      /* nothing to drop */
    }
    return collectSweep(prepareSweepDir(o), o, connection, replaced);
  });
}

async function collectSweep(out: string, o: QueueSweepOptions, connection: ConnectionOptions, replaced: SweepRecord | null): Promise<RunResult[]> {
  const spec: SweepSpec = { data: o.data, losses: o.losses, seeds: o.seeds, iterations: o.iterations, packs: o.packs, protocol: o.protocol };
  // A local sweep's directory resumed on a queue gets a queue id too; the URL is kept without its password.
  const record = specRecord(out, spec, !!o.resume, { id: randomUUID().slice(0, 8), queue: withoutPassword(o.queue) });
  const id = record.id!;
  const runs = runSpecs(spec);
  const queue = new Queue<JobData, JobResult>(QUEUE_NAME, { connection });
  const results = new Map<string, RunResult>();
  try {
    if (replaced?.id) for (const r of runSpecs(specOf(replaced))) await (await queue.getJob(jobId(replaced.id, r.key)))?.remove().catch(() => {});
    // Runs the sweep directory already holds are done; the others are (re-)added: an id already queued,
    // running or waiting to be collected is not added twice.
    for (const r of runs) {
      const { result } = readFinished(r, join(out, 'runs', r.key));
      if (result) results.set(r.key, result);
    }
    const todo = runs.filter((r) => !results.has(r.key));
    await queue.addBulk(todo.map((r) => ({ name: r.key, data: { sweep: id, run: r }, opts: { jobId: jobId(id, r.key), attempts: 2, removeOnComplete: false, removeOnFail: false } })));
    for (;;) {
      const counts: QueueCounts = { queued: 0, running: 0, done: 0, failed: 0, total: runs.length };
      for (const r of runs) {
        if (results.has(r.key)) continue;
        const jid = jobId(id, r.key);
        // The state first, the job after: a job read before it completes carries no return value.
        const raw = await queue.getJobState(jid);
        const job = raw === 'unknown' ? undefined : await queue.getJob(jid);
        if (!job) throw new Error(`the job of run ${r.key} (${jid}) is gone from the queue at ${redact(o.queue)}; resume with --resume to queue it again`);
        const state = bucket(raw);
        if (state !== 'done' && state !== 'failed') {
          counts[state]++;
          continue;
        }
        const res = state === 'done' ? collect(out, r, jid, job.returnvalue) : { ...resultBase(r, join(out, 'runs', r.key)), status: 'crashed' as const, error: `job ${jid} failed: ${printable(job.failedReason, 500)}` };
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

/**
 * A finished job's files into the sweep directory, and the run's result as the client reads it from them: a
 * result that fails its schema is a crashed run naming the job and the field, and nothing of it is written.
 */
function collect(out: string, r: RunSpec, jid: string, value: unknown): RunResult {
  const dir = inside(join(out, 'runs'), [r.key], 'run key');
  const base = resultBase(r, dir);
  let v: JobResult;
  try {
    v = check(JobResultSchema, value, `result of job ${jid}`);
  } catch (e) {
    return { ...base, status: 'crashed', error: (e as Error).message };
  }
  for (const [f, text] of Object.entries(v.files)) writeFileAtomic(inside(dir, [f], 'result file'), text);
  const { status, seconds, error } = v.result;
  if (status !== 'ok') return { ...base, status: status === 'interrupted' ? 'crashed' : status, seconds, ...(error ? { error } : {}) };
  const read = readFinished(r, dir);
  return read.result ?? { ...base, status: 'crashed', seconds, error: `result of job ${jid}: ${read.problem}` };
}

/** `sweep --status`: where each run of the sweep in `out` stands. */
export async function sweepStatus(out: string, a?: Partial<QueueAccess>): Promise<QueueCounts & { id: string; byRun: Record<string, string> }> {
  const record = queuedRecord(out);
  const connection = await checkReachable({ ...a, queue: a?.queue ?? record.queue });
  const queue = new Queue<JobData, JobResult>(QUEUE_NAME, { connection });
  try {
    const counts: QueueCounts = { queued: 0, running: 0, done: 0, failed: 0, total: 0 };
    const byRun: Record<string, string> = {};
    for (const r of runSpecs(record.spec)) {
      counts.total++;
      if (readFinished(r, join(out, 'runs', r.key)).result) {
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
