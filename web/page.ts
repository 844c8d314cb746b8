// The browser page: samples an exported generator (WebGPU where the browser has it, WASM otherwise) and
// keeps training from training artifacts in a worker (trainer-worker.ts: the run loop the CLI uses, WebGPU
// or threaded WASM), drawing its progress, losses and samples; Pause is a message to it. Every failure is
// one line in #error; nothing a user loaded is lost by a failed load (the previous model keeps running).
import * as vega from 'vega';
import { compile } from 'vega-lite';
import { DATASETS } from '../data/mixtures.ts';
import { openGenerator, type ExportedGenerator } from '../training/exported-generator.ts';
import { Rng } from '../data/random.ts';
import type { Runtime, Session } from '../runtime/runtime.ts';
import { webRuntime } from '../runtime/web.ts';
import { imageGrid, scatter, viewOf } from './draw.ts';
import { lossCurveSpec } from '../eval/plot.ts';
import type { ArtifactsSource, FromWorker, Preview, Progress, Replies, Request, RunTiming, ToWorker } from './trainer-protocol.ts';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const ui = {
  backend: $('backend'),
  error: $('error'),
  generatorFile: $<HTMLInputElement>('generator-file'),
  classPicker: $('class-picker'),
  classSelect: $<HTMLSelectElement>('class'),
  samples: $<HTMLCanvasElement>('samples'),
  lerp: $<HTMLInputElement>('lerp'),
  lerpValue: $<HTMLOutputElement>('lerp-value'),
  sampleInfo: $('sample-info'),
  samplesOutside: $('samples-outside'),
  artifactsDir: $<HTMLInputElement>('artifacts-dir'),
  artifactsFiles: $<HTMLInputElement>('artifacts-files'),
  trainFor: $<HTMLInputElement>('train-for'),
  train: $<HTMLButtonElement>('train'),
  pause: $<HTMLButtonElement>('pause'),
  download: $<HTMLButtonElement>('download'),
  checkpointFile: $<HTMLInputElement>('checkpoint-file'),
  trainStatus: $('train-status'),
  trainProgress: $<HTMLProgressElement>('train-progress'),
  lossChart: $('loss-chart'),
  trainSamples: $<HTMLCanvasElement>('train-samples'),
};

/** What tests and curious users can read from the console. */
const exposed = {
  /** onnxruntime-web's backend for sampling and for training: 'web-webgpu' or 'web-wasm'. */
  backend: '',
  trainingBackend: '',
  generator: null as null | { name: string; latent: number; shape: number[]; samples: number[]; classes: string[]; picked: number | null },
  /** The training worker's state; perSecond while running, lastRun (iterations, seconds) after; frame times of the page while training (ms). */
  training: null as null | { iteration: number; running: boolean; losses: Record<string, number>; perSecond: number; lastRun: RunTiming | null; frames: { count: number; p50: number; p95: number; max: number } },
  errors: [] as string[],
  ready: false,
};
(globalThis as unknown as { onnxGan: typeof exposed }).onnxGan = exposed;

function fail(e: unknown): void {
  const msg = (e instanceof Error ? e.message : String(e)).split('\n')[0];
  exposed.errors.push(msg);
  ui.error.textContent = msg;
  ui.error.hidden = false;
}
const clearError = () => void (ui.error.hidden = true);

// ---- backends -------------------------------------------------------------------------------------

const wasmPaths = new URL('./', import.meta.url).href;
const wasm = webRuntime({ backend: 'wasm', wasmPaths });
/**
 * Where sampling (here) and training (in the worker) run: WebGPU when the browser has an adapter (and
 * ?backend=wasm is absent); the worker says what it got once artifacts are open.
 */
const backends = { infer: wasm as Runtime, train: 'web-wasm', why: { infer: '', train: '' }, threads: '' };

