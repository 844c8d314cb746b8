// Checkpoints in the safetensors layout (8-byte little-endian header length, JSON header, raw little-endian
// data), readable by Python's safetensors. The header's metadata holds the iteration, step counters,
// learning rates, the run's config and a CRC-32 of the data, so truncation and corruption are caught on load.
// Pure code over Uint8Array: the browser reads and writes the same files.
import { crc32 } from '../data/crc32.ts';
import { names } from './tensor-names.ts';
import type { TrainState, NetState } from './trainer.ts';

export const CHECKPOINT_FORMAT = 'onnx-gan-checkpoint/1';

/** Generator iterations above this are refused: a typo, not a plan (1e8 iterations is months here). */
export const MAX_ITERATIONS = 100_000_000;

export class CheckpointError extends Error {}

export interface TensorEntry {
  dtype: 'F32';
  shape: number[];
  data: Float32Array;
}

/** Encode named float32 tensors and string metadata as a safetensors file. */
export function encodeSafetensors(tensors: Record<string, TensorEntry>, metadata: Record<string, string>): Uint8Array {
  let offset = 0;
  const header: Record<string, unknown> = {};
  const names = Object.keys(tensors);
  for (const name of names) {
    const t = tensors[name];
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  const body = new Uint8Array(offset);
  let at = 0;
  for (const name of names) {
    const d = tensors[name].data;
    body.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), at);
    at += d.byteLength;
  }
  header.__metadata__ = { ...metadata, crc32: String(crc32(body)) };
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8); // align data to 8 bytes, as the spec recommends
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + body.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  out.set(body, 8 + head.length);
  return out;
}

export function decodeSafetensors(bytes: Uint8Array, what = 'file'): { tensors: Record<string, TensorEntry>; metadata: Record<string, string> } {
  if (bytes.length < 8) throw new CheckpointError(`${what}: truncated (${bytes.length} bytes, no header)`);
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true));
  if (n > bytes.length - 8) throw new CheckpointError(`${what}: truncated or corrupt (header of ${n} bytes, file has ${bytes.length})`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch {
    throw new CheckpointError(`${what}: corrupt header (not JSON)`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new CheckpointError(`${what}: corrupt header (not an object)`);
  const body = bytes.subarray(8 + n);
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  const tensors: Record<string, TensorEntry> = {};
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const t = e as { dtype: string; shape: number[]; data_offsets: [number, number] };
    if (t.dtype !== 'F32') throw new CheckpointError(`${what}: tensor '${name}' has dtype ${t.dtype}, expected F32`);
    const [b, end] = t.data_offsets ?? [];
    const count = Array.isArray(t.shape) ? t.shape.reduce((a, x) => a * x, 1) : NaN;
    if (!Number.isInteger(b) || !Number.isInteger(end) || b < 0 || end < b || end - b !== 4 * count)
      throw new CheckpointError(`${what}: tensor '${name}' has bad offsets or shape`);
    if (end > body.length) throw new CheckpointError(`${what}: truncated (tensor '${name}' ends at byte ${end}, data has ${body.length})`);
    // Copy out: the input may be a view into a larger buffer (Node's Buffer pool), and float32 needs alignment.
    const own = new Uint8Array(end - b);
    own.set(body.subarray(b, end));
    tensors[name] = { dtype: 'F32', shape: t.shape, data: new Float32Array(own.buffer) };
  }
  if (metadata.crc32 !== undefined && String(crc32(body)) !== metadata.crc32) throw new CheckpointError(`${what}: corrupt (checksum mismatch)`);
  return { tensors, metadata };
}

export interface CheckpointInfo {
  /** The run's configuration, as JSON; resume refuses a checkpoint from another model. */
  config: string;
  slots: { G: string[]; D: string[] };
  /** Names and sizes of the carried states. */
  states: { name: string; size: number }[];
}

export function encodeCheckpoint(state: TrainState, info: CheckpointInfo): Uint8Array {
  const tensors: Record<string, TensorEntry> = {};
  const meta: Record<string, string> = { format: CHECKPOINT_FORMAT, iteration: String(state.iteration), config: info.config };
  for (const n of ['G', 'D'] as const) {
    const s = state[n];
    tensors[names.param(n)] = { dtype: 'F32', shape: [s.params.length], data: s.params };
    info.slots[n].forEach((slot, i) => (tensors[names.slot(n, slot)] = { dtype: 'F32', shape: [s.slots[i].length], data: s.slots[i] }));
    meta[names.counter(n)] = String(s.step);
    meta[names.lr(n)] = String(s.lr);
  }
  for (const { name } of info.states) tensors[names.state(name)] = { dtype: 'F32', shape: [state.states[name].length], data: state.states[name] };
  return encodeSafetensors(tensors, meta);
}

/** A metadata counter: a decimal non-negative integer up to `max`, else refused naming the field. */
function counter(metadata: Record<string, string>, key: string, max: number, what: string): number {
  const v = metadata[key];
  const n = typeof v === 'string' && /^\d{1,16}$/.test(v) ? Number(v) : NaN;
  if (!(n <= max)) throw new CheckpointError(`${what}: metadata '${key}' is ${JSON.stringify(v)?.slice(0, 40)}, not an integer from 0 to ${max}`);
  return n;
}

/** A learning rate from the metadata: finite and positive. */
function rate(metadata: Record<string, string>, key: string, what: string): number {
  const n = typeof metadata[key] === 'string' ? Number(metadata[key]) : NaN;
  if (!(Number.isFinite(n) && n > 0)) throw new CheckpointError(`${what}: metadata '${key}' is ${JSON.stringify(metadata[key])?.slice(0, 40)}, not a positive number`);
  return n;
}

function finite(data: Float32Array, name: string, what: string): Float32Array {
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) throw new CheckpointError(`${what}: tensor ${name} holds ${data[i]} at index ${i} (a checkpoint holds finite values only)`);
  return data;
}

