// A finished sweep's report: runs.csv (one line per run), summary.md and summary.csv (mean and spread over
// seeds, published numbers beside them where a protocol has them) and report.html, which opens from disk:
// the table, each run's samples and loss curves, drawn in the page by vega-lite. Text from runs is escaped
// for the place it lands (HTML, Markdown, CSV).

import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { dataset } from '../data/mixtures.ts';
import { writeFileAtomic } from '../run/files.ts';
import type { RunResult, SweepSpec } from './runs.ts';
import { dataName, isMixture } from './job-schema.ts';
import { publishedRow, type Published } from '../run/protocols.ts';

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
  /** Image rows: classifier-feature FID and KID over the scored seeds (null where none was scored). */
  image: boolean;
  fidMean: number | null;
  fidStd: number | null;
  kidMean: number | null;
  kidStd: number | null;
  /** Means over the seeds scored with them (null where none was). */
  precision: number | null;
  recall: number | null;
  density: number | null;
  coverage: number | null;
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
    const [modesMean, modesStd] = meanStd(ok.filter((r) => r.modesCaptured !== undefined).map((r) => r.modesCaptured!));
    const [hqMean, hqStd] = meanStd(ok.filter((r) => r.highQualityPct !== undefined).map((r) => r.highQualityPct!));
    const [rklMean, rklStd] = meanStd(ok.filter((r) => r.reverseKL !== null && r.reverseKL !== undefined).map((r) => r.reverseKL!));
    const image = !isMixture(rs[0].data);
    const scored = ok.filter((r) => r.fid !== undefined);
    const [fidMean, fidStd] = meanStd(scored.map((r) => r.fid!));
    const [kidMean, kidStd] = meanStd(scored.map((r) => r.kid!));
    const meanOf = (k: 'precision' | 'recall' | 'density' | 'coverage') => meanStd(scored.filter((r) => r[k] !== undefined).map((r) => r[k]!))[0];
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
      image,
      fidMean,
      fidStd,
      kidMean,
      kidStd,
      precision: meanOf('precision'),
      recall: meanOf('recall'),
      density: meanOf('density'),
      coverage: meanOf('coverage'),
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
  const images = rows.filter((r) => r.image);
  const mixtures = rows.filter((r) => !r.image);
  return [mixtures.length ? mixtureTable(mixtures, published) : '', images.length ? imageTable(images) : ''].filter(Boolean).join('\n');
}

const failed = (r: Row) => (r.diverged + r.crashed ? `${r.diverged} diverged${r.crashed ? `, ${r.crashed} crashed` : ''} of ${r.runs}` : 'no');

/** KID x 1000, as the tables show it. */
const kidCell = (r: Row) => (r.kidMean === null ? 'n/a' : pm(r.kidMean * 1000, r.kidStd! * 1000, 2));

/** Image rows: classifier-feature FID (lower is better) and KID x 1000, over the seeds that were scored. */
function imageTable(rows: Row[]): string {
  const lines = ['| data | loss | classifier-FID | KID x 1000 | precision / recall | density / coverage | scored | wall s / run | diverged |', '|---|---|---|---|---|---|---|---|---|'];
  const pair = (a: number | null, b: number | null) => (a === null || b === null ? 'n/a' : `${a.toFixed(3)} / ${b.toFixed(3)}`);
  for (const r of rows) {
    lines.push(`| ${[r.data, lossLabel(r), pm(r.fidMean, r.fidStd, 2), kidCell(r), pair(r.precision, r.recall), pair(r.density, r.coverage), r.fidMean === null ? 'no (give --classifier)' : `${r.ok}`, r.seconds.toFixed(0), failed(r)].map(markdownCell).join(' | ')} |`);
  }
  return lines.join('\n') + '\n';
}

function mixtureTable(rows: Row[], published?: (r: Row) => Published | null): string {
  const lines = ['| data | loss | modes captured | high quality % | reverse KL | wall s / run | diverged |', '|---|---|---|---|---|---|---|'];
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  const em = (c: string) => (c ? `*${markdownCell(c)}*` : '');
  for (const r of rows) {
    lines.push(line([r.data, lossLabel(r), `${pm(r.modesMean, r.modesStd)} / ${r.modes}`, pm(r.hqMean, r.hqStd), pm(r.rklMean, r.rklStd, 2), r.seconds.toFixed(0), failed(r)].map(markdownCell)));
    const p = published?.(r);
    if (p) lines.push(line([markdownCell(r.data), ...[p.source, `${f(p.modes)} / ${r.modes}`, f(p.hq), p.rkl === null ? 'n/a' : f(p.rkl, 2), '', ''].map(em)]));
  }
  return lines.join('\n') + '\n';
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
  writeFileAtomic(join(out, 'runs.csv'), csv(results as unknown as Record<string, unknown>[], ['data', 'loss', 'pack', 'seed', 'status', 'modesCaptured', 'modes', 'highQualityPct', 'reverseKL', 'fid', 'kid', 'kidStd', 'precision', 'recall', 'density', 'coverage', 'seconds', 'error']));
  const withPublished = rows.flatMap((r) => {
    const p = publishedRow(o.protocol, r);
    return [r, ...(p ? [{ data: r.data, loss: p.source, pack: r.pack, modes: r.modes, modesMean: p.modes, hqMean: p.hq, rklMean: p.rkl }] : [])];
  });
  writeFileAtomic(join(out, 'summary.csv'), csv(withPublished as unknown as Record<string, unknown>[], ['data', 'loss', 'pack', 'runs', 'ok', 'diverged', 'crashed', 'modes', 'modesMean', 'modesStd', 'hqMean', 'hqStd', 'rklMean', 'rklStd', 'fidMean', 'fidStd', 'kidMean', 'kidStd', 'precision', 'recall', 'density', 'coverage', 'seconds']));
  const header = sweepHeader(o);
  writeFileAtomic(join(out, 'summary.md'), header + markdownTable(rows, (r) => publishedRow(o.protocol, r)));
  writeFileAtomic(join(out, 'report.html'), reportHtml(results, rows, header, o.protocol));
}

