// `onnx-gan sweep`: every loss x data set x packing degree x seed on the same architecture and budget,
// each run a child `train` process (a crash or divergence is recorded and the others go on), up to
// `workers` at a time here, or as jobs on a Redis queue (harness/queue.ts, which reuses this file's runs). A signal
// stops it: each run in flight checkpoints, and `--resume` later skips the finished runs and resumes the
// others. Writes
// runs.csv (one line per run), summary.md and summary.csv (mean and spread over seeds), and report.html,
// which opens from disk: the table, each run's samples and loss curves, drawn in the page by vega-lite.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { DIVERGENCES, LOSSES } from '../losses/index.ts';
import { dataset } from '../data/mixtures.ts';
import { flagOf } from './config.ts';
import { ownDir, writeFileAtomic } from './files.ts';
import { withLock } from './lock.ts';
import { check, MixtureMetricsFileSchema, runKey, SweepRecordSchema, type RunSpec, type SweepRecord } from './queue-messages.ts';

/** What defines a sweep: every data set x loss x packing degree x seed, with the same budget. */
export interface SweepSpec {
  data: string[];
  /** Loss variants: registry names, or fgan-<divergence>. */
  losses: string[];
  seeds: number;
  iterations: number;
  /** PacGAN packing degrees (default [1]). */
  packs?: number[];
  /** A published setup's settings (harness/config.ts PROTOCOLS) under every run. */
  protocol?: string;
}

export interface SweepOptions extends SweepSpec {
  workers?: number;
  out: string;
  /** Skip finished runs, resume interrupted ones. */
  resume?: boolean;
  /** Replace an existing sweep directory. */
  force?: boolean;
  onRunDone?: (r: RunResult, done: number, total: number) => void;
  /** Checked before each run starts; once true, no run starts and the runs in flight are told to stop. */
  stopRequested?: () => boolean;
}

export type { RunSpec };

export interface RunResult {
  data: string;
  loss: string;
  seed: number;
  pack: number;
  status: 'ok' | 'diverged' | 'crashed' | 'interrupted';
  error?: string;
  seconds: number;
  modesCaptured?: number;
  modes?: number;
  highQualityPct?: number;
  reverseKL?: number | null;
  dir: string;
}

/** 'all' -> every registered loss, f-GAN once per divergence. */
export function expandLosses(spec: string): string[] {
  const names = spec === 'all' ? Object.keys(LOSSES) : spec.split(',').map((s) => s.trim());
  const out: string[] = [];
  for (const n of names) {
    if (n === 'fgan') out.push(...Object.keys(DIVERGENCES).map((d) => `fgan-${d}`));
    else if (n.startsWith('fgan-') && DIVERGENCES[n.slice(5)]) out.push(n);
    else if (LOSSES[n]) out.push(n);
    else throw new Error(`unknown loss '${n}'; valid losses: all, ${Object.keys(LOSSES).join(', ')}, fgan-<${Object.keys(DIVERGENCES).join('|')}>`);
  }
  return out;
}

/** The runs of a sweep, in report order. */
export function runSpecs(o: SweepSpec): RunSpec[] {
  const out: RunSpec[] = [];
  for (const data of o.data)
    for (const loss of o.losses)
      for (const pack of o.packs ?? [1])
        for (let seed = 0; seed < o.seeds; seed++)
          out.push({ key: runKey({ data, loss, pack, seed }), data, loss, seed, pack, iterations: o.iterations, ...(o.protocol ? { protocol: o.protocol } : {}) });
  return out;
}

const BIN = new URL('../bin/onnx-gan.js', import.meta.url).pathname;

/** Where the queue's password may come from besides the URL (which `ps` shows); a run's process does not inherit it. */
export const PASSWORD_ENV = 'ONNX_GAN_REDIS_PASSWORD';

