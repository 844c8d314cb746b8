// Image data that needs no Node API, shared by the CLI and the browser page: IDX parsing (after gunzip,
// which each side does its own way), random minibatches scaled to [-1, 1], and the PNG chunk check.
import { crc32 } from './crc32.ts';
import type { Rng } from './random.ts';
import type { DataSource } from './source.ts';

export class DataError extends Error {}

/** How an image folder is brought to --image-size (data/image-folder.ts). */
export const RESIZE_MODES = ['crop', 'stretch', 'pad'] as const;
export type ResizeMode = (typeof RESIZE_MODES)[number];

const IDX_TYPES: Record<number, string> = { 0x08: 'ubyte', 0x09: 'byte', 0x0b: 'short', 0x0c: 'int', 0x0d: 'float', 0x0e: 'double' };

/** An IDX file of unsigned bytes (already gunzipped): its dims and data. Errors name the file and the offset at fault. */
export function parseIdxBytes(bytes: Uint8Array, what: string): { dims: number[]; data: Uint8Array } {
  if (bytes.length < 4) throw new DataError(`${what}: truncated at offset ${bytes.length}: no IDX header (4 bytes)`);
  if (bytes[0] !== 0 || bytes[1] !== 0) throw new DataError(`${what}: not an IDX file: bytes 0-1 are ${bytes[0]}, ${bytes[1]}, expected 0, 0`);
  const type = bytes[2];
  if (type !== 0x08) throw new DataError(`${what}: IDX element type at offset 2 is ${IDX_TYPES[type] ?? `0x${type.toString(16)}`}, only unsigned bytes (0x08) are supported`);
  const rank = bytes[3];
  if (rank < 1) throw new DataError(`${what}: IDX rank at offset 3 is 0`);
  const head = 4 + 4 * rank;
  if (bytes.length < head) throw new DataError(`${what}: truncated at offset ${bytes.length}: the header needs ${head} bytes for ${rank} dims`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = [...Array(rank).keys()].map((i) => view.getUint32(4 + 4 * i, false));
  const size = dims.reduce((a, b) => a * b, 1);
  if (bytes.length < head + size) {
    const per = size / dims[0];
    throw new DataError(`${what}: truncated at offset ${bytes.length}: dims [${dims}] need ${head + size} bytes (entry ${Math.floor((bytes.length - head) / per)} of ${dims[0]} is cut)`);
  }
  if (bytes.length > head + size) throw new DataError(`${what}: ${bytes.length - head - size} bytes past the end of dims [${dims}] at offset ${head + size}`);
  return { dims, data: bytes.subarray(head, head + size) };
}

/** The MNIST naming: train-images-idx3-ubyte[.gz] has its labels in train-labels-idx1-ubyte[.gz]; null for other names. */
export function labelsNameFor(images: string): string | null {
  const name = images.replace(/images-idx3-ubyte(?=(\.gz)?$)/, 'labels-idx1-ubyte');
  return name === images ? null : name;
}

/** An IDX labels file must hold one label per image. */
export function checkIdxLabels(dims: number[], count: number, labelsWhat: string, imagesWhat: string): void {
  if (dims.length !== 1 || dims[0] !== count) throw new DataError(`${labelsWhat}: labels [${dims}] do not match ${count} images in ${imagesWhat}`);
}

export interface ImageSet extends DataSource {
  /** uint8 images [count, ...shape]. */
  readonly images: Uint8Array;
  readonly count: number;
  readonly labels?: Uint8Array;
}

/** An image set that has a label per image: what the classifier trains and scores on. */
export type LabelledImages = ImageSet & { readonly labels: Uint8Array };

/** The set itself, once it is known to carry labels; refused naming the set otherwise. */
export function labelled(s: ImageSet): LabelledImages {
  if (!s.labels) throw new Error(`${s.name}: the classifier needs labels`);
  return s as LabelledImages;
}

/** Fashion-MNIST's class names, in label order (zalandoresearch/fashion-mnist, README). */
export const FASHION_MNIST_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

/**
 * Random minibatches (uniform, from the iteration's PRNG stream, so resumes repeat) scaled to [-1, 1].
 * With labels, the set is labelled: `classes` names them (default: the label numbers up to the largest).
 * `flip` mirrors half the drawn images (random horizontal flip, as torchvision's RandomHorizontalFlip).
 */
export function imageSet(name: string, shape: number[], images: Uint8Array, labels?: Uint8Array, classes?: string[], o: { flip?: boolean } = {}): ImageSet {
  const per = shape.reduce((a, b) => a * b, 1);
  const count = images.length / per;
  const W = shape[shape.length - 1];
  const draw = (rng: Rng, n: number, labelsOut: Float32Array | null) => {
    const out = new Float32Array(n * per);
    for (let i = 0; i < n; i++) {
      const row = rng.int(count);
      const at = row * per;
      // --flip: each drawn image mirrored left-right with probability 1/2, from the same stream.
      if (o.flip && rng.uniform() < 0.5) for (let j = 0; j < per; j += W) for (let x = 0; x < W; x++) out[i * per + j + x] = images[at + j + W - 1 - x] / 127.5 - 1;
      else for (let j = 0; j < per; j++) out[i * per + j] = images[at + j] / 127.5 - 1;
      if (labelsOut) labelsOut[i] = labels![row];
    }
    return out;
  };
  const set: ImageSet = { name, shape, images, labels, count, sample: (rng, n) => draw(rng, n, null) };
  if (!labels) return set;
  if (labels.length !== count) throw new DataError(`${name}: ${labels.length} labels for ${count} images`);
  const names = classes ?? Array.from({ length: labels.reduce((a, b) => Math.max(a, b), 0) + 1 }, (_, i) => String(i));
  const bad = labels.findIndex((l) => l >= names.length);
  if (bad >= 0) throw new DataError(`${name}: label ${labels[bad]} of image ${bad} is not one of the ${names.length} classes`);
  return {
    ...set,
    classes: names,
    sampleLabelled(rng, n) {
      const out = new Float32Array(n);
      return { samples: draw(rng, n, out), labels: out };
    },
  };
}

/** An image set from a parsed IDX file: [N, H, W] (one channel) or [N, H, W, C] (stored HWC, served CHW). */
export function idxImageSet(name: string, dims: number[], data: Uint8Array, labels?: Uint8Array, classes?: string[]): ImageSet {
  if (dims.length !== 3 && dims.length !== 4) throw new DataError(`${name}: IDX images must be [N, H, W] or [N, H, W, C], got [${dims}]`);
  const shape = dims.length === 3 ? [1, dims[1], dims[2]] : [dims[3], dims[1], dims[2]];
  return imageSet(name, shape, dims.length === 4 ? hwcToChw(data, dims[0], dims[1], dims[2], dims[3]) : data, labels, classes);
}

/** n images from [n, h, w, c] (decoders' pixel order) to [n, c, h, w] (the models'). */
export function hwcToChw(d: Uint8Array, n: number, h: number, w: number, c: number): Uint8Array {
  const out = new Uint8Array(d.length);
  for (let i = 0; i < n; i++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) out[((i * c + k) * h + y) * w + x] = d[((i * h + y) * w + x) * c + k];
  return out;
}

/** The inverse of hwcToChw: [n, c, h, w] to [n, h, w, c]. */
export function chwToHwc(d: Uint8Array, n: number, h: number, w: number, c: number): Uint8Array {
  const out = new Uint8Array(d.length);
  for (let i = 0; i < n; i++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) out[((i * h + y) * w + x) * c + k] = d[((i * c + k) * h + y) * w + x];
  return out;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Where a PNG's chunk structure breaks (signature, a chunk cut short, a CRC mismatch), or null if it does not. */
export function pngFault(b: Uint8Array): string | null {
  if (b.length < 8 || PNG_SIGNATURE.some((v, i) => b[i] !== v)) return `not a PNG: bad signature in bytes 0-7`;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let at = 8;
  while (at < b.length) {
    if (at + 8 > b.length) return `truncated at offset ${b.length}: chunk header at offset ${at} is cut`;
    const len = view.getUint32(at);
    const type = String.fromCharCode(...b.subarray(at + 4, at + 8));
    if (at + 12 + len > b.length) return `truncated at offset ${b.length}: chunk ${JSON.stringify(type)} at offset ${at} needs ${12 + len} bytes`;
    const crc = crc32(b.subarray(at + 4, at + 8 + len));
    if (crc !== view.getUint32(at + 8 + len)) return `CRC mismatch in chunk ${JSON.stringify(type)} at offset ${at} (the data is corrupt)`;
    if (type === 'IEND') return at + 12 + len === b.length ? null : `${b.length - at - 12 - len} bytes after the IEND chunk at offset ${at}`;
    at += 12 + len;
  }
  return `truncated at offset ${b.length}: no IEND chunk`;
}
