// Image folders as people have them: JPEG, PNG, WebP, GIF, TIFF or AVIF files, flat or one subfolder per
// class (torchvision's ImageFolder), searched recursively; decoded and resized once by sharp (libvips) into
// one uint8 tensor [N, C, S, S]. Decoding is the slow part (seconds per thousand photos), so the caller may
// hand in a cache keyed by the files' paths, sizes and mtimes and the options (run/image-cache.ts).
import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { extname, join, relative, resolve } from 'node:path';
import sharp from 'sharp';
import { chwToHwc, DataError, hwcToChw, type ResizeMode } from './images.ts';

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif'];

export interface PrepareOptions {
  /** Resize every image to S x S; absent: every image must already share one size. */
  imageSize?: number;
  /** crop: shorter side to S then the centre (torchvision's Resize + CenterCrop); stretch; pad (black bars). */
  resize?: ResizeMode;
  /** 1 (grey) or 3 (RGB); absent: what the files are, refused when they disagree. */
  channels?: 1 | 3;
  /** Refuse a folder with unreadable files instead of skipping them. */
  strict?: boolean;
  cache?: ImageCache;
  onProgress?: (done: number, total: number) => void;
  /** Told once per thing the user should know (alpha composited, files skipped). */
  onNote?: (text: string) => void;
}

/** What preparing a folder yields, and what a cache keeps. */
export interface PreparedImages {
  /** [C, S, S] per image. */
  shape: number[];
  images: Uint8Array;
  labels?: Uint8Array;
  classes?: string[];
  /** Files that could not be decoded, each `path: reason`. */
  skipped: string[];
  /** Things the user should hear once (alpha composited, files skipped). */
  notes: string[];
}

export interface ImageCache {
  get(key: string): PreparedImages | null;
  put(key: string, prepared: PreparedImages): void;
}

const isImageFile = (name: string) => IMAGE_EXTENSIONS.includes(extname(name).toLowerCase());

/** Image files under `dir`, recursively, sorted; hidden entries and links are passed over. */
function imagesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (e.name.startsWith('.')) continue;
    if (e.isDirectory()) out.push(...imagesUnder(join(dir, e.name)));
    else if (e.isFile() && isImageFile(e.name)) out.push(join(dir, e.name));
  }
  return out;
}

/**
 * The folder's images and their labels: image files at its top level make it flat (every image below,
 * unlabelled); otherwise each subfolder is a class (sorted names, as torchvision's) holding the images below it.
 */
export function listImageFolder(dir: string): { files: string[]; labels?: Uint8Array; classes?: string[] } {
  const entries = readdirSync(dir, { withFileTypes: true }).filter((e) => !e.name.startsWith('.'));
  if (entries.some((e) => e.isFile() && isImageFile(e.name))) return { files: imagesUnder(dir) };
  const classes = entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  const perClass = classes.map((c) => imagesUnder(join(dir, c)));
  const kinds = IMAGE_EXTENSIONS.join(' ');
  if (!classes.length) throw new DataError(`${dir}: no image files (${kinds}) and no class subfolders`);
  const empty = classes.findIndex((_, k) => !perClass[k].length);
  if (empty >= 0) throw new DataError(`${join(dir, classes[empty])}: class folder with no image files (${kinds})`);
  if (classes.length > 256) throw new DataError(`${dir}: ${classes.length} class folders, at most 256 are supported`);
  return { files: perClass.flat(), labels: Uint8Array.from(perClass.flatMap((fs, k) => fs.map(() => k))), classes };
}

/** The cache key: where the files are, what they are (size, mtime) and how they are prepared. */
export function folderKey(dir: string, files: string[], o: PrepareOptions): string {
  const root = resolve(dir);
  const list = files.map((f) => {
    const s = statSync(f);
    return [relative(root, resolve(f)), s.size, s.mtimeMs];
  });
  const options = { imageSize: o.imageSize ?? null, resize: o.resize ?? 'crop', channels: o.channels ?? null };
  return createHash('sha256').update(JSON.stringify({ format: 1, root, list, options })).digest('hex');
}

const FIT = { crop: 'cover', stretch: 'fill', pad: 'contain' } as const;

interface Decoded {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
  alpha: boolean;
}

/** One file as HWC bytes, alpha composited on black, resized when asked, in the channels asked (else its own). */
async function decode(file: string, o: PrepareOptions): Promise<Decoded> {
  let img = sharp(file, { failOn: 'warning' }).autoOrient();
  const meta = await img.metadata();
  if (meta.hasAlpha) img = img.flatten({ background: '#000000' });
  if (o.imageSize) img = img.resize(o.imageSize, o.imageSize, { fit: FIT[o.resize ?? 'crop'], position: 'centre', background: '#000000' });
  // sharp writes sRGB unless told otherwise: a grey file stays one channel only when asked to.
  const grey = o.channels === 1 || (o.channels === undefined && (meta.channels ?? 3) <= 2);
  img = grey ? img.greyscale() : img.toColourspace('srgb');
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels: info.channels, alpha: !!meta.hasAlpha };
}

