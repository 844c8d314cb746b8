// What crosses Redis, described once and checked on arrival by both sides. Anyone who can write to the
// queue's Redis can add any job and answer any job with any result, so a worker checks every job and the
// client every result before a byte of it reaches a path, a process or a report: sweep ids and run keys
// match what a sweep makes, file names come from fixed lists, numbers are finite and bounded.
import { z } from 'zod';
import { DIVERGENCES, LOSSES } from '../losses/index.ts';
import { DATASETS } from '../data/mixtures.ts';
import { MAX_ITERATIONS } from '../training/checkpoint.ts';
import { PROTOCOLS } from '../run/config.ts';

/** A sweep's id on the queue: what `sweep --queue` makes (8 hex digits of a random UUID). */
export const SWEEP_ID = /^[0-9a-f]{8}$/;

const has = (o: object, k: string) => Object.hasOwn(o, k);
/** A loss a run can have: a registered loss, or f-GAN with a named divergence. */
export const isRunLoss = (n: string) => (has(LOSSES, n) && n !== 'fgan') || (n.startsWith('fgan-') && has(DIVERGENCES, n.slice(5)));

/** Image data a sweep takes by name; any other name that is not a 2-D mixture is a path (local sweeps only). */
export const IMAGE_SETS = ['fashion-mnist'];
export const isMixture = (d: string) => has(DATASETS, d);

/** A data set as a directory-name part: its name, or a path's last part with only [A-Za-z0-9._-] kept. */
export const dataName = (d: string) => (isMixture(d) || IMAGE_SETS.includes(d) ? d : (d.replace(/[\\/]+$/, '').split(/[\\/]/).pop() || 'data').replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_').slice(0, 48));

/** The run's directory name and job id: data-loss[-packM]-sSEED. */
export const runKey = (r: { data: string; loss: string; pack: number; seed: number }) => `${dataName(r.data)}-${r.loss}${r.pack > 1 ? `-pack${r.pack}` : ''}-s${r.seed}`;

export const RunSpecSchema = z
  .object({
    key: z.string().max(128),
    data: z.string().refine((d) => has(DATASETS, d), 'not a built-in data set'),
    loss: z.string().max(64).refine(isRunLoss, 'not a known loss'),
    seed: z.number().int().min(0).max(1_000_000),
    pack: z.number().int().min(1).max(64),
    iterations: z.number().int().min(1).max(MAX_ITERATIONS),
    protocol: z.enum(Object.keys(PROTOCOLS) as [string, ...string[]]).optional(),
    imageSize: z.number().int().min(4).max(1024).optional(),
  })
  .strict()
  .refine((r) => r.key === runKey(r), { message: 'does not match the run it names', path: ['key'] });

export type RunSpec = z.infer<typeof RunSpecSchema>;

/** The files of a stopped run that travel to the worker resuming it. */
export const CKPT_FILE = /^checkpoints\/ckpt-\d{9}\.safetensors$/;
const HANDOFF_NAMES = ['config.json', 'metrics.jsonl'];
/** The files of a finished run that travel back to the client: enough for the reports. */
export const RESULT_FILES = ['config.json', 'metrics.json', 'metrics.jsonl', 'samples.csv', 'samples.svg'] as const;

const MiB = 1 << 20;
const base64 = (max: number) => z.string().max(max).regex(/^[A-Za-z0-9+/]*={0,2}$/, 'not base64');

export const JobDataSchema = z
  .object({
    sweep: z.string().regex(SWEEP_ID, 'not a sweep id'),
    run: RunSpecSchema,
    /** A stopped worker's run: its config, log and newest checkpoint as base64, to resume from. */
    handoff: z
      .record(z.string().refine((n) => HANDOFF_NAMES.includes(n) || CKPT_FILE.test(n), 'not a file a run hands over'), base64(96 * MiB))
      .refine((h) => Object.keys(h).filter((n) => CKPT_FILE.test(n)).length <= 1, 'more than one checkpoint')
      .optional(),
  })
  .strict();

export type JobData = z.infer<typeof JobDataSchema>;

const count = z.number().int().min(0).max(1_000_000);

export const JobResultSchema = z
  .object({
    result: z
      .object({
        status: z.enum(['ok', 'diverged', 'crashed', 'interrupted']),
        error: z.string().max(2000).optional(),
        seconds: z.number().finite().min(0).max(1e9),
        // The worker's own reading; the client scores the run from the files it returns.
        modesCaptured: count.optional(),
        modes: count.optional(),
        highQualityPct: z.number().finite().min(0).max(100).optional(),
        reverseKL: z.number().finite().min(0).nullable().optional(),
      })
      .strict(),
    files: z.partialRecord(z.enum(RESULT_FILES), z.string().max(64 * MiB)),
  })
  .strict();

export type JobResult = z.infer<typeof JobResultSchema>;

/** What defines a sweep (sweep.json's spec): every data set x loss x packing degree x seed, one budget. */
const dataPath = z.string().min(1).max(4096).refine((d) => !/[\0\n\r]/.test(d), 'not a data set name or path');
export const SweepSpecSchema = z.object({
  // Local sweeps also take image folders and IDX files by path; the queue's run specs take mixtures only.
  data: z.array(dataPath).min(1).max(16),
  // A name, not necessarily a loss: a sweep records a run with an unknown loss as crashed, and the queue's
  // run specs are checked strictly on their own.
  losses: z.array(z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'not a loss name')).min(1).max(64),
  seeds: z.number().int().min(1).max(10_000),
  iterations: z.number().int().min(1).max(MAX_ITERATIONS),
  packs: z.array(z.number().int().min(1).max(64)).min(1).max(64).optional(),
  protocol: z.enum(Object.keys(PROTOCOLS) as [string, ...string[]]).nullable().optional(),
  imageSize: z.number().int().min(4).max(1024).nullable().optional(),
  classifier: dataPath.nullable().optional(),
  evalSamples: z.number().int().min(1).max(100_000).nullable().optional(),
});

