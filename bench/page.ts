// npm run bench -- page [--threads 1,2] [--iters N] [--warmup N] [--json]
// The browser tab as a trainer, beside Node and TF.js, in the same run: the MLP WGAN-GP (bench/cases.ts
// 'mlp', the default `train`) trained by
//   - the page (web/, in its training worker, WASM) in headless chromium at each thread count,
//   - onnxruntime-node on the CPU (fused and one run per step) at the same thread counts,
//   - the same training written in TF.js (bench/tfjs/wgan-gp.ts) in the same browser: the WASM backend at
//     each thread count, WebGL (where headless chromium has it), and the plain-JS CPU backend.
// Ratios: the tab's best over Node's best, and over TF.js's best backend. The page's frame times while it
// trains (the worker keeps it responsive) are reported beside its rows; the browser rows' peak memory is
// that of the renderer process their page ran in (its VmHWM), Node's that of the row's process.
import { build as esbuild } from 'esbuild';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import sirv from 'sirv';
import { parseConfig } from '../run/config.ts';
import { exportRun } from '../run/export.ts';
import { train } from '../run/train.ts';
import { build } from '../web/build.ts';
import { launchChromium } from '../web/chromium.ts';
import { serve } from '../web/serve.ts';
import { benchSetup } from './cases.ts';
import { fastest, ours, processPeaks, rowLine, type Row } from './rows.ts';

export interface PageBenchOptions {
  threads: number[];
  iters: number;
  warmup: number;
  json?: boolean;
}

/** Frame times of the page while its worker trained (ms). */
interface Frames {
  count: number;
  p50: number;
  p95: number;
  max: number;
}

/** Chromium's renderer processes now, with their peaks: a row's page is the one that appears during the row. */
const renderers = () => processPeaks((_status, cmdline) => cmdline().includes('--type=renderer'));

/** Peak resident memory (MB) of the renderer processes that started since `before`; null where none did. */
function peakSince(before: Map<number, number>): number | null {
  const peaks = [...renderers()].filter(([pid]) => !before.has(pid)).map(([, mb]) => mb);
  return peaks.length ? Math.max(...peaks) : null;
}

async function tabRows(browser: Browser, run: string, o: PageBenchOptions): Promise<(Row & { frames: Frames })[]> {
  await build();
  const server = await serve({ run });
  const rows: (Row & { frames: Frames })[] = [];
  try {
    for (const threads of o.threads) {
      const before = renderers();
      // A context of its own: a renderer process of its own, whose peak memory is this row's.
      const context = await browser.newContext();
      const page = await context.newPage();
      try {
        await page.goto(`${server.pageUrl}&backend=wasm&threads=${threads}`);
        await page.waitForSelector('body[data-ready=true]', { timeout: 120_000 });
        const trainFor = async (n: number) => {
          const start = await page.evaluate(() => (globalThis as any).onnxGan.training.iteration as number);
          await page.fill('#train-for', String(n));
          await page.click('#train');
          await page.waitForFunction((end) => { const t = (globalThis as any).onnxGan.training; return t.iteration >= end && !t.running && t.lastRun; }, start + n, { timeout: 600_000, polling: 100 });
          const st = await page.evaluate(() => (globalThis as any).onnxGan);
          if (st.errors.length) throw new Error(`the page: ${st.errors[0]}`);
          return st.training as { lastRun: { iterations: number; seconds: number }; frames: Frames };
        };
        await trainFor(o.warmup);
        const t = await trainFor(o.iters);
        rows.push({ name: 'onnx-gan tab, worker', ep: 'web-wasm', threads, iters: t.lastRun.iterations, seconds: t.lastRun.seconds, steps_per_s: t.lastRun.iterations / t.lastRun.seconds, peak_rss_mb: peakSince(before), frames: t.frames });
      } finally {
        await context.close();
      }
    }
  } finally {
    await server.close();
  }
  return rows;
}

