// The browser page: samples an exported generator (WebGPU where the browser has it, WASM otherwise) and
// keeps training from training artifacts on WASM through the same run loop the CLI uses (training/run-loop.ts),
// with memory as its checkpoint store and the Pause button as its stop flag. Every failure is one line in
// #error; nothing a user loaded is lost by a failed load (the previous model keeps running).
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { DATASETS, dataset } from '../data/mixtures.ts';
import { idxImageSet, parseIdxBytes } from '../data/images.ts';
import { roleIO } from '../models/imported.ts';
import { Rng } from '../data/random.ts';
import { loadArtifacts, type ArtifactsManifest } from '../training/artifacts.ts';
import { decodeCheckpoint, encodeCheckpoint } from '../training/checkpoint.ts';
import { runLoop } from '../training/run-loop.ts';
import type { Runtime, Session } from '../training/runtime.ts';
import { webRuntime } from '../training/runtime-web.ts';
import type { DataSource } from '../data/source.ts';
import { cloneState, criticSchedule, Trainer, type TrainState } from '../training/trainer.ts';
import { imageGrid, scatter, viewOf } from './draw.ts';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const ui = {
  backend: $('backend'),
  error: $('error'),
  generatorFile: $<HTMLInputElement>('generator-file'),
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
  backend: '',
  generator: null as null | { name: string; latent: number; shape: number[]; samples: number[] },
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
let infer: Runtime = wasm;

async function detectBackend(): Promise<void> {
  const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  let why = 'this browser has no WebGPU';
  if (gpu) {
    try {
      if (await gpu.requestAdapter()) {
        infer = webRuntime({ backend: 'webgpu', wasmPaths });
        why = '';
      } else why = 'WebGPU present but no adapter';
    } catch (e) {
      why = `WebGPU adapter request failed: ${(e as Error).message}`;
    }
  }
  exposed.backend = infer.name;
  ui.backend.textContent = why ? `sampling: WASM (${why}) · training: WASM` : 'sampling: WebGPU · training: WASM';
}

/** A session on the preferred backend; WASM when WebGPU cannot take this model. */
async function inferSession(bytes: Uint8Array): Promise<Session> {
  if (infer === wasm) return wasm.createSession(bytes);
  try {
    return await infer.createSession(bytes);
  } catch (e) {
    ui.backend.textContent = `sampling: WASM (WebGPU refused this model: ${(e as Error).message.split('\n')[0]}) · training: WASM`;
    exposed.backend = wasm.name;
    return wasm.createSession(bytes);
  }
}

// ---- sampling an exported generator ---------------------------------------------------------------

const f32 = (dims: number[], data: Float32Array) => ({ dtype: 'float32' as const, dims, data });

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

let generator: { session: Session; latent: number; shape: number[]; samples: Float32Array; centers?: [number, number][]; za: Float32Array; zb: Float32Array } | null = null;
const PAIRS = { points: 32, images: 8 };

async function loadGenerator(bytes: Uint8Array, name: string): Promise<void> {
  const { inputShape, outputShape, metadata } = roleIO(bytes, 'generator', name);
  const view = viewOf(outputShape);
  if (view === 'none') throw new Error(`${name}: generator output [${outputShape}] is neither 2-D points nor [C, H, W] images with 1 or 3 channels`);
  const latent = inputShape[0];
  const session = await inferSession(bytes);
  const n = view === 'images' ? 56 : 1000;
  const z = Rng.stream(0, 'page-samples').fillNormal(new Float32Array(n * latent));
  const out = await session.run({ [session.inputNames[0]]: f32([n, latent], z) });
  const samples = out[session.outputNames[0]].data as Float32Array;
  if (generator) await generator.session.release();
  const pairs = PAIRS[view];
  generator = {
    session, latent, shape: outputShape, samples,
    centers: DATASETS[metadata.data]?.().centers,
    za: Rng.stream(0, 'page-lerp', 0).fillNormal(new Float32Array(pairs * latent)),
    zb: Rng.stream(0, 'page-lerp', 1).fillNormal(new Float32Array(pairs * latent)),
  };
  exposed.generator = { name, latent, shape: outputShape, samples: Array.from(samples) };
  ui.lerp.disabled = false;
  const meta = ['loss', 'data', 'step'].filter((k) => metadata[k]).map((k) => `${k} ${metadata[k]}`).join(' · ');
  ui.sampleInfo.textContent = `${name}: z [N, ${latent}] -> [N, ${outputShape}]; ${n} samples shown${meta ? ` · ${meta}` : ''}`;
  await drawInterpolation();
  clearError();
}

async function drawInterpolation(): Promise<void> {
  if (!generator) return;
  const t = Number(ui.lerp.value);
  ui.lerpValue.textContent = t.toFixed(2);
  const g = generator;
  const zt = slerp(g.za, g.zb, t, g.latent);
  const out = await g.session.run({ [g.session.inputNames[0]]: f32([zt.length / g.latent, g.latent], zt) });
  const path = out[g.session.outputNames[0]].data as Float32Array;
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

function lossSpec(): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 330,
    height: 220,
    // The legend appears with the first rows: let the view grow to fit it.
    autosize: { type: 'pad', resize: true },
    data: { name: 'losses' },
    // ASCII minus: headless browsers and minimal fonts lack U+2212, which d3-format uses by default.
    config: { locale: { number: { decimal: '.', thousands: ',', grouping: [3], currency: ['', ''], minus: '-' } } },
    mark: { type: 'line', strokeWidth: 1.2 },
    encoding: {
      x: { field: 'iteration', type: 'quantitative' },
      y: { field: 'value', type: 'quantitative', title: 'loss' },
      color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 4 } },
    },
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
async function trainingData(name: string, read: (file: string) => Promise<Uint8Array>): Promise<DataSource> {
  if (DATASETS[name]) return dataset(name);
  const file = name === 'fashion-mnist' ? 'train-images-idx3-ubyte.gz' : name.split(/[\\/]/).pop()!;
  let raw = await read(file).catch(() => null);
  if (!raw && name === 'fashion-mnist') raw = await fetchBytes(`/data/fashion-mnist/${file}`).catch(() => null);
  if (!raw) throw new Error(`data set '${name}': choose ${file} together with the artifacts (the page reads image data only from chosen files or its server)`);
  const { dims, data } = parseIdxBytes(await gunzip(raw, file), file);
  return idxImageSet(name, dims, data);
}