/** What a checkpoint says about itself, read without knowing its model: its run's settings and iteration. */
export function peekCheckpoint(bytes: Uint8Array, what = 'checkpoint'): { iteration: number; config: string } {
  const { metadata } = decodeSafetensors(bytes, what);
  if (metadata.format !== CHECKPOINT_FORMAT) throw new CheckpointError(`${what}: not an onnx-gan checkpoint (format '${metadata.format ?? 'none'}')`);
  const iteration = counter(metadata, 'iteration', MAX_ITERATIONS, what);
  if (typeof metadata.config !== 'string') throw new CheckpointError(`${what}: no run settings in its metadata`);
  return { iteration, config: metadata.config };
}

/**
 * The first key two identities (settings that make a model what it is) disagree on, with both values; null
 * when none does. The one comparison behind --resume's check, export's and a checkpoint's.
 */
export function identityDifference(before: Record<string, unknown>, now: Record<string, unknown>): { key: string; before: unknown; now: unknown } | null {
  for (const key of new Set([...Object.keys(before), ...Object.keys(now)])) if (JSON.stringify(before[key]) !== JSON.stringify(now[key])) return { key, before: before[key], now: now[key] };
  return null;
}

/** The first setting two identity strings disagree on, as "key: a there, b here". */
function settingDiff(a: string, b: string): string {
  let d: ReturnType<typeof identityDifference> = null;
  try {
    d = identityDifference(JSON.parse(a), JSON.parse(b));
  } catch {
    /* not JSON: say only that they differ */
  }
  return d ? `${d.key}: ${JSON.stringify(d.before) ?? 'unset'} there, ${JSON.stringify(d.now) ?? 'unset'} here` : 'settings differ';
}

export function decodeCheckpoint(bytes: Uint8Array, info: CheckpointInfo, what = 'checkpoint'): TrainState {
  const { tensors, metadata } = decodeSafetensors(bytes, what);
  if (metadata.format !== CHECKPOINT_FORMAT) throw new CheckpointError(`${what}: not an onnx-gan checkpoint (format '${metadata.format ?? 'none'}')`);
  if (metadata.config !== info.config) throw new CheckpointError(`${what}: written by a different model or settings than this run's (${settingDiff(metadata.config ?? '', info.config)})`);
  const net = (n: 'G' | 'D'): NetState => {
    const p = tensors[names.param(n)];
    if (!p) throw new CheckpointError(`${what}: missing tensor ${names.param(n)}`);
    const slots = info.slots[n].map((slot) => {
      const t = tensors[names.slot(n, slot)];
      if (!t || t.data.length !== p.data.length) throw new CheckpointError(`${what}: missing or mis-sized tensor ${names.slot(n, slot)}`);
      return finite(t.data, names.slot(n, slot), what);
    });
    return { params: finite(p.data, names.param(n), what), slots, step: counter(metadata, names.counter(n), Number.MAX_SAFE_INTEGER, what), lr: rate(metadata, names.lr(n), what) };
  };
  const iteration = counter(metadata, 'iteration', MAX_ITERATIONS, what);
  const states: Record<string, Float32Array> = {};
  for (const { name, size } of info.states) {
    const t = tensors[names.state(name)];
    if (!t || t.data.length !== size) throw new CheckpointError(`${what}: missing or mis-sized tensor ${names.state(name)}`);
    states[name] = finite(t.data, names.state(name), what);
  }
  return { iteration, G: net('G'), D: net('D'), states };
}