function showBackends(): void {
  const say = (name: string, why: string, threads = '') => (name === 'web-wasm' ? `WASM${why ? ` (${why})` : ''}${threads ? `, ${threads}` : ''}` : 'WebGPU');
  exposed.backend = backends.infer.name;
  exposed.trainingBackend = backends.train;
  ui.backend.textContent = `sampling: ${say(backends.infer.name, backends.why.infer)} · training: ${say(backends.train, backends.why.train, backends.threads)}`;
}

async function detectBackend(): Promise<void> {
  const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  let why = 'this browser has no WebGPU';
  if (new URLSearchParams(location.search).get('backend') === 'wasm') why = 'chosen with ?backend=wasm';
  else if (gpu) {
    try {
      if (await gpu.requestAdapter()) {
        backends.infer = webRuntime({ backend: 'webgpu', wasmPaths });
        backends.train = 'web-webgpu';
        why = '';
      } else why = 'WebGPU present but no adapter';
    } catch (e) {
      why = `WebGPU adapter request failed: ${(e as Error).message}`;
    }
  }
  backends.why = { infer: why, train: why };
  showBackends();
}

/** A session on the preferred backend; WASM when WebGPU cannot take this model. */
async function inferSession(bytes: Uint8Array): Promise<Session> {
  if (backends.infer === wasm) return wasm.createSession(bytes);
  try {
    return await backends.infer.createSession(bytes);
  } catch (e) {
    backends.infer = wasm;
    backends.why.infer = `WebGPU refused this model: ${(e as Error).message.split('\n')[0]}`;
    showBackends();
    return wasm.createSession(bytes);
  }
}

// ---- sampling an exported generator ---------------------------------------------------------------

/** Spherical interpolation, the usual path between two Gaussian latents (linear when nearly parallel). */
function slerp(a: Float32Array, b: Float32Array, t: number, dim: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < a.length; r += dim) {
    let ab = 0, aa = 0, bb = 0;
    for (let i = r; i < r + dim; i++) (ab += a[i] * b[i]), (aa += a[i] * a[i]), (bb += b[i] * b[i]);
    const omega = Math.acos(Math.max(-1, Math.min(1, ab / Math.sqrt(aa * bb || 1))));
    const s = Math.sin(omega);
    const [wa, wb] = s < 1e-6 ? [1 - t, t] : [Math.sin((1 - t) * omega) / s, Math.sin(t * omega) / s];
    for (let i = r; i < r + dim; i++) out[i] = wa * a[i] + wb * b[i];
  }
  return out;
}

interface Generator extends ExportedGenerator {
  samples: Float32Array;
  centers?: [number, number][];
  za: Float32Array;
  zb: Float32Array;
}
let generator: Generator | null = null;
const PAIRS = { points: 32, images: 8 };

/** Run the generator on latent vectors; a conditional one gets the picked class for every row. */
async function runGenerator(g: Generator, z: Float32Array): Promise<Float32Array> {
  const n = z.length / g.latent;
  return g.generate(z, g.classes.length ? new Array(n).fill(Number(ui.classSelect.value || 0)) : undefined);
}

async function loadGenerator(bytes: Uint8Array, name: string): Promise<void> {
  const opened = await openGenerator(bytes, name, inferSession);
  const { latent, shape, classes, metadata } = opened;
  const view = viewOf(shape);
  if (view === 'none') {
    await opened.release();
    throw new Error(`${name}: generator output [${shape}] is neither 2-D points nor [C, H, W] images with 1 or 3 channels`);
  }
  if (generator) await generator.release();
  legendFor('sample-section', view);
  const pairs = PAIRS[view];
  ui.classSelect.replaceChildren(...classes.map((c, i) => new Option(c, String(i))));
  ui.classPicker.hidden = !classes.length;
  generator = Object.assign(opened, {
    samples: new Float32Array(),
    centers: DATASETS[metadata.data]?.().centers,
    za: Rng.stream(0, 'page-lerp', 0).fillNormal(new Float32Array(pairs * latent)),
    zb: Rng.stream(0, 'page-lerp', 1).fillNormal(new Float32Array(pairs * latent)),
  });
  ui.lerp.disabled = false;
  const meta = ['loss', 'data', 'step'].filter((k) => metadata[k]).map((k) => `${k} ${metadata[k]}`).join(' · ');
  const n = view === 'images' ? 56 : 1000;
  ui.sampleInfo.textContent = `${name}: z [N, ${latent}]${classes.length ? ` and a class (${classes.length})` : ''} -> [N, ${shape}]; ${n} samples shown${meta ? ` · ${meta}` : ''}`;
  await drawSamples();
  clearError();
}