async function openArtifacts(read: (file: string) => Promise<Uint8Array>, where: string): Promise<void> {
  const loaded = await loadArtifacts(read, where);
  const data = await trainingData(loaded.manifest.data, read);
  const trainer = await Trainer.fromPlan(loaded.plan, { runtime: wasm, data, seed: loaded.manifest.seed, nCritic: criticSchedule(loaded.manifest.schedule), threads: 1 });
  if (training) {
    training.running = false;
    training.view.finalize();
    await training.trainer.release();
  }
  const view = new vega.View(vega.parse(compile(lossSpec()).spec), { renderer: 'canvas', container: ui.lossChart, hover: false });
  training = {
    trainer, state: loaded.state, manifest: loaded.manifest, rows: [], view, running: false,
    centers: 'centers' in data ? (data as { centers: [number, number][] }).centers : undefined,
    z: Rng.stream(0, 'page-samples').fillNormal(new Float32Array(500 * loaded.manifest.latent)),
  };
  for (const b of [ui.train, ui.download, ui.checkpointFile]) b.disabled = false;
  const cfg = loaded.config as { loss?: string };
  ui.trainStatus.dataset.loaded = where;
  await showTraining(`loaded ${where}: ${cfg.loss ?? '?'} on ${loaded.manifest.data}`);
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