/** A run's `train` settings as config keys: the flags it is started with, and what its config.json holds. */
export function runSettings(r: RunSpec, threads = 1): Record<string, string | number> {
  const [loss, divergence] = r.loss.startsWith('fgan-') ? ['fgan', r.loss.slice(5)] : [r.loss, undefined];
  return {
    data: r.data, loss, ...(divergence ? { divergence } : {}), ...(r.protocol ? { protocol: r.protocol } : {}), ...(r.pack > 1 ? { pack: r.pack } : {}),
    seed: r.seed, iterations: r.iterations, logEvery: Math.max(25, Math.round(r.iterations / 200)), checkpointEvery: Math.max(50, Math.round(r.iterations / 20)), keepCheckpoints: 1, threads,
  };
}

/** The `onnx-gan train` arguments of a run (resumed from its checkpoint when `resume` and it has one). */
export function trainArgs(r: RunSpec, dir: string, resume: boolean, threads = 1): string[] {
  const mode = resume && existsSync(join(dir, 'config.json')) ? '--resume' : '--force';
  return ['train', ...Object.entries(runSettings(r, threads)).flatMap(([k, v]) => [flagOf(k), String(v)]), '--out', dir, mode, '--json'];
}

/** A run a previous sweep (or a worker) finished: its metrics.json, checked, or null with the reason. */
export function readFinished(r: RunSpec, dir: string): { result: RunResult | null; problem: string } {
  const file = join(dir, 'metrics.json');
  try {
    const m = check(MixtureMetricsFileSchema, JSON.parse(readFileSync(file, 'utf8')), file);
    if (m.iterations !== r.iterations) return { result: null, problem: `${file}: 'iterations' is ${m.iterations}, the run has ${r.iterations}` };
    return { result: { ...resultBase(r, dir), status: 'ok', seconds: m.seconds, modesCaptured: m.modesCaptured, modes: m.modes, highQualityPct: m.highQualityPct, reverseKL: m.reverseKL }, problem: '' };
  } catch (e) {
    return { result: null, problem: (e as NodeJS.ErrnoException).code === 'ENOENT' ? `${file} is missing` : (e as Error).message.split('\n')[0] };
  }
}

export const finished = (r: RunSpec, dir: string): RunResult | null => readFinished(r, dir).result;

/** A run's place in the grid, before any result: what every RunResult of it starts from. */
export const resultBase = (r: RunSpec, dir: string) => ({ data: r.data, loss: r.loss, seed: r.seed, pack: r.pack, seconds: 0, dir });

export interface RunProcess {
  result: Promise<RunResult>;
  /** Ask the run to stop: it checkpoints and ends as 'interrupted'. */
  stop(): void;
}

/**
 * One run as a child `onnx-gan train` process, in its own process group: a terminal's Ctrl-C reaches the
 * sweep or worker, which passes one signal on (a second one would make the run quit without its checkpoint).
 */
