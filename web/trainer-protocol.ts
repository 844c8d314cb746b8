// What the page and its training worker (trainer-worker.ts) say to each other: requests carry an id and
// get one reply; the worker also sends events (progress while training). Both sides import these types
// only, so a message the other side does not know is a type error here.

/** Where the training artifacts come from: files the user chose, or a folder URL on the page's server. */
export type ArtifactsSource = { files: File[] } | { url: string };

export type Request =
  | { op: 'open'; source: ArtifactsSource; where: string; backend: 'webgpu' | 'wasm'; threads: number }
  | { op: 'train'; iterations: number }
  | { op: 'checkpoint' }
  | { op: 'load-checkpoint'; file: File };

/** A request on the wire; `pause` needs no reply (it only flips the running loop's stop flag). */
export type ToWorker = (Request & { id: number }) | { op: 'pause' };

export interface Opened {
  /** onnxruntime-web's backend training runs on ('web-webgpu' or 'web-wasm') and why not WebGPU. */
  backend: string;
  why: string;
  threads: number;
  loss: string;
  data: string;
  classes: string[];
  sampleShape: number[];
  batch: number;
  /** The largest batch of these models that fits the tab's WASM memory, and this batch's estimated need (bytes). */
  maxBatch: number;
  estimate: number;
  /** The opened state: its iteration and preview. */
  progress: Progress;
}

/** One training run's speed, measured in the worker (the Train button's N iterations). */
export interface RunTiming {
  iterations: number;
  seconds: number;
}

export interface Replies {
  open: Opened;
  train: RunTiming;
  checkpoint: { bytes: Uint8Array; iteration: number };
  'load-checkpoint': Progress;
}

/** Samples of the training generator for the preview: points, or images with their grid. */
export interface Preview {
  samples: Float32Array;
  shape: number[];
  count: number;
  cols: number;
  /** Row labels of a conditional grid. */
  classes?: string[];
}

export interface Progress {
  iteration: number;
  /** The iteration the current run stops at (equal to iteration when paused). */
  until: number;
  running: boolean;
  /** Logged scalars of iterations since the last progress event. */
  rows: { iteration: number; series: string; value: number }[];
  /** Iterations per second of the current run so far (0 before its first block). */
  perSecond: number;
  preview?: Preview;
}

export type FromWorker =
  | { reply: number; ok: true; value: Replies[keyof Replies] }
  | { reply: number; ok: false; error: string }
  | { event: 'progress'; progress: Progress };