/** The fixed latent batch through the generator (for the picked class), then the interpolation path. */
async function drawSamples(): Promise<void> {
  const g = generator!;
  const n = viewOf(g.shape) === 'images' ? 56 : 1000;
  g.samples = await runGenerator(g, Rng.stream(0, 'page-samples').fillNormal(new Float32Array(n * g.latent)));
  const picked = g.classes.length ? Number(ui.classSelect.value) : null;
  exposed.generator = { name: g.name, latent: g.latent, shape: g.shape, samples: Array.from(g.samples), classes: g.classes, picked };
  await drawInterpolation();
}

async function drawInterpolation(): Promise<void> {
  if (!generator) return;
  const t = Number(ui.lerp.value);
  ui.lerpValue.textContent = t.toFixed(2);
  const g = generator;
  const path = await runGenerator(g, slerp(g.za, g.zb, t, g.latent));
  if (viewOf(g.shape) === 'points') {
    const out = scatter(ui.samples, g.samples, { centers: g.centers, highlight: path });
    ui.samplesOutside.textContent = out ? `${out} of ${g.samples.length / 2} samples lie outside this view.` : '';
  }
  else {
    // 7 rows of samples, the last row the interpolation at t.
    const all = new Float32Array(g.samples.length + path.length);
    all.set(g.samples);
    all.set(path, g.samples.length);
    imageGrid(ui.samples, all, g.shape, all.length / g.shape.reduce((a, b) => a * b, 1), 8);
  }
}

// ---- training from artifacts, in a worker ----------------------------------------------------------

/**
 * WASM threads for the trainer: ?threads=N, else the cores up to 4 (more rarely pays on these small
 * graphs); 1 where the page is not cross-origin isolated (no SharedArrayBuffer, so no WASM threads).
 */
function trainThreads(): { threads: number; why: string } {
  const asked = new URLSearchParams(location.search).get('threads');
  if (!crossOriginIsolated) return { threads: 1, why: 'one WASM thread: this page is not cross-origin isolated' };
  if (asked !== null) {
    const n = Number(asked);
    if (!Number.isInteger(n) || n < 1 || n > 64) throw new Error(`?threads=${asked}: a whole number of threads from 1 to 64`);
    return { threads: n, why: '' };
  }
  return { threads: Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1)), why: '' };
}

const worker = new Worker(new URL('./trainer-worker.js', import.meta.url), { type: 'module' });
const waiting = new Map<number, { ok: (v: never) => void; bad: (e: Error) => void }>();
let nextId = 1;
/** One request to the training worker; its reply, or its one-line error. */
function ask<K extends Request['op']>(req: Extract<Request, { op: K }>): Promise<Replies[K]> {
  const id = nextId++;
  return new Promise((ok, bad) => {
    waiting.set(id, { ok: ok as (v: never) => void, bad });
    worker.postMessage({ ...req, id } satisfies ToWorker);
  });
}
worker.onmessage = (e: MessageEvent<FromWorker>) => {
  const m = e.data;
  if ('event' in m) return void guard(() => onProgress(m.progress))();
  const w = waiting.get(m.reply);
  waiting.delete(m.reply);
  if (m.ok) w?.ok(m.value as never);
  else w?.bad(new Error(m.error));
};
worker.onerror = (e) => fail(new Error(`the training worker failed: ${e.message}`));

interface Training {
  iteration: number;
  running: boolean;
  /** The iterations the current run goes from and to (the progress bar's ends). */
  from: number;
  until: number;
  perSecond: number;
  rows: Progress['rows'];
  view: vega.View;
  centers?: [number, number][];
  lastRun: RunTiming | null;
}
let training: Training | null = null;

