// `onnx-gan sweep --queue`: one job per run, results collected as they come. Delivery is at least once
// (a worker that dies loses its lock and the run goes to another worker); results are keyed by run, each
// run's files written once and its job then removed, so a run is never counted twice. A result is checked
// against job-schema.ts and scored from its own metrics.json, not from what the worker claims.
import { Queue, type ConnectionOptions } from 'bullmq';
import { randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import { printable } from '../graph/serialize.ts';
import { inside, writeFileAtomic } from '../run/files.ts';
import { withLock } from '../run/lock.ts';
import { check, isMixture, JobResultSchema, type RunSpec, type JobData, type JobResult, type SweepRecord } from './job-schema.ts';
import { QUEUE_NAME, checkReachable, jobId, redact, type QueueAccess, withoutPassword } from './queue-access.ts';
import { prepareSweepDir, readSweepRecord, specRecord } from './local.ts';
import { writeReports } from './report.ts';
import { type RunResult, type SweepOptions, type SweepSpec, readFinished, resultBase, runSpecs } from './runs.ts';

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

const specOf = (r: SweepRecord): SweepSpec => ({ ...r.spec, protocol: r.spec.protocol ?? undefined, imageSize: r.spec.imageSize ?? undefined, classifier: r.spec.classifier ?? undefined, evalSamples: r.spec.evalSamples ?? undefined });

function queuedRecord(out: string): { id: string; queue: string; spec: SweepSpec } {
  const record = readSweepRecord(out);
  if (!record?.id || !record.queue) throw new Error(`${out} holds no queued sweep (no sweep.json with a queue id); start one with onnx-gan sweep --queue redis://HOST:PORT --out ${out}`);
  return { id: record.id, queue: record.queue, spec: specOf(record) };
}

/** Enqueue (or, with --resume, re-attach to) a sweep's runs, wait for all of them, write the reports. */
export async function queueSweep(o: QueueSweepOptions): Promise<RunResult[]> {
  // A worker returns a run's reports, not its checkpoints, and knows no path of this machine: image runs
  // (read from files here, scored from their checkpoints) sweep locally.
  const images = o.data.find((d) => !isMixture(d));
  if (images) throw new Error(`--queue: '${images}' is image data; queued sweeps take the 2-D mixtures (ring8, grid25); sweep images here with --workers`);
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