/** sweep.json: the settings a sweep directory was made with; a queued sweep's id and queue (never its password). */
export const SweepRecordSchema = z.object({ id: z.string().regex(SWEEP_ID, 'not a sweep id').optional(), queue: z.string().max(2048).optional(), spec: SweepSpecSchema });

export type SweepRecord = z.infer<typeof SweepRecordSchema>;

/** metrics.json of a finished 2-D run, as read back from disk. */
export const MixtureMetricsFileSchema = z.object({
  iterations: z.number().int().min(1).max(MAX_ITERATIONS),
  seconds: z.number().finite().min(0),
  modesCaptured: count,
  modes: count.min(1),
  highQualityPct: z.number().finite().min(0).max(100),
  reverseKL: z.number().finite().min(0).nullable(),
});

const share = z.number().finite().min(0).max(1);

/** metrics.json of a finished image run, with eval's scores where the sweep scored it. */
export const ImageMetricsFileSchema = z.object({
  iterations: z.number().int().min(1).max(MAX_ITERATIONS),
  seconds: z.number().finite().min(0),
  eval: z
    .object({
      fid: z.number().finite().min(0),
      kid: z.number().finite(),
      kidStd: z.number().finite().min(0),
      samples: z.number().int().min(1),
      manifold: z.object({ precision: share, recall: share, density: z.number().finite().min(0), coverage: share }).optional(),
    })
    .optional(),
});

/** What eval reports that a sweep keeps (eval --json, and metrics.json's 'eval'). */
export const EvalScoresSchema = ImageMetricsFileSchema.shape.eval.unwrap();
export type EvalScores = z.infer<typeof EvalScoresSchema>;

/** Parse `v` or throw one line naming `what` and the field at fault. */
export function check<T>(schema: z.ZodType<T>, v: unknown, what: string): T {
  const r = schema.safeParse(v);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  // a.b for names, a["../x"] for keys that are not: a hostile key reads as what it is.
  const path = issue.path.map((k, i) => (typeof k === 'string' && /^[A-Za-z_$][\w$]*$/.test(k) ? `${i ? '.' : ''}${k}` : `[${JSON.stringify(typeof k === 'symbol' ? String(k) : k).slice(0, 100)}]`)).join('');
  const at = issue.path.length ? `'${path}'` : 'the whole value';
  // A record key's own check says more than zod's 'Invalid key in record'.
  const inner = issue.code === 'invalid_key' ? (issue as { issues?: { message: string }[] }).issues?.[0]?.message : undefined;
  throw new Error(`${what}: ${at}: ${(inner ?? issue.message).slice(0, 200)}`);
}