/** Only the legend of what a section shows now: points or images. */
function legendFor(section: string, kind: 'points' | 'images' | 'none'): void {
  for (const el of document.querySelectorAll<HTMLElement>(`#${section} [data-kind]`)) el.hidden = kind !== 'none' && el.dataset.kind !== kind;
}

async function openArtifacts(source: ArtifactsSource, where: string): Promise<void> {
  const { threads, why } = trainThreads();
  const opened = await ask({ op: 'open', source, where, backend: backends.train === 'web-wasm' ? 'wasm' : 'webgpu', threads });
  if (opened.backend !== backends.train) [backends.train, backends.why.train] = [opened.backend, opened.why];
  backends.threads = opened.threads > 1 ? `${opened.threads} threads` : why || '1 thread';
  showBackends();
  legendFor('train-section', viewOf(opened.sampleShape));
  training?.view.finalize();
  const view = new vega.View(vega.parse(compile(lossCurveSpec()).spec), { renderer: 'canvas', container: ui.lossChart, hover: false });
  training = {
    view, rows: [], running: false, iteration: 0, from: 0, until: 0, perSecond: 0, lastRun: null,
    centers: DATASETS[opened.data]?.().centers,
  };
  for (const b of [ui.train, ui.download, ui.checkpointFile]) b.disabled = false;
  ui.trainStatus.dataset.loaded = where;
  status = `loaded ${where}: ${opened.loss} on ${opened.data}, batch ${opened.batch} (about ${Math.round(opened.estimate / 2 ** 20)} MB; up to batch ${opened.maxBatch} fits this tab)`;
  await onProgress(opened.progress);
  clearError();
}

let status = '';
let drawnAt = 0;

async function onProgress(p: Progress): Promise<void> {
  const t = training;
  if (!t) return;
  t.iteration = p.iteration;
  t.running = p.running;
  t.until = p.until;
  t.perSecond = p.perSecond;
  t.rows.push(...p.rows);
  showStatus();
  const now = performance.now();
  // The chart redraws at most 4 times a second; the preview whenever the worker sends one.
  if (p.preview || !p.running || now - drawnAt > 250) {
    drawnAt = now;
    await t.view.data('losses', t.rows).runAsync();
  }
  if (p.preview) drawPreview(t, p.preview);
}

function showStatus(): void {
  const t = training!;
  const last: Record<string, number> = {};
  for (const r of t.rows) if (r.iteration === t.iteration) last[r.series] = r.value;
  exposed.training = { iteration: t.iteration, running: t.running, losses: last, perSecond: t.perSecond, lastRun: t.lastRun, frames: frames.summary() };
  const losses = Object.entries(last).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(' · ');
  const eta = t.running && t.perSecond > 0 ? ` of ${t.until}, ${t.perSecond.toFixed(1)} it/s, ${duration((t.until - t.iteration) / t.perSecond)} left` : '';
  ui.trainStatus.textContent = `${status ? `${status}; ` : ''}iteration ${t.iteration}${eta}${t.running ? ' (training)' : ' (paused)'}${losses ? ` · ${losses}` : ''}`;
  ui.trainProgress.hidden = !t.running;
  if (t.running) [ui.trainProgress.max, ui.trainProgress.value] = [t.until - t.from, t.iteration - t.from];
}

const duration = (s: number) => (s < 90 ? `${Math.ceil(s)} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`);

function drawPreview(t: Training, p: Preview): void {
  if (viewOf(p.shape) === 'points') scatter(ui.trainSamples, p.samples, { centers: t.centers });
  else if (viewOf(p.shape) === 'images') imageGrid(ui.trainSamples, p.samples, p.shape, p.count, p.cols, p.classes);
}

