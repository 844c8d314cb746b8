// The page's trainer, in a Web Worker so the page stays responsive while it trains: it opens training
// artifacts, keeps the trainer and its state between runs, trains through the one run loop
// (training/run-loop.ts) with memory as its checkpoint store, and reports progress and preview samples.
// onnxruntime-web runs here with the page's thread count (WASM threads need a cross-origin isolated page).
import { DATASETS, runMixture } from '../data/mixtures.ts';
import { checkIdxLabels, idxImageSet, labelsNameFor, parseIdxBytes } from '../data/images.ts';
import type { DataSource } from '../data/source.ts';
import { Rng } from '../data/random.ts';
import { parseConfig, type Config } from '../run/config.ts';
import { webRuntime } from '../runtime/web.ts';
import type { Runtime } from '../runtime/runtime.ts';
import { loadArtifacts, type ArtifactsManifest } from '../training/artifacts.ts';
import { decodeCheckpoint, encodeCheckpoint } from '../training/checkpoint.ts';
import { checkFits, estimateMemory } from '../training/memory.ts';
import { runLoop } from '../training/run-loop.ts';
import { cloneState, criticSchedule, gridInputs, Trainer, type TrainState } from '../training/trainer.ts';
import type { ArtifactsSource, FromWorker, Preview, Progress, Replies, Request, ToWorker } from './trainer-protocol.ts';