function sweepHeader(o: SweepSpec): string {
  const packs = o.packs && (o.packs.length > 1 || o.packs[0] !== 1) ? ` x packing ${o.packs.join(', ')}` : '';
  const protocol = o.protocol ? `, ${o.protocol} protocol` : '';
  const images = o.data.some((d) => !isMixture(d));
  const mixtures = o.data.some((d) => isMixture(d));
  const metrics = [
    mixtures ? '2-D metrics on 2,500 samples' : '',
    images ? (o.classifier ? `images scored by classifier-feature FID / KID on ${(o.evalSamples ?? 2000).toLocaleString('en')} samples against Fashion-MNIST's test split` : 'images not scored (no --classifier)') : '',
  ].filter(Boolean);
  const size = images && o.imageSize ? `, images at ${o.imageSize}x${o.imageSize}` : '';
  return `Sweep: ${o.data.map(dataName).join(', ')} x ${o.losses.length} loss${o.losses.length > 1 ? 'es' : ''}${packs} x ${o.seeds} seeds${protocol}${size}, ${o.iterations.toLocaleString('en')} generator iterations each; ${metrics.join('; ')} (mean ± std over seeds that finished).\n\n`;
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
  // An image run shows its samples.png, by its path from the report (runs/<key>/samples.png).
  const runs = results.map((r) => (isMixture(r.data) ? { ...r, ...readRun(r), centers: dataset(r.data).centers } : { ...r, ...readRun(r), centers: null, grid: existsSync(join(r.dir, 'samples.png')) ? `runs/${basename(r.dir)}/samples.png` : null }));
  // Every cell is text, escaped here; the run cards below are built from text nodes in the page.
  const row = (cls: string, cells: unknown[]) => `<tr class="${cls}">${cells.map((c) => `<td>${escapeHtml(String(c))}</td>`).join('')}</tr>`;
  const imageRows = rows
    .filter((r) => r.image)
    .map((r) => row(r.diverged + r.crashed ? 'bad' : '', [r.data, lossLabel(r), pm(r.fidMean, r.fidStd, 2), kidCell(r), r.seconds.toFixed(0), r.diverged + r.crashed ? `${r.diverged + r.crashed} of ${r.runs}` : 'no']))
    .join('\n');
  const table = rows
    .filter((r) => !r.image)
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
${table ? `<table><tr><th>data</th><th>loss</th><th>modes captured</th><th>high quality %</th><th>reverse KL</th><th>wall s / run</th><th>diverged</th></tr>${table}</table>` : ''}
${imageRows ? `<table><tr><th>data</th><th>loss</th><th>classifier-FID</th><th>KID x 1000</th><th>wall s / run</th><th>diverged</th></tr>${imageRows}</table>` : ''}
<h2>Runs</h2><div id="runs" class="grid"></div>
<script>${vega}</script><script>${vegaLite}</script>
<script>
const RUNS = ${data};
const grid = document.getElementById('runs');
for (const r of RUNS) {
  const card = document.createElement('div'); card.className = 'card';
  const head = r.status !== 'ok' ? r.status : r.centers ? r.modesCaptured + '/' + r.modes + ' modes, ' + Number(r.highQualityPct).toFixed(1) + '% HQ' : r.fid !== undefined ? 'FID ' + Number(r.fid).toFixed(2) : 'not scored';
  const title = document.createElement('h4');
  title.textContent = r.data + ' / ' + r.loss + (r.pack > 1 ? ' pack ' + r.pack : '') + ' / seed ' + r.seed + ': ' + head;
  card.append(title);
  if (r.error) {
    const err = document.createElement('div'); err.className = 'err'; err.textContent = r.error; card.append(err);
  }
  const a = document.createElement('div'), b = document.createElement('div'); card.append(a, b); grid.append(card);
  const show = (el, spec) => new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'svg', container: el }).runAsync();
  if (r.grid) {
    // An image run: its sample grid, by a path the report built from the run's key.
    const img = document.createElement('img'); img.src = r.grid; img.alt = 'samples'; img.style.maxWidth = '260px'; a.append(img);
  } else if (r.centers && r.samples.length) {
    const lim = Math.max(...r.centers.flat().map(Math.abs)) + 0.5;
    const sc = { domain: [-lim, lim], clamp: true };
    show(a, { width: 220, height: 220, layer: [
      { data: { values: r.samples.map(([x, y]) => ({ x, y })) }, mark: { type: 'circle', size: 5, opacity: 0.5 },
        encoding: { x: { field: 'x', type: 'quantitative', title: null, scale: sc }, y: { field: 'y', type: 'quantitative', title: null, scale: sc } } },
      { data: { values: r.centers.map(([x, y]) => ({ x, y })) }, mark: { type: 'point', shape: 'cross', size: 40, color: '#d62728', filled: true },
        encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' } } } ] });
  }
  if (r.curves.length) show(b, { width: 160, height: 200, data: { values: r.curves.flatMap((c) => [{ iteration: c.iteration, loss: c.D, net: 'D' }, { iteration: c.iteration, loss: c.G, net: 'G' }]) },
    mark: 'line', encoding: { x: { field: 'iteration', type: 'quantitative' }, y: { field: 'loss', type: 'quantitative' }, color: { field: 'net', type: 'nominal', legend: { orient: 'bottom' } } } });
  a.style.display = b.style.display = 'inline-block';
}
</script></body></html>
`;
}
