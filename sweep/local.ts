// `onnx-gan sweep` on this machine: the sweep directory (sweep.json, runs/), and up to `workers` runs at
// a time. A signal stops it: each run in flight checkpoints, and `--resume` later skips the finished runs
// and resumes the others.

import { existsSync, readdirSync, rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { ownDir, writeFileAtomic, readJsonObject } from '../run/files.ts';
import { withLock } from '../run/lock.ts';
import { check, SweepRecordSchema, type SweepRecord } from './job-schema.ts';
import { runSpecs, finished, resultBase, startRun, type RunProcess, type RunResult, type SweepOptions, type SweepSpec } from './runs.ts';
import { writeReports } from './report.ts';

/** What a sweep directory holds; an existing one needs --resume or --force. */
const SWEEP_OUTPUTS = ['runs', 'runs.csv', 'summary.csv', 'summary.md', 'report.html', 'sweep.json'];

/** A sweep directory made ready: refused if it holds a sweep and neither --resume nor --force was given. */
export function prepareSweepDir(o: Pick<SweepOptions, 'out' | 'resume' | 'force'>): string {
  const out = resolve(o.out);
  const held = existsSync(out) ? readdirSync(out).filter((e) => SWEEP_OUTPUTS.includes(e)) : [];
  if (held.length && !o.resume && !o.force) throw new Error(`sweep directory ${out} already exists; pass --resume to finish it (finished runs are kept) or --force to replace it`);
  if (o.force) for (const e of held) rmSync(join(out, e), { recursive: true, force: true });
  ownDir(join(out, 'runs'));
  return out;
}

/** sweep.json as read back from disk (checked), or null where there is none. */
export function readSweepRecord(out: string): SweepRecord | null {
  const file = join(out, 'sweep.json');
  if (!existsSync(file)) return null;
  return check(SweepRecordSchema, readJsonObject(file), file);
}

/**
 * The settings a sweep directory was made with (sweep.json); --resume refuses others, naming both. `extra`
 * (a queued sweep's id and queue) is written with a new record, and added to a resumed one that lacks it.
 */
export function specRecord(out: string, spec: SweepSpec, resume: boolean, extra: { id?: string; queue?: string } = {}): SweepRecord {
  const file = join(out, 'sweep.json');
  const pick = (s: SweepSpec | SweepRecord['spec']) => ({ data: s.data, losses: s.losses, seeds: s.seeds, iterations: s.iterations, packs: s.packs ?? [1], protocol: s.protocol ?? null, imageSize: s.imageSize ?? null, classifier: s.classifier ?? null, evalSamples: s.evalSamples ?? null });
  let record: SweepRecord = { ...extra, spec: pick(spec) };
  const held = resume ? readSweepRecord(out) : null;
  if (held) {
    if (JSON.stringify(pick(held.spec)) !== JSON.stringify(pick(spec))) throw new Error(`--resume: ${file} was made with other settings (${JSON.stringify(pick(held.spec))}, now ${JSON.stringify(pick(spec))}); pass the same ones, or --force to replace the sweep`);
    if (Object.keys(extra).every((k) => k in held)) return held;
    record = { ...extra, ...held };
  }
  writeFileAtomic(file, JSON.stringify(record, null, 2) + '\n');
  return record;
}

export async function sweep(o: SweepOptions): Promise<RunResult[]> {
  return withLock(resolve(o.out), 'onnx-gan sweep', 'sweep directory', undefined, () => sweepIn(prepareSweepDir(o), o));
}

async function sweepIn(out: string, o: SweepOptions): Promise<RunResult[]> {
  specRecord(out, o, !!o.resume);
  const jobs = runSpecs(o);
  const score = o.classifier ? { classifier: resolve(o.classifier), samples: o.evalSamples ?? 2000 } : undefined;
  const workers = Math.max(1, Math.min(o.workers ?? cpus().length, jobs.length));
  const results: RunResult[] = new Array(jobs.length);
  const running = new Set<RunProcess>();
  let next = 0;
  let done = 0;
  const stopping = setInterval(() => {
    if (!o.stopRequested?.()) return;
    for (const p of running) p.stop();
    clearInterval(stopping);
  }, 100);
  try {
    await Promise.all(
      Array.from({ length: workers }, async () => {
        while (next < jobs.length) {
          const k = next++;
          const dir = join(out, 'runs', jobs[k].key);
          let r = o.resume ? finished(jobs[k], dir, !!score) : null;
          if (!r && o.stopRequested?.()) r = { ...resultBase(jobs[k], dir), status: 'interrupted' };
          if (!r) {
            const p = startRun(jobs[k], dir, { resume: !!o.resume, score });
            running.add(p);
            r = await p.result;
            running.delete(p);
            // Stopped before it could listen (killed while loading): unfinished, for --resume to run.
            if (o.stopRequested?.() && r.status !== 'ok') r = { ...r, status: 'interrupted' };
          }
          results[k] = r;
          o.onRunDone?.(r, ++done, jobs.length);
        }
      }),
    );
  } finally {
    clearInterval(stopping);
  }
  if (!results.some((r) => r.status === 'interrupted')) writeReports(out, results, o);
  return results;
}