export function startRun(r: RunSpec, dir: string, o: { resume: boolean; threads?: number; onMessage?: (line: string) => void }): RunProcess {
  const t0 = performance.now();
  const child = spawn(process.execPath, [BIN, ...trainArgs(r, dir, o.resume, o.threads)], { stdio: ['pipe', 'pipe', 'pipe'], detached: true, env: { ...process.env, [PASSWORD_ENV]: undefined, ONNX_GAN_STOP_WITH_PARENT: '1' } });
  let out = '';
  let err = '';
  child.stdout.on('data', (b) => (out += b));
  let seen = 0;
  child.stderr.on('data', (b) => {
    err += b;
    const end = err.lastIndexOf('\n');
    if (end < seen) return;
    for (const line of err.slice(seen, end).split('\n')) if (line.trim()) o.onMessage?.(line);
    seen = end + 1;
  });
  const result = new Promise<RunResult>((done) => {
    child.on('close', (code, signal) => {
      const base = { ...resultBase(r, dir), seconds: (performance.now() - t0) / 1000 };
      if (code === 0) {
        try {
          const j = JSON.parse(out.trim().split('\n').pop()!);
          return done({ ...base, status: 'ok', seconds: j.seconds, modesCaptured: j.modesCaptured, modes: j.modes, highQualityPct: j.highQualityPct, reverseKL: j.reverseKL });
        } catch {
          return done({ ...base, status: 'crashed', error: 'no JSON result' });
        }
      }
      const msg = err.trim().split('\n').pop() ?? '';
      if (code === 130) return done({ ...base, status: 'interrupted', error: msg });
      done({ ...base, status: /diverged/.test(msg) ? 'diverged' : 'crashed', error: signal ? `killed by ${signal}` : msg.replace(/^onnx-gan: /, '') });
    });
  });
  return { result, stop: () => void (child.exitCode === null && !child.killed && child.kill('SIGINT')) };
}

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
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file} is not JSON: ${(e as Error).message.split('\n')[0]}`);
  }
  return check(SweepRecordSchema, v, file);
}

/**
 * The settings a sweep directory was made with (sweep.json); --resume refuses others, naming both. `extra`
 * (a queued sweep's id and queue) is written with a new record, and added to a resumed one that lacks it.
 */
export function specRecord(out: string, spec: SweepSpec, resume: boolean, extra: { id?: string; queue?: string } = {}): SweepRecord {
  const file = join(out, 'sweep.json');
  const pick = (s: SweepSpec | SweepRecord['spec']) => ({ data: s.data, losses: s.losses, seeds: s.seeds, iterations: s.iterations, packs: s.packs ?? [1], protocol: s.protocol ?? null });
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
          let r = o.resume ? finished(jobs[k], dir) : null;
          if (!r && o.stopRequested?.()) r = { ...resultBase(jobs[k], dir), status: 'interrupted' };
          if (!r) {
            const p = startRun(jobs[k], dir, { resume: !!o.resume });
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

// ---- tables ----------------------------------------------------------------------------------------

export interface Row {
  data: string;
  loss: string;
  pack: number;
  runs: number;
  ok: number;
  diverged: number;
  crashed: number;
  modes: number;
  modesMean: number | null;
  modesStd: number | null;
  hqMean: number | null;
  hqStd: number | null;
  rklMean: number | null;
  rklStd: number | null;
  seconds: number;
}

const meanStd = (xs: number[]): [number | null, number | null] => {
  if (!xs.length) return [null, null];
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return [m, Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length)];
};

export function summarize(results: RunResult[]): Row[] {
  const groups = new Map<string, RunResult[]>();
  for (const r of results) groups.set(`${r.data}|${r.loss}|${r.pack}`, [...(groups.get(`${r.data}|${r.loss}|${r.pack}`) ?? []), r]);
  return [...groups.values()].map((rs) => {
    const ok = rs.filter((r) => r.status === 'ok');
    const [modesMean, modesStd] = meanStd(ok.map((r) => r.modesCaptured!));
    const [hqMean, hqStd] = meanStd(ok.map((r) => r.highQualityPct!));
    const [rklMean, rklStd] = meanStd(ok.filter((r) => r.reverseKL !== null).map((r) => r.reverseKL!));
    return {
      data: rs[0].data,
      loss: rs[0].loss,
      pack: rs[0].pack,
      runs: rs.length,
      ok: ok.length,
      diverged: rs.filter((r) => r.status === 'diverged').length,
      crashed: rs.filter((r) => r.status === 'crashed').length,
      modes: ok[0]?.modes ?? (rs[0].data === 'grid25' ? 25 : 8),
      modesMean,
      modesStd,
      hqMean,
      hqStd,
      rklMean,
      rklStd,
      seconds: rs.reduce((a, r) => a + r.seconds, 0) / rs.length,
    };
  });
}

const f = (x: number | null, d = 1) => (x === null ? 'n/a' : x.toFixed(d));
const pm = (m: number | null, s: number | null, d = 1) => (m === null ? 'n/a' : `${f(m, d)} ± ${f(s, d)}`);

/** The loss column: the loss, and its packing degree where the critic judged packs. */
const lossLabel = (r: { loss: string; pack: number }) => (r.pack > 1 ? `${r.loss}, pack ${r.pack}` : r.loss);

/**
 * The summary table. With `published` (a protocol's numbers from its paper), each measured row is followed
 * by the paper's row for the same data and packing degree, so the two read side by side.
 */
export function markdownTable(rows: Row[], published?: (r: Row) => Published | null): string {
  const lines = ['| data | loss | modes captured | high quality % | reverse KL | wall s / run | diverged |', '|---|---|---|---|---|---|---|'];
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  const em = (c: string) => (c ? `*${markdownCell(c)}*` : '');
  for (const r of rows) {
    lines.push(line([r.data, lossLabel(r), `${pm(r.modesMean, r.modesStd)} / ${r.modes}`, pm(r.hqMean, r.hqStd), pm(r.rklMean, r.rklStd, 2), r.seconds.toFixed(0), r.diverged + r.crashed ? `${r.diverged} diverged${r.crashed ? `, ${r.crashed} crashed` : ''} of ${r.runs}` : 'no'].map(markdownCell)));
    const p = published?.(r);
    if (p) lines.push(line([markdownCell(r.data), ...[p.source, `${f(p.modes)} / ${r.modes}`, f(p.hq), p.rkl === null ? 'n/a' : f(p.rkl, 2), '', ''].map(em)]));
  }
  return lines.join('\n') + '\n';
}

export interface Published {
  source: string;
  modes: number;
  hq: number;
  rkl: number | null;
}

/**
 * PacGAN's Table 1 as ../shared/anchors.md gives it (mean over 10 trials of 400 epochs): the unpacked GAN,
 * PacGAN2 and PacGAN4. PacGAN3's row is not among the anchors, so m = 3 has no published row here.
 */
const PACGAN_TABLE: Record<string, Record<number, Omit<Published, 'source'>>> = {
  ring8: { 1: { modes: 6.3, hq: 98.2, rkl: 0.45 }, 2: { modes: 7.9, hq: 95.6, rkl: 0.07 }, 4: { modes: 7.8, hq: 95.9, rkl: null } },
  grid25: { 1: { modes: 17.3, hq: 94.8, rkl: 0.7 }, 2: { modes: 23.8, hq: 91.3, rkl: null }, 4: { modes: 24.8, hq: 93.6, rkl: 0.04 } },
};

export function publishedRow(protocol: string | undefined, r: { data: string; loss: string; pack: number }): Published | null {
  if (protocol !== 'pacgan' || r.loss !== 'ns') return null;
  const p = PACGAN_TABLE[r.data]?.[r.pack];
  return p ? { source: `PacGAN paper, ${r.pack > 1 ? `PacGAN${r.pack}` : 'GAN'} (400 epochs, 10 runs)`, ...p } : null;
}

/** Text as HTML text or attribute content. */
export const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** Text as one Markdown table cell: no pipe, line break, markup or HTML gets through as such. */
export const markdownCell = (s: string) => s.replace(/[\\`*_[\]|<>&]/g, (c) => (c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '&' ? '&amp;' : `\\${c}`)).replace(/\r?\n/g, ' ');

