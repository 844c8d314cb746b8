// The browser page: samples an exported generator (WebGPU where the browser has it, WASM otherwise) and
// keeps training from training artifacts (WebGPU, state in GPU buffers, where it can; WASM otherwise) through the same run loop the CLI uses (training/run-loop.ts),
// with memory as its checkpoint store and the Pause button as its stop flag. Every failure is one line in
// #error; nothing a user loaded is lost by a failed load (the previous model keeps running).
import * as vega from 'vega';
import { compile } from 'vega-lite';
import { DATASETS, runMixture } from '../data/mixtures.ts';
import { checkIdxLabels, idxImageSet, labelsNameFor, parseIdxBytes } from '../data/images.ts';
import { openGenerator, type ExportedGenerator } from '../training/exported-generator.ts';
import { Rng } from '../data/random.ts';
import { loadArtifacts, type ArtifactsManifest } from '../training/artifacts.ts';
import { decodeCheckpoint, encodeCheckpoint } from '../training/checkpoint.ts';
import { runLoop } from '../training/run-loop.ts';
import type { Runtime, Session } from '../runtime/runtime.ts';
import { webRuntime } from '../runtime/web.ts';
import type { DataSource } from '../data/source.ts';
import { cloneState, criticSchedule, gridInputs, Trainer, type TrainState } from '../training/trainer.ts';
import { imageGrid, scatter, viewOf } from './draw.ts';
import { parseConfig, type Config } from '../run/config.ts';
import { lossCurveSpec } from '../eval/plot.ts';

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
  lossChart: $('loss-chart'),
  trainSamples: $<HTMLCanvasElement>('train-samples'),
};