/** Frame times while the worker trains: the page's own responsiveness, measured. */
const frames = {
  deltas: [] as number[],
  last: 0,
  tick(now: number) {
    if (training?.running && frames.last) frames.deltas.push(now - frames.last);
    frames.last = training?.running ? now : 0;
    requestAnimationFrame(frames.tick);
  },
  summary() {
    const d = [...frames.deltas].sort((a, b) => a - b);
    const at = (q: number) => (d.length ? d[Math.min(d.length - 1, Math.floor(q * d.length))] : 0);
    return { count: d.length, p50: at(0.5), p95: at(0.95), max: d.length ? d[d.length - 1] : 0 };
  },
};
requestAnimationFrame(frames.tick);

async function trainLoop(): Promise<void> {
  const t = training!;
  const n = Number(ui.trainFor.value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`stop after: '${ui.trainFor.value}' is not a positive whole number of iterations`);
  [ui.train.disabled, ui.pause.disabled, ui.checkpointFile.disabled, ui.download.disabled] = [true, false, true, true];
  frames.deltas = [];
  t.running = true;
  t.until = t.iteration + n;
  t.from = t.iteration;
  t.perSecond = 0;
  t.lastRun = null;
  status = '';
  showStatus();
  try {
    t.lastRun = await ask({ op: 'train', iterations: n });
  } finally {
    [ui.train.disabled, ui.pause.disabled, ui.checkpointFile.disabled, ui.download.disabled] = [false, true, false, false];
    if (training === t) {
      t.running = false;
      t.rows = t.rows.filter((r) => r.iteration <= t.iteration);
      showStatus();
    }
  }
}

async function downloadCheckpoint(): Promise<void> {
  const { bytes, iteration } = await ask({ op: 'checkpoint' });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([bytes as BlobPart], { type: 'application/octet-stream' }));
  // The run's own file name: dropped into <run>/checkpoints/ it is the run's newest checkpoint.
  a.download = `ckpt-${String(iteration).padStart(9, '0')}.safetensors`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

async function loadCheckpoint(file: File): Promise<void> {
  const t = training!;
  const progress = await ask({ op: 'load-checkpoint', file });
  t.rows = t.rows.filter((r) => r.iteration <= progress.iteration);
  status = `loaded ${file.name}`;
  await onProgress(progress);
  clearError();
}

// ---- wiring ---------------------------------------------------------------------------------------

const guard = (f: () => Promise<void> | void) => async () => {
  try {
    await f();
  } catch (e) {
    fail(e);
  }
};
const bytesOf = async (f: File) => new Uint8Array(await f.arrayBuffer());

async function fetchBytes(url: string): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}


ui.generatorFile.addEventListener('change', guard(async () => {
  const f = ui.generatorFile.files?.[0];
  if (f) await loadGenerator(await bytesOf(f), f.name);
}));
ui.lerp.addEventListener('input', guard(drawInterpolation));
ui.classSelect.addEventListener('change', guard(() => drawSamples()));
for (const input of [ui.artifactsDir, ui.artifactsFiles])
  input.addEventListener('change', guard(async () => {
    if (input.files?.length) await openArtifacts({ files: [...input.files] }, input === ui.artifactsDir ? (input.files[0].webkitRelativePath.split('/')[0] || 'folder') : 'chosen files');
  }));
ui.train.addEventListener('click', guard(trainLoop));
ui.pause.addEventListener('click', () => worker.postMessage({ op: 'pause' } satisfies ToWorker));
ui.download.addEventListener('click', guard(downloadCheckpoint));
ui.checkpointFile.addEventListener('change', guard(async () => {
  const f = ui.checkpointFile.files?.[0];
  if (f) await loadCheckpoint(f);
}));

await guard(async () => {
  await detectBackend();
  // ?generator=<url> and ?artifacts=<folder url> load from the server (the dev server mounts a run).
  const q = new URLSearchParams(location.search);
  const g = q.get('generator');
  if (g) await loadGenerator(await fetchBytes(g).catch((e) => Promise.reject(new Error(`${g}: ${e.message}`))), g.split('/').pop()!);
  const a = q.get('artifacts');
  if (a) await openArtifacts({ url: new URL(a, location.href).href }, a);
})();
exposed.ready = true;
document.body.dataset.ready = 'true';
