// `onnx-gan sweep`: every loss x data set x seed on the same architecture and budget, each run a child
// process (a crash or divergence is recorded and the others go on), up to `workers` at a time. A signal
// stops it: each run in flight checkpoints, and `--resume` later skips the finished runs and resumes the
// others. Writes
// runs.csv (one line per run), summary.md and summary.csv (mean and spread over seeds), and report.html,
// which opens from disk: the table, each run's samples and loss curves, drawn in the page by vega-lite.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { DIVERGENCES, LOSSES } from '../losses/index.ts';
import { dataset } from '../data/mixtures.ts';
import { writeFileAtomic } from './files.ts';

export interface SweepOptions {
  data: string[];
  /** Loss variants: registry names, or fgan-<divergence>. */
  losses: string[];
  seeds: number;
  iterations: number;
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

export interface RunResult {
  data: string;
  loss: string;
  seed: number;
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

const BIN = new URL('../bin/onnx-gan.js', import.meta.url).pathname;

/** A run a previous sweep finished: its metrics.json, as the child printed them. */
function finished(dir: string, base: Omit<RunResult, 'status'>, iterations: number): RunResult | null {
  try {
    const m = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8'));
    if (typeof m.modesCaptured !== 'number' || m.iterations !== iterations) return null;
    return { ...base, status: 'ok', seconds: m.seconds ?? base.seconds, modesCaptured: m.modesCaptured, modes: m.modes, highQualityPct: m.highQualityPct, reverseKL: m.reverseKL };
  } catch {
    return null;
  }
}

const children = new Set<ReturnType<typeof spawn>>();

function runOne(data: string, loss: string, seed: number, iterations: number, dir: string, resume: boolean): Promise<RunResult> {
  const lossArgs = loss.startsWith('fgan-') ? ['--loss', 'fgan', '--divergence', loss.slice(5)] : ['--loss', loss];
  const mode = resume && existsSync(join(dir, 'config.json')) ? '--resume' : '--force';
  const args = [BIN, 'train', '--data', data, ...lossArgs, '--seed', String(seed), '--iterations', String(iterations), '--log-every', '25', '--checkpoint-every', String(iterations), '--keep-checkpoints', '1', '--threads', '1', '--out', dir, mode, '--json'];
  const t0 = performance.now();
  return new Promise((done) => {
    // Its own process group: a terminal's Ctrl-C reaches the sweep, which passes one signal on (a second
    // one would make the run quit without its checkpoint).
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    children.add(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (err += b));
    child.on('close', (code, signal) => {
      children.delete(child);
      const seconds = (performance.now() - t0) / 1000;
      const base = { data, loss, seed, seconds, dir };
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
}

/** What a sweep directory holds; an existing one needs --resume or --force. */
const SWEEP_OUTPUTS = ['runs', 'runs.csv', 'summary.csv', 'summary.md', 'report.html'];

export async function sweep(o: SweepOptions): Promise<RunResult[]> {
  const out = resolve(o.out);
  const held = existsSync(out) ? readdirSync(out).filter((e) => SWEEP_OUTPUTS.includes(e)) : [];
  if (held.length && !o.resume && !o.force) throw new Error(`sweep directory ${out} already exists; pass --resume to finish it (finished runs are kept) or --force to replace it`);
  if (o.force) for (const e of held) rmSync(join(out, e), { recursive: true, force: true });
  mkdirSync(join(out, 'runs'), { recursive: true });
  const jobs: [string, string, number][] = [];
  for (const d of o.data) for (const l of o.losses) for (let s = 0; s < o.seeds; s++) jobs.push([d, l, s]);
  const workers = Math.max(1, Math.min(o.workers ?? cpus().length, jobs.length));
  const results: RunResult[] = new Array(jobs.length);
  let next = 0;
  let done = 0;
  const stopping = setInterval(() => {
    if (!o.stopRequested?.()) return;
    for (const c of children) if (c.exitCode === null && !c.killed) c.kill('SIGINT');
    clearInterval(stopping);
  }, 100);
  try {
    await Promise.all(
      Array.from({ length: workers }, async () => {
        while (next < jobs.length) {
          const k = next++;
          const [d, l, s] = jobs[k];
          const dir = join(out, 'runs', `${d}-${l}-s${s}`);
          const base = { data: d, loss: l, seed: s, seconds: 0, dir };
          results[k] = (o.resume ? finished(dir, base, o.iterations) : null) ?? (o.stopRequested?.() ? { ...base, status: 'interrupted' } : await runOne(d, l, s, o.iterations, dir, !!o.resume));
          o.onRunDone?.(results[k], ++done, jobs.length);
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
  for (const r of results) groups.set(`${r.data}|${r.loss}`, [...(groups.get(`${r.data}|${r.loss}`) ?? []), r]);
  return [...groups.values()].map((rs) => {
    const ok = rs.filter((r) => r.status === 'ok');
    const [modesMean, modesStd] = meanStd(ok.map((r) => r.modesCaptured!));
    const [hqMean, hqStd] = meanStd(ok.map((r) => r.highQualityPct!));
    const [rklMean, rklStd] = meanStd(ok.filter((r) => r.reverseKL !== null).map((r) => r.reverseKL!));
    return {
      data: rs[0].data,
      loss: rs[0].loss,
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

export function markdownTable(rows: Row[]): string {
  const lines = ['| data | loss | modes captured | high quality % | reverse KL | wall s / run | diverged |', '|---|---|---|---|---|---|---|'];
  for (const r of rows)
    lines.push(`| ${r.data} | ${r.loss} | ${pm(r.modesMean, r.modesStd)} / ${r.modes} | ${pm(r.hqMean, r.hqStd)} | ${pm(r.rklMean, r.rklStd, 2)} | ${r.seconds.toFixed(0)} | ${r.diverged + r.crashed ? `${r.diverged} diverged${r.crashed ? `, ${r.crashed} crashed` : ''} of ${r.runs}` : 'no'} |`);
  return lines.join('\n') + '\n';
}

const csvCell = (v: unknown) => (v === null || v === undefined ? '' : /[",\n]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : String(v));
function csv(rows: Record<string, unknown>[], cols: string[]): string {
  return [cols.join(','), ...rows.map((r) => cols.map((c) => csvCell(r[c])).join(','))].join('\n') + '\n';
}

function writeReports(out: string, results: RunResult[], o: SweepOptions): void {
  const rows = summarize(results);
  writeFileAtomic(join(out, 'runs.csv'), csv(results as unknown as Record<string, unknown>[], ['data', 'loss', 'seed', 'status', 'modesCaptured', 'modes', 'highQualityPct', 'reverseKL', 'seconds', 'error']));
  writeFileAtomic(join(out, 'summary.csv'), csv(rows as unknown as Record<string, unknown>[], ['data', 'loss', 'runs', 'ok', 'diverged', 'crashed', 'modes', 'modesMean', 'modesStd', 'hqMean', 'hqStd', 'rklMean', 'rklStd', 'seconds']));
  const header = `Sweep: ${o.data.join(', ')} x ${o.losses.length} losses x ${o.seeds} seeds, ${o.iterations} generator iterations each, metrics on 2,500 samples (mean ± std over seeds that finished).\n\n`;
  writeFileAtomic(join(out, 'summary.md'), header + markdownTable(rows));
  writeFileAtomic(join(out, 'report.html'), reportHtml(results, rows, header));
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

function reportHtml(results: RunResult[], rows: Row[], header: string): string {
  const vega = readFileSync(packageFile('vega', 'build/vega.min.js'), 'utf8');
  const vegaLite = readFileSync(packageFile('vega-lite', 'build/vega-lite.min.js'), 'utf8');
  const runs = results.map((r) => ({ ...r, ...readRun(r), centers: dataset(r.data).centers }));
  const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
  const table = rows
    .map((r) => `<tr class="${r.diverged + r.crashed ? 'bad' : ''}"><td>${r.data}</td><td>${r.loss}</td><td>${esc(pm(r.modesMean, r.modesStd))} / ${r.modes}</td><td>${esc(pm(r.hqMean, r.hqStd))}</td><td>${esc(pm(r.rklMean, r.rklStd, 2))}</td><td>${r.seconds.toFixed(0)}</td><td>${r.diverged + r.crashed ? `${r.diverged + r.crashed} of ${r.runs}` : 'no'}</td></tr>`)
    .join('\n');
  const data = JSON.stringify(runs).replace(/</g, '\\u003c');
  return `<!doctype html><html><head><meta charset="utf-8"><title>onnx-gan sweep</title>
<style>body{font:14px system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:nth-child(-n+2){text-align:left}tr.bad td{background:#fde8e8}
.grid{display:flex;flex-wrap:wrap;gap:12px}.card{border:1px solid #ddd;padding:6px;width:540px}.card h4{margin:0 0 4px;font-size:13px}.err{color:#b00;font-size:12px}</style></head><body>
<h1>onnx-gan sweep</h1><p>${esc(header)}</p>
<table><tr><th>data</th><th>loss</th><th>modes captured</th><th>high quality %</th><th>reverse KL</th><th>wall s / run</th><th>diverged</th></tr>${table}</table>
<h2>Runs</h2><div id="runs" class="grid"></div>
<script>${vega}</script><script>${vegaLite}</script>
<script>
const RUNS = ${data};
const grid = document.getElementById('runs');
for (const r of RUNS) {
  const card = document.createElement('div'); card.className = 'card';
  const head = r.status === 'ok' ? r.modesCaptured + '/' + r.modes + ' modes, ' + r.highQualityPct.toFixed(1) + '% HQ' : r.status;
  card.innerHTML = '<h4>' + r.data + ' / ' + r.loss + ' / seed ' + r.seed + ': ' + head + '</h4>' + (r.error ? '<div class="err"></div>' : '');
  if (r.error) card.querySelector('.err').textContent = r.error;
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