/** A CSV cell; text that a spreadsheet would run as a formula (=, +, -, @ first) is kept as text. */
const csvCell = (v: unknown) => {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'string' && /^[=+\-@\t\r]/.test(v) ? `'${v}` : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};
function csv(rows: Record<string, unknown>[], cols: string[]): string {
  return [cols.join(','), ...rows.map((r) => cols.map((c) => csvCell(r[c])).join(','))].join('\n') + '\n';
}

export function writeReports(out: string, results: RunResult[], o: SweepSpec): void {
  const rows = summarize(results);
  writeFileAtomic(join(out, 'runs.csv'), csv(results as unknown as Record<string, unknown>[], ['data', 'loss', 'pack', 'seed', 'status', 'modesCaptured', 'modes', 'highQualityPct', 'reverseKL', 'seconds', 'error']));
  const withPublished = rows.flatMap((r) => {
    const p = publishedRow(o.protocol, r);
    return [r, ...(p ? [{ data: r.data, loss: p.source, pack: r.pack, modes: r.modes, modesMean: p.modes, hqMean: p.hq, rklMean: p.rkl }] : [])];
  });
  writeFileAtomic(join(out, 'summary.csv'), csv(withPublished as unknown as Record<string, unknown>[], ['data', 'loss', 'pack', 'runs', 'ok', 'diverged', 'crashed', 'modes', 'modesMean', 'modesStd', 'hqMean', 'hqStd', 'rklMean', 'rklStd', 'seconds']));
  const header = sweepHeader(o);
  writeFileAtomic(join(out, 'summary.md'), header + markdownTable(rows, (r) => publishedRow(o.protocol, r)));
  writeFileAtomic(join(out, 'report.html'), reportHtml(results, rows, header, o.protocol));
}

