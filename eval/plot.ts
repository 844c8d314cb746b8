// Plots as standalone SVG, rendered headless by vega-lite.
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** How many points fall outside [lo, hi]^2 (the plot's axes); the caption counts them. */
export function outside(xy: Float32Array, lo: number, hi: number): number {
  let n = 0;
  for (let i = 0; i + 1 < xy.length; i += 2) if (!(xy[i] >= lo && xy[i] <= hi && xy[i + 1] >= lo && xy[i + 1] <= hi)) n++;
  return n;
}

/**
 * Generated 2-D samples (dots) over the data's mode centres (crosses), with a legend. The axes fit the
 * data set (so a collapsed or scattered generator looks like one); samples beyond them are drawn at the
 * edge and counted in the subtitle.
 */
export function scatterSpec(xy: Float32Array, centers: [number, number][], title: string): TopLevelSpec {
  const samples = [];
  for (let i = 0; i < xy.length; i += 2) samples.push({ x: xy[i], y: xy[i + 1], kind: 'generated sample' });
  const pad = 0.5;
  const xs = centers.map((c) => c[0]);
  const ys = centers.map((c) => c[1]);
  const lo = Math.min(...xs, ...ys) - pad;
  const hi = Math.max(...xs, ...ys) + pad;
  const out = outside(xy, lo, hi);
  const scale = { domain: [lo, hi], clamp: true };
  const color = { field: 'kind', type: 'nominal', title: null, scale: { domain: ['generated sample', 'mode centre'], range: ['#1f77b4', '#d62728'] }, legend: { orient: 'bottom' } };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, subtitle: `${samples.length} samples; ${out ? `${out} outside the axes, drawn at the edge` : 'all within the axes'}` },
    width: 360,
    height: 360,
    layer: [
      {
        data: { values: samples },
        mark: { type: 'circle', size: 6, opacity: 0.5 },
        encoding: { x: { field: 'x', type: 'quantitative', scale }, y: { field: 'y', type: 'quantitative', scale }, color },
      },
      {
        data: { values: centers.map(([x, y]) => ({ x, y, kind: 'mode centre' })) },
        mark: { type: 'point', shape: 'cross', size: 80, filled: true },
        encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' }, color },
      },
    ],
  } as TopLevelSpec;
}

/** Logged scalars (metrics.jsonl's lines: an iteration and named values) as rows of a long-format table. */
export function lossRows(lines: Record<string, number>[]): { iteration: number; series: string; value: number }[] {
  return lines.flatMap(({ iteration, ...values }) => Object.entries(values).filter(([, v]) => Number.isFinite(v)).map(([series, value]) => ({ iteration, series, value })));
}

/**
 * Loss curves: one line per logged series over the iterations. The page draws it live (named data
 * 'losses', rows added as they come); a run writes it as losses.svg with its rows inlined.
 */
export function lossCurveSpec(o: { rows?: ReturnType<typeof lossRows>; title?: string; width?: number; height?: number } = {}): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...(o.title ? { title: o.title } : {}),
    width: o.width ?? 330,
    height: o.height ?? 220,
    // The legend appears with the first rows: let the view grow to fit it.
    autosize: { type: 'pad', resize: true },
    data: o.rows ? { values: o.rows } : { name: 'losses' },
    // ASCII minus: headless browsers and minimal fonts lack U+2212, which d3-format uses by default.
    config: { locale: { number: { decimal: '.', thousands: ',', grouping: [3], currency: ['', ''], minus: '-' } } },
    mark: { type: 'line', strokeWidth: 1.2 },
    encoding: {
      x: { field: 'iteration', type: 'quantitative' },
      y: { field: 'value', type: 'quantitative', title: 'loss' },
      color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 4 } },
    },
  } as TopLevelSpec;
}