/** What tests and curious users can read from the console. */
const exposed = {
  /** onnxruntime-web's backend for sampling and for training: 'web-webgpu' or 'web-wasm'. */
  backend: '',
  trainingBackend: '',
  generator: null as null | { name: string; latent: number; shape: number[]; samples: number[]; classes: string[]; picked: number | null },
  training: null as null | { iteration: number; running: boolean; losses: Record<string, number> },
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
/** Where sampling and training run: WebGPU when the browser has an adapter (and ?backend=wasm is absent). */
const backends = { infer: wasm as Runtime, train: wasm as Runtime, why: { infer: '', train: '' } };

function showBackends(): void {
  const say = (r: Runtime, why: string) => (r === wasm ? `WASM${why ? ` (${why})` : ''}` : 'WebGPU');
  exposed.backend = backends.infer.name;
  exposed.trainingBackend = backends.train.name;
  ui.backend.textContent = `sampling: ${say(backends.infer, backends.why.infer)} · training: ${say(backends.train, backends.why.train)}`;
}

async function detectBackend(): Promise<void> {
  const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  let why = 'this browser has no WebGPU';
  if (new URLSearchParams(location.search).get('backend') === 'wasm') why = 'chosen with ?backend=wasm';
  else if (gpu) {
    try {
      if (await gpu.requestAdapter()) {
        backends.infer = backends.train = webRuntime({ backend: 'webgpu', wasmPaths });
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

// ---- training from artifacts ----------------------------------------------------------------------

interface Training {
  trainer: Trainer;
  state: TrainState;
  manifest: ArtifactsManifest;
  centers?: [number, number][];
  z: Float32Array;
  rows: { iteration: number; series: string; value: number }[];
  view: vega.View;
  running: boolean;
}
let training: Training | null = null;

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
  // A file among the chosen ones, or, for Fashion-MNIST, from the page's server; parsed as IDX.
  const idx = async (file: string, missing: string) => {
    let raw = await read(file).catch(() => null);
    if (!raw && name === 'fashion-mnist') raw = await fetchBytes(`/data/fashion-mnist/${file}`).catch(() => null);
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

/** Only the legend of what a section shows now: points or images. */
function legendFor(section: string, kind: 'points' | 'images' | 'none'): void {
  for (const el of document.querySelectorAll<HTMLElement>(`#${section} [data-kind]`)) el.hidden = kind !== 'none' && el.dataset.kind !== kind;
}

async function openArtifacts(read: (file: string) => Promise<Uint8Array>, where: string): Promise<void> {
  const loaded = await loadArtifacts(read, where);
  legendFor('train-section', viewOf(loaded.manifest.sampleShape));
  // The run's settings, checked by the same schema the command line uses.
  const cfg = parseConfig(loaded.config, `${where}/config.json`);
  const data = await trainingData(loaded.manifest.data, read, loaded.manifest.classes, cfg, loaded.manifest.seed);
  const opts = { data, seed: loaded.manifest.seed, nCritic: criticSchedule(loaded.manifest.schedule), threads: 1 };
  // On WebGPU the parameters and optimizer state stay in GPU buffers between steps; WASM if it refuses.
  let trainer: Trainer;
  try {
    trainer = await Trainer.fromPlan(loaded.plan, { ...opts, runtime: backends.train });
  } catch (e) {
    if (backends.train === wasm) throw e;
    backends.why.train = `WebGPU refused these step programs: ${(e as Error).message.split('\n')[0]}`;
    backends.train = wasm;
    showBackends();
    trainer = await Trainer.fromPlan(loaded.plan, { ...opts, runtime: wasm });
  }
  if (training) {
    training.running = false;
    training.view.finalize();
    await training.trainer.release();
  }
  const view = new vega.View(vega.parse(compile(lossCurveSpec()).spec), { renderer: 'canvas', container: ui.lossChart, hover: false });
  training = {
    trainer, state: loaded.state, manifest: loaded.manifest, rows: [], view, running: false,
    centers: 'centers' in data ? (data as { centers: [number, number][] }).centers : undefined,
    z: Rng.stream(0, 'page-samples').fillNormal(new Float32Array(500 * loaded.manifest.latent)),
  };
  for (const b of [ui.train, ui.download, ui.checkpointFile]) b.disabled = false;
  ui.trainStatus.dataset.loaded = where;
  await showTraining(`loaded ${where}: ${cfg.loss} on ${loaded.manifest.data}`);
  clearError();
}

async function showTraining(prefix = ''): Promise<void> {
  const t = training!;
  const last: Record<string, number> = {};
  for (const r of t.rows) if (r.iteration === t.state.iteration) last[r.series] = r.value;
  exposed.training = { iteration: t.state.iteration, running: t.running, losses: last };
  const losses = Object.entries(last).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(' · ');
  ui.trainStatus.textContent = `${prefix ? `${prefix}; ` : ''}iteration ${t.state.iteration}${t.running ? ' (training)' : ' (paused)'}${losses ? ` · ${losses}` : ''}`;
  await t.view.data('losses', t.rows).runAsync();
  const shape = t.manifest.sampleShape;
  if (t.trainer.plan.classes) {
    // One row per class, the same 8 latents in every row.
    const grid = gridInputs(t.trainer.plan, 8);
    imageGrid(ui.trainSamples, await t.trainer.generate(t.state, grid.z, grid.labels), shape, 8 * t.trainer.plan.classes, 8, t.manifest.classes);
    return;
  }
  const xs = await t.trainer.generate(t.state, t.z);
  if (viewOf(shape) === 'points') scatter(ui.trainSamples, xs, { centers: t.centers });
  else if (viewOf(shape) === 'images') imageGrid(ui.trainSamples, xs, shape, 64, 8);
}

/** The page's checkpoints live in memory: the last one is what a divergence returns to. */
const PAGE_CHECKPOINT_EVERY = 100;

async function trainLoop(): Promise<void> {
  const t = training!;
  const n = Number(ui.trainFor.value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`stop after: '${ui.trainFor.value}' is not a positive whole number of iterations`);
  t.running = true;
  [ui.train.disabled, ui.pause.disabled, ui.checkpointFile.disabled] = [true, false, true];
  let drawn = performance.now();
  let saved: TrainState | null = null;
  try {
    await runLoop({
      trainer: t.trainer,
      state: t.state,
      until: t.state.iteration + n,
      fuse: 0,
      checkpointEvery: PAGE_CHECKPOINT_EVERY,
      store: { save: (s) => ((saved = cloneState(s)), `memory (iteration ${s.iteration})`), latest: () => (saved ? `memory (iteration ${saved.iteration})` : null) },
      stopRequested: () => !t.running || training !== t,
      async afterBlock(logs) {
        for (const log of logs) for (const [series, value] of Object.entries(log.values)) t.rows.push({ iteration: log.iteration, series, value });
        if (performance.now() - drawn > 250) {
          await showTraining();
          drawn = performance.now();
        }
        await new Promise((r) => setTimeout(r, 0)); // let the page paint and take clicks
      },
    });
  } finally {
    t.running = false;
    t.rows = t.rows.filter((r) => r.iteration <= t.state.iteration);
    [ui.train.disabled, ui.pause.disabled, ui.checkpointFile.disabled] = [false, true, false];
    if (training === t) await showTraining();
  }
}

function downloadCheckpoint(): void {
  const t = training!;
  const bytes = encodeCheckpoint(t.state, t.manifest.checkpoint);
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([bytes as BlobPart], { type: 'application/octet-stream' }));
  // The run's own file name: dropped into <run>/checkpoints/ it is the run's newest checkpoint.
  a.download = `ckpt-${String(t.state.iteration).padStart(9, '0')}.safetensors`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

async function loadCheckpoint(file: File): Promise<void> {
  const t = training!;
  t.state = decodeCheckpoint(new Uint8Array(await file.arrayBuffer()), t.manifest.checkpoint, file.name);
  t.rows = t.rows.filter((r) => r.iteration <= t.state.iteration);
  await showTraining(`loaded ${file.name}`);
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

function fromFiles(files: FileList): (name: string) => Promise<Uint8Array> {
  const byName = new Map([...files].map((f) => [f.name, f]));
  return async (name) => {
    const f = byName.get(name);
    if (!f) throw new Error(`not among the chosen files (${[...byName.keys()].join(', ') || 'none'})`);
    return bytesOf(f);
  };
}

ui.generatorFile.addEventListener('change', guard(async () => {
  const f = ui.generatorFile.files?.[0];
  if (f) await loadGenerator(await bytesOf(f), f.name);
}));
ui.lerp.addEventListener('input', guard(drawInterpolation));
ui.classSelect.addEventListener('change', guard(() => drawSamples()));
for (const input of [ui.artifactsDir, ui.artifactsFiles])
  input.addEventListener('change', guard(async () => {
    if (input.files?.length) await openArtifacts(fromFiles(input.files), input === ui.artifactsDir ? (input.files[0].webkitRelativePath.split('/')[0] || 'folder') : 'chosen files');
  }));
ui.train.addEventListener('click', guard(trainLoop));
ui.pause.addEventListener('click', () => training && (training.running = false));
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
  if (a) await openArtifacts((f) => fetchBytes(new URL(f, new URL(a.endsWith('/') ? a : `${a}/`, location.href)).href), a);
})();
exposed.ready = true;
document.body.dataset.ready = 'true';