const post = (m: FromWorker, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(m, transfer);

/** The page's checkpoints live in memory: the last one is what a divergence returns to. */
const PAGE_CHECKPOINT_EVERY = 100;
/** A tab's WebAssembly memory (32-bit addresses), and onnxruntime-web's own share of it before any model. */
const WASM_MEMORY = 4 * 2 ** 30;
const WASM_RUNTIME = 64 * 2 ** 20;

/**
 * The largest batch of these step programs that fits the tab's WASM memory (activations and draws grow
 * with the batch, the rest does not); artifacts that do not fit are refused before any session opens.
 */
function wasmFit(plan: Parameters<typeof estimateMemory>[0], nCritic: number): { maxBatch: number; estimate: number } {
  const o = { fuse: 0, nCritic, runtime: WASM_RUNTIME };
  const e = estimateMemory(plan, o);
  const perBatch = e.parts.activations + e.parts.draws;
  const maxBatch = Math.floor((plan.batch * (WASM_MEMORY - (e.total - perBatch))) / perBatch);
  try {
    checkFits(plan, o, WASM_MEMORY, 'a tab has');
  } catch (err) {
    throw new Error(`${(err as Error).message} of WASM memory: batch ${maxBatch} or less fits these models (estimated)`);
  }
  return { maxBatch, estimate: e.total };
}

/** How often a running loop reports, and how often it redraws the preview (generating costs a run). */
const PROGRESS_MS = 200;
const PREVIEW_MS = 1000;

interface Training {
  trainer: Trainer;
  state: TrainState;
  manifest: ArtifactsManifest;
  z: Float32Array;
  running: boolean;
  /** The current (or last) run: the iteration it started at and when, and the one it stops at. */
  run: { from: number; started: number; until: number };
}
let training: Training | null = null;
let runtimes: { wasm: Runtime; webgpu?: Runtime; threads: number } | null = null;

/** One onnxruntime-web per worker: its thread count is fixed by the first session, so by the first open. */
function runtimesFor(threads: number) {
  runtimes ??= { wasm: webRuntime({ backend: 'wasm', wasmPaths: new URL('./', import.meta.url).href, threads }), threads };
  return runtimes;
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

function reader(source: ArtifactsSource): (file: string) => Promise<Uint8Array> {
  if ('url' in source) {
    const base = new URL(source.url.endsWith('/') ? source.url : `${source.url}/`, self.location.href);
    return (f) => fetchBytes(new URL(f, base).href);
  }
  const byName = new Map(source.files.map((f) => [f.name, f]));
  return async (name) => {
    const f = byName.get(name);
    if (!f) throw new Error(`not among the chosen files (${[...byName.keys()].join(', ') || 'none'})`);
    return new Uint8Array(await f.arrayBuffer());
  };
}

/** gunzip with the browser's own DecompressionStream (no library). */
async function gunzip(bytes: Uint8Array, what: string): Promise<Uint8Array> {
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  try {
    return new Uint8Array(await new Response(new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip'))).arrayBuffer());
  } catch (e) {
    throw new Error(`${what}: corrupt gzip stream (${(e as Error).message})`);
  }
}

/**
 * The data set a run trained on: a built-in 2-D mixture, or an IDX image file, found among the artifacts'
 * files (chosen with them, or in the same folder) or, for Fashion-MNIST, on the page's server.
 */
async function trainingData(name: string, read: (file: string) => Promise<Uint8Array>, classes: string[], config: Config, seed: number): Promise<DataSource> {
  // A run on a fixed set of points (--data-size, PacGAN's protocol) goes on drawing from the same set.
  if (DATASETS[name]) return runMixture(name, config.dataSize, seed);
  const idx = async (file: string, missing: string) => {
    let raw = await read(file).catch(() => null);
    if (!raw && name === 'fashion-mnist') raw = await fetchBytes(new URL(`/data/fashion-mnist/${file}`, self.location.href).href).catch(() => null);
    if (!raw) throw new Error(`data set '${name}': ${missing}`);
    return parseIdxBytes(await gunzip(raw, file), file);
  };
  const file = name === 'fashion-mnist' ? 'train-images-idx3-ubyte.gz' : name.split(/[\\/]/).pop()!;
  const { dims, data } = await idx(file, `choose ${file} together with the artifacts (the page reads image data only from chosen files or its server)`);
  if (!classes.length) return idxImageSet(name, dims, data);
  // A class-conditional run needs the labels too: the MNIST naming puts them beside the images.
  const labelsFile = labelsNameFor(file);
  if (!labelsFile) throw new Error(`data set '${name}': the run is class-conditional and ${file} has no labels file by the MNIST naming (*-images-idx3-ubyte -> *-labels-idx1-ubyte)`);
  const labels = await idx(labelsFile, `the run is class-conditional; choose ${labelsFile} together with the artifacts`);
  checkIdxLabels(labels.dims, dims[0], labelsFile, file);
  return idxImageSet(name, dims, data, labels.data, classes);
}

async function open(r: Extract<Request, { op: 'open' }>): Promise<Replies['open']> {
  const read = reader(r.source);
  const loaded = await loadArtifacts(read, r.where);
  // The run's settings, checked by the same schema the command line uses.
  const cfg = parseConfig(loaded.config, `${r.where}/config.json`);
  const nCritic = criticSchedule(loaded.manifest.schedule);
  const fit = wasmFit(loaded.plan, nCritic(0));
  const data = await trainingData(loaded.manifest.data, read, loaded.manifest.classes, cfg, loaded.manifest.seed);
  const rts = runtimesFor(r.threads);
  const opts = { data, seed: loaded.manifest.seed, nCritic, threads: rts.threads };
  // On WebGPU the parameters and optimizer state stay in GPU buffers between steps; WASM if it refuses.
  let why = r.backend === 'wasm' ? 'the page chose WASM' : '';
  let trainer: Trainer;
  if (r.backend === 'webgpu') {
    rts.webgpu ??= webRuntime({ backend: 'webgpu', wasmPaths: new URL('./', import.meta.url).href, threads: rts.threads });
    try {
      trainer = await Trainer.fromPlan(loaded.plan, { ...opts, runtime: rts.webgpu });
    } catch (e) {
      why = `WebGPU refused these step programs: ${(e as Error).message.split('\n')[0]}`;
      trainer = await Trainer.fromPlan(loaded.plan, { ...opts, runtime: rts.wasm });
    }
  } else trainer = await Trainer.fromPlan(loaded.plan, { ...opts, runtime: rts.wasm });
  if (training) {
    training.running = false;
    await training.trainer.release();
  }
  training = {
    trainer, state: loaded.state, manifest: loaded.manifest, running: false, run: { from: loaded.state.iteration, started: 0, until: loaded.state.iteration },
    z: Rng.stream(0, 'page-samples').fillNormal(new Float32Array(500 * loaded.manifest.latent)),
  };
  const m = loaded.manifest;
  return { backend: trainer.opts.runtime.name, why, threads: rts.threads, loss: cfg.loss, data: m.data, classes: m.classes, sampleShape: m.sampleShape, batch: m.batch, ...fit, progress: await progressNow([], true) };
}

/** The training generator's samples: a class-conditional grid (one row per class), 64 images or 500 points. */
async function preview(t: Training): Promise<Preview> {
  const shape = t.manifest.sampleShape;
  if (t.trainer.plan.classes) {
    const grid = gridInputs(t.trainer.plan, 8);
    const samples = await t.trainer.generate(t.state, grid.z, grid.labels);
    return { samples, shape, count: 8 * t.trainer.plan.classes, cols: 8, classes: t.manifest.classes };
  }
  const count = shape.length === 1 ? 500 : 64;
  return { samples: await t.trainer.generate(t.state, t.z.subarray(0, count * t.manifest.latent)), shape, count, cols: 8 };
}

async function progressNow(rows: Progress['rows'], withPreview: boolean): Promise<Progress> {
  const t = training!;
  const seconds = (performance.now() - t.run.started) / 1000;
  const progress: Progress = {
    iteration: t.state.iteration, until: t.running ? t.run.until : t.state.iteration, running: t.running, rows,
    perSecond: t.running && seconds > 0 ? (t.state.iteration - t.run.from) / seconds : 0,
  };
  if (withPreview) progress.preview = await preview(t);
  return progress;
}

async function report(rows: Progress['rows'], withPreview: boolean): Promise<void> {
  const progress = await progressNow(rows, withPreview);
  post({ event: 'progress', progress }, progress.preview ? [progress.preview.samples.buffer] : []);
}

/** A macrotask turn without setTimeout's 4 ms clamp, so a pause message is seen between blocks. */
const channel = new MessageChannel();
const yieldToMessages = () => new Promise<void>((ok) => {
  channel.port1.onmessage = () => ok();
  channel.port2.postMessage(null);
});

async function train(iterations: number): Promise<Replies['train']> {
  const t = need();
  if (!Number.isInteger(iterations) || iterations < 1) throw new Error(`stop after: '${iterations}' is not a positive whole number of iterations`);
  if (t.running) throw new Error('already training; pause first');
  t.running = true;
  t.run = { from: t.state.iteration, started: performance.now(), until: t.state.iteration + iterations };
  let saved: TrainState | null = null;
  let rows: Progress['rows'] = [];
  let reported = performance.now();
  let previewed = performance.now();
  let ended = 0;
  try {
    await runLoop({
      trainer: t.trainer,
      state: t.state,
      until: t.run.until,
      // Measured (onnxruntime-web 1.30, WASM, the default MLP): K iterations in one Loop run are slower
      // than one run per step (19.0 against 27.1 it/s), and artifacts carry no fused program anyway.
      fuse: 0,
      checkpointEvery: PAGE_CHECKPOINT_EVERY,
      store: { save: (s) => ((saved = cloneState(s)), `memory (iteration ${s.iteration})`), latest: () => (saved ? `memory (iteration ${saved.iteration})` : null) },
      stopRequested: () => !t.running || training !== t,
      async afterBlock(logs) {
        for (const log of logs) for (const [series, value] of Object.entries(log.values)) rows.push({ iteration: log.iteration, series, value });
        const now = performance.now();
        if (now - reported > PROGRESS_MS) {
          const withPreview = now - previewed > PREVIEW_MS;
          await report(rows, withPreview);
          rows = [];
          reported = now;
          if (withPreview) previewed = performance.now();
        }
        await yieldToMessages();
      },
    });
  } finally {
    ended = performance.now();
    t.running = false;
    // The last progress event before the reply (or the error): the page has every row by then.
    if (training === t) await report(rows, true);
  }
  return { iterations: t.state.iteration - t.run.from, seconds: (ended - t.run.started) / 1000 };
}

function need(): Training {
  if (!training) throw new Error('no training artifacts loaded');
  return training;
}

async function handle(m: Request): Promise<Replies[keyof Replies]> {
  switch (m.op) {
    case 'open':
      return open(m);
    case 'train':
      return train(m.iterations);
    case 'checkpoint': {
      const t = need();
      if (t.running) throw new Error('pause before saving a checkpoint');
      await t.trainer.pull(t.state);
      return { bytes: encodeCheckpoint(t.state, t.manifest.checkpoint), iteration: t.state.iteration };
    }
    case 'load-checkpoint': {
      const t = need();
      if (t.running) throw new Error('pause before loading a checkpoint');
      t.state = decodeCheckpoint(new Uint8Array(await m.file.arrayBuffer()), t.manifest.checkpoint, m.file.name);
      return progressNow([], true);
    }
  }
}

self.onmessage = async (e: MessageEvent<ToWorker>) => {
  const m = e.data;
  if (m.op === 'pause') {
    if (training) training.running = false;
    return;
  }
  try {
    post({ reply: m.id, ok: true, value: await handle(m) });
  } catch (err) {
    post({ reply: m.id, ok: false, error: (err instanceof Error ? err.message : String(err)).split('\n')[0] });
  }
};