function sweepHeader(o: SweepSpec): string {
  const packs = o.packs && (o.packs.length > 1 || o.packs[0] !== 1) ? ` x packing ${o.packs.join(', ')}` : '';
  const protocol = o.protocol ? `, ${o.protocol} protocol` : '';
  return `Sweep: ${o.data.join(', ')} x ${o.losses.length} loss${o.losses.length > 1 ? 'es' : ''}${packs} x ${o.seeds} seeds${protocol}, ${o.iterations.toLocaleString('en')} generator iterations each, metrics on 2,500 samples (mean ± std over seeds that finished).\n\n`;
}

// ---- HTML report -----------------------------------------------------------------------------------

function readRun(r: RunResult) {
  const samples: number[][] = [];
  const p = join(r.dir, 'samples.csv');
  if (existsSync(p)) {
    const lines = readFileSync(p, 'utf8').trim().split('\n').slice(1);
    for (let i = 0; i < lines.length; i += Math.max(1, Math.floor(lines.length / 600))) samples.push(lines[i].split(',').map(Number));
  }
  const curves: { iteration: number; D: number; G: number }[] = [];
  const m = join(r.dir, 'metrics.jsonl');
  if (existsSync(m))
    for (const line of readFileSync(m, 'utf8').trim().split('\n')) {
      try {
        const j = JSON.parse(line);
        curves.push({ iteration: j.iteration, D: j['D.loss'], G: j['G.loss'] });
      } catch {
        /* a line cut by a crash */
      }
    }
  return { samples, curves };
}

