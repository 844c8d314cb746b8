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

/** Generated 2-D samples (small dots) over the data's mode centres (crosses). */
export function scatterSpec(xy: Float32Array, centers: [number, number][], title: string): TopLevelSpec {
  const samples = [];
  for (let i = 0; i < xy.length; i += 2) samples.push({ x: xy[i], y: xy[i + 1] });
  const pad = 0.5;
  const xs = centers.map((c) => c[0]);
  const ys = centers.map((c) => c[1]);
  const lo = Math.min(...xs, ...ys) - pad;
  const hi = Math.max(...xs, ...ys) + pad;
  const scale = { domain: [lo, hi], clamp: true };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 360,
    height: 360,
    layer: [
      {
        data: { values: samples },
        mark: { type: 'circle', size: 6, opacity: 0.5, color: '#1f77b4' },
        encoding: { x: { field: 'x', type: 'quantitative', scale }, y: { field: 'y', type: 'quantitative', scale } },
      },
      {
        data: { values: centers.map(([x, y]) => ({ x, y })) },
        mark: { type: 'point', shape: 'cross', size: 80, color: '#d62728', filled: true },
        encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' } },
      },
    ],
  } as TopLevelSpec;
}