/** fn(0 .. count - 1), eight at a time: libvips decodes and resizes on libuv's threads. */
async function inLanes(count: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) await fn(next++);
  };
  await Promise.all(Array.from({ length: 8 }, lane));
}

/** Decode every file; failures are kept by index. */
async function decodeAll(files: string[], o: PrepareOptions): Promise<(Decoded | Error)[]> {
  const out: (Decoded | Error)[] = new Array(files.length);
  let done = 0;
  await inLanes(files.length, async (i) => {
    out[i] = await decode(files[i], o).catch((e: Error) => new Error(e.message.split('\n')[0]));
    o.onProgress?.(++done, files.length);
  });
  return out;
}

/** Every image of a folder as one uint8 tensor [N, C, S, S] with its labels, from the cache when it has them. */
export async function prepareImageFolder(dir: string, o: PrepareOptions = {}): Promise<PreparedImages> {
  const { files, labels, classes } = listImageFolder(dir);
  const key = folderKey(dir, files, o);
  const hit = o.cache?.get(key);
  const prepared = hit ?? (await decodeFolder(dir, files, labels, classes, o));
  if (!hit) o.cache?.put(key, prepared);
  if (o.strict && prepared.skipped.length) throw new DataError(`${dir}: ${prepared.skipped.length} unreadable files (--strict), first ${prepared.skipped[0]}`);
  return prepared;
}

async function decodeFolder(dir: string, files: string[], labels: Uint8Array | undefined, classes: string[] | undefined, o: PrepareOptions): Promise<PreparedImages> {
  const decoded = await decodeAll(files, o);
  const ok = decoded.map((d, i) => ({ d, i })).filter((x): x is { d: Decoded; i: number } => !(x.d instanceof Error));
  const skipped = decoded.flatMap((d, i) => (d instanceof Error ? [`${files[i]}: ${d.message}`] : []));
  if (ok.length < 2) throw new DataError(`${dir}: ${ok.length === 0 ? 'no readable image' : `one readable image (${files[ok[0].i]})`}; a GAN learns from a set of images${skipped.length ? ` (${skipped.length} unreadable, first ${skipped[0]})` : ''}`);
  const first = ok[0];
  for (const { d, i } of ok) {
    if (d.width !== first.d.width || d.height !== first.d.height)
      throw new DataError(`${files[i]}: ${d.width}x${d.height}, the folder's first image ${files[first.i]} is ${first.d.width}x${first.d.height}; --image-size N resizes every image to N x N`);
    if (d.channels !== first.d.channels)
      throw new DataError(`${files[i]}: ${d.channels === 1 ? 'grey' : 'colour'}, the folder's first image ${files[first.i]} is ${first.d.channels === 1 ? 'grey' : 'colour'}; --channels 1 or --channels 3 makes them one kind`);
  }
  const { width: W, height: H, channels: C } = first.d;
  const per = C * H * W;
  const images = new Uint8Array(ok.length * per);
  ok.forEach(({ d }, n) => images.set(hwcToChw(d.data, 1, H, W, C), n * per));
  const notes: string[] = [];
  const withAlpha = ok.filter(({ d }) => d.alpha).length;
  if (withAlpha) notes.push(`${withAlpha} of ${ok.length} images have an alpha channel: composited on black`);
  if (skipped.length) notes.push(`skipped ${skipped.length} unreadable of ${files.length} files (--strict refuses them): ${skipped.slice(0, 3).join('; ')}${skipped.length > 3 ? '; ...' : ''}`);
  return { shape: [C, H, W], images, labels: labels && Uint8Array.from(ok.map(({ i }) => labels[i])), classes, skipped, notes };
}

/** Images already in memory ([N, C, H, W] uint8, an IDX set) resized to S x S the same way a folder's are. */
export async function resizeImages(images: Uint8Array, shape: number[], o: PrepareOptions & { imageSize: number }): Promise<Uint8Array> {
  const [C, H, W] = shape;
  const S = o.imageSize;
  const per = C * H * W;
  const n = images.length / per;
  const out = new Uint8Array(n * C * S * S);
  await inLanes(n, async (i) => {
    const hwc = chwToHwc(images.subarray(i * per, (i + 1) * per), 1, H, W, C);
    const raw = await sharp(hwc, { raw: { width: W, height: H, channels: C as 1 | 3 } })
      .resize(S, S, { fit: FIT[o.resize ?? 'crop'], position: 'centre', background: '#000000' })
      // sharp writes sRGB unless told otherwise: grey stays one channel only when asked to.
      .toColourspace(C === 1 ? 'b-w' : 'srgb')
      .raw()
      .toBuffer();
    out.set(hwcToChw(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength), 1, S, S, C), i * C * S * S);
    if (i % 256 === 0 || i === n - 1) o.onProgress?.(i + 1, n);
  });
  return out;
}