/** A file inside an installed package that its "exports" map does not list (the browser builds). */
function packageFile(pkg: string, rel: string): string {
  let dir = dirname(createRequire(import.meta.url).resolve(pkg));
  while (!existsSync(join(dir, 'package.json')) || JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name !== pkg) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find the ${pkg} package`);
    dir = up;
  }
  return join(dir, rel);
}

function reportHtml(results: RunResult[], rows: Row[], header: string, protocol?: string): string {
  const vega = readFileSync(packageFile('vega', 'build/vega.min.js'), 'utf8');
  const vegaLite = readFileSync(packageFile('vega-lite', 'build/vega-lite.min.js'), 'utf8');
  const runs = results.map((r) => ({ ...r, ...readRun(r), centers: dataset(r.data).centers }));
  // Every cell is text, escaped here; the run cards below are built from text nodes in the page.
  const row = (cls: string, cells: unknown[]) => `<tr class="${cls}">${cells.map((c) => `<td>${escapeHtml(String(c))}</td>`).join('')}</tr>`;
  const table = rows
    .map((r) => {
      const p = publishedRow(protocol, r);
      const paper = p ? row('paper', [r.data, p.source, `${f(p.modes)} / ${r.modes}`, f(p.hq), p.rkl === null ? 'n/a' : f(p.rkl, 2), '', '']) : '';
      return row(r.diverged + r.crashed ? 'bad' : '', [r.data, lossLabel(r), `${pm(r.modesMean, r.modesStd)} / ${r.modes}`, pm(r.hqMean, r.hqStd), pm(r.rklMean, r.rklStd, 2), r.seconds.toFixed(0), r.diverged + r.crashed ? `${r.diverged + r.crashed} of ${r.runs}` : 'no']) + paper;
    })
    .join('\n');
  const data = JSON.stringify(runs).replace(/</g, '\\u003c');
  return `<!doctype html><html><head><meta charset="utf-8"><title>onnx-gan sweep</title>
<style>body{font:14px system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:nth-child(-n+2){text-align:left}tr.bad td{background:#fde8e8}tr.paper td{font-style:italic;color:#555}
.grid{display:flex;flex-wrap:wrap;gap:12px}.card{border:1px solid #ddd;padding:6px;width:540px}.card h4{margin:0 0 4px;font-size:13px}.err{color:#b00;font-size:12px}</style></head><body>
<h1>onnx-gan sweep</h1><p>${escapeHtml(header)}</p>
<table><tr><th>data</th><th>loss</th><th>modes captured</th><th>high quality %</th><th>reverse KL</th><th>wall s / run</th><th>diverged</th></tr>${table}</table>
<h2>Runs</h2><div id="runs" class="grid"></div>
<script>${vega}</script><script>${vegaLite}</script>
<script>
const RUNS = ${data};
const grid = document.getElementById('runs');
for (const r of RUNS) {
  const card = document.createElement('div'); card.className = 'card';
  const head = r.status === 'ok' ? r.modesCaptured + '/' + r.modes + ' modes, ' + Number(r.highQualityPct).toFixed(1) + '% HQ' : r.status;
  const title = document.createElement('h4');
  title.textContent = r.data + ' / ' + r.loss + (r.pack > 1 ? ' pack ' + r.pack : '') + ' / seed ' + r.seed + ': ' + head;
  card.append(title);
  if (r.error) {
    const err = document.createElement('div'); err.className = 'err'; err.textContent = r.error; card.append(err);
  }
  const a = document.createElement('div'), b = document.createElement('div'); card.append(a, b); grid.append(card);
  const lim = Math.max(...r.centers.flat().map(Math.abs)) + 0.5;
  const sc = { domain: [-lim, lim], clamp: true };
  const scatter = { width: 220, height: 220, layer: [
    { data: { values: r.samples.map(([x, y]) => ({ x, y })) }, mark: { type: 'circle', size: 5, opacity: 0.5 },
      encoding: { x: { field: 'x', type: 'quantitative', title: null, scale: sc }, y: { field: 'y', type: 'quantitative', title: null, scale: sc } } },
    { data: { values: r.centers.map(([x, y]) => ({ x, y })) }, mark: { type: 'point', shape: 'cross', size: 40, color: '#d62728', filled: true },
      encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' } } } ] };
  const curves = { width: 160, height: 200, data: { values: r.curves.flatMap((c) => [{ iteration: c.iteration, loss: c.D, net: 'D' }, { iteration: c.iteration, loss: c.G, net: 'G' }]) },
    mark: 'line', encoding: { x: { field: 'iteration', type: 'quantitative' }, y: { field: 'loss', type: 'quantitative' }, color: { field: 'net', type: 'nominal', legend: { orient: 'bottom' } } } };
  const show = (el, spec) => new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'svg', container: el }).runAsync();
  if (r.samples.length) show(a, scatter);
  if (r.curves.length) show(b, curves);
  a.style.display = b.style.display = 'inline-block';
}
</script></body></html>
`;
}