/** The TF.js peer's page and its files in a folder, served with the headers WASM threads need. */
async function tfjsServer(dir: string) {
  const here = dirname(fileURLToPath(import.meta.url));
  await esbuild({ entryPoints: [join(here, 'tfjs', 'peer-page.ts')], outfile: join(dir, 'peer.js'), bundle: true, format: 'esm', platform: 'browser', target: 'es2022', minify: true, logLevel: 'error' });
  writeFileSync(join(dir, 'index.html'), '<!doctype html><meta charset="utf-8"><title>TF.js peer</title><script type="module" src="peer.js"></script>');
  const wasmDist = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm'));
  for (const f of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm']) copyFileSync(join(wasmDist, f), join(dir, f));
  const files = sirv(dir, { dev: true });
  const server = createServer((req, res) => {
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    files(req, res, () => {
      res.statusCode = 404;
      res.end();
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, close: () => new Promise<void>((ok) => server.close(() => ok())) };
}

async function tfjsRows(browser: Browser, dir: string, o: PageBenchOptions): Promise<{ rows: Row[]; skipped: string[] }> {
  const server = await tfjsServer(dir);
  const rows: Row[] = [];
  const skipped: string[] = [];
  // The plain-JS CPU backend is an order of magnitude slower: fewer iterations.
  const runs = [...o.threads.map((t) => ({ backend: 'wasm', threads: t, iters: o.iters })), { backend: 'webgl', threads: 1, iters: o.iters }, { backend: 'cpu', threads: 1, iters: Math.max(3, Math.round(o.iters / 10)) }];
  try {
    for (const r of runs) {
      const before = renderers();
      const context = await browser.newContext();
      const page = await context.newPage();
      try {
        await page.goto(`${server.url}?backend=${r.backend}&threads=${r.threads}`);
        await page.waitForFunction(() => (globalThis as any).tfjsPeer, null, { timeout: 60_000 });
        const res = await page.evaluate(([w, n]) => (globalThis as any).tfjsPeer.run(w, n), [Math.min(o.warmup, r.iters), r.iters]);
        if ('error' in res) skipped.push(`TF.js ${r.backend}: ${res.error}`);
        else if (!Number.isFinite(res.dLoss)) skipped.push(`TF.js ${r.backend}: the critic loss is ${res.dLoss}`);
        else rows.push({ name: `TF.js 4.22 ${res.backend}`, ep: res.backend, threads: r.threads, iters: res.iters, seconds: res.seconds, steps_per_s: res.steps_per_s, peak_rss_mb: peakSince(before) });
      } finally {
        await context.close();
      }
    }
  } finally {
    await server.close();
  }
  return { rows, skipped };
}

export async function pageBench(o: PageBenchOptions): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'onnx-gan-bench-page-'));
  const browser = await launchChromium(['--disable-gpu']);
  try {
    // The tab trains from training artifacts: the default run (the bench's MLP), one iteration in, exported.
    const run = join(tmp, 'run');
    await train(parseConfig({ iterations: 1, checkpointEvery: 1, evalSamples: 100, out: run }), { log: () => {} });
    await exportRun(run, {});
    const tab = await tabRows(browser, run, o);
    const bench = benchSetup('mlp');
    const node: Row[] = [];
    for (const t of o.threads) node.push(await ours(bench, { ep: 'cpu', warmup: o.warmup, iters: o.iters }, t, 10), await ours(bench, { ep: 'cpu', warmup: o.warmup, iters: o.iters }, t, 0));
    mkdirSync(join(tmp, 'tfjs'));
    const peer = await tfjsRows(browser, join(tmp, 'tfjs'), o);
    const [bt, bn, bp] = [fastest(tab)!, fastest(node)!, fastest(peer.rows)];
    const ratios = { tab_vs_node: bt.steps_per_s / bn.steps_per_s, tab_vs_tfjs: bp ? bt.steps_per_s / bp.steps_per_s : null };
    const result = { benchmark: `${bench.title}: the browser tab`, rows: [...tab, ...node, ...peer.rows], skipped: peer.skipped, best: { tab: bt, node: bn, tfjs: bp }, ratios };
    if (o.json) return console.log(JSON.stringify(result));
    console.log(`${bench.title}: the browser tab (headless chromium, WASM) beside Node and TF.js`);
    for (const r of tab) console.log(`${rowLine(r)}   page frames while training: p50 ${r.frames.p50.toFixed(0)} ms, p95 ${r.frames.p95.toFixed(0)} ms`);
    for (const r of [...node, ...peer.rows]) console.log(rowLine(r));
    for (const s of peer.skipped) console.log(`  (not run: ${s})`);
    const at = (r: Row) => `${r.name}, ${r.threads} thread${r.threads > 1 ? 's' : ''}`;
    console.log(`tab vs Node: ${ratios.tab_vs_node.toFixed(2)}x (${at(bt)} / ${at(bn)})`);
    if (bp) console.log(`tab vs TF.js: ${ratios.tab_vs_tfjs!.toFixed(2)}x (${at(bt)} / ${at(bp)})`);
  } finally {
    await browser.close();
    rmSync(tmp, { recursive: true, force: true });
  }
}
