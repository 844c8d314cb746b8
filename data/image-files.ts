// Image data from files (Node): IDX files (the MNIST format, gzipped or not) and image folders
// (image-folder.ts), decoded once into uint8 memory and served as random minibatches scaled to [-1, 1] (data/images.ts);
// PNG grids of samples.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { PNG } from 'pngjs';
import sharp from 'sharp';
import { FASHION_MNIST_DIR } from './paths.ts';
import { prepareImageFolder, resizeImages, type PrepareOptions } from './image-folder.ts';
import { checkIdxLabels, DataError, FASHION_MNIST_CLASSES, idxImageSet, imageSet, labelsNameFor, parseIdxBytes, pngFault, type ImageSet } from './images.ts';

/** An IDX file, gzipped or not. */
export function parseIdx(raw: Uint8Array, what: string): { dims: number[]; data: Uint8Array } {
  let bytes = raw;
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      bytes = gunzipSync(raw);
    } catch (e) {
      throw new DataError(`${what}: corrupt gzip stream (${(e as NodeJS.ErrnoException).code ?? (e as Error).message.split('\n')[0]})`);
    }
  }
  return parseIdxBytes(bytes, what);
}

/** A PNG file as [C, H, W] bytes, C = 1 for grey images, else 3 (alpha dropped). */
export function parsePng(raw: Uint8Array, what: string): { shape: number[]; data: Uint8Array } {
  let png: PNG;
  try {
    png = PNG.sync.read(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength));
  } catch (e) {
    throw new DataError(`${what}: ${pngFault(raw) ?? `corrupt PNG (${(e as Error).message.split('\n')[0]})`}`);
  }
  const { width: W, height: H, data } = png;
  const grey = (png as unknown as { colorType?: number }).colorType === 0 || (png as unknown as { colorType?: number }).colorType === 4;
  const C = grey ? 1 : 3;
  const out = new Uint8Array(C * H * W);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) for (let c = 0; c < C; c++) out[c * H * W + y * W + x] = data[(y * W + x) * 4 + c];
  return { shape: [C, H, W], data: out };
}

export function readIdxImages(path: string, labelsPath?: string, classes?: string[]): ImageSet {
  const read = (p: string) => {
    try {
      return readFileSync(p);
    } catch (e) {
      throw new DataError(`${p}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  };
  const { dims, data } = parseIdx(read(path), path);
  let labels: Uint8Array | undefined;
  if (labelsPath) {
    const l = parseIdx(read(labelsPath), labelsPath);
    checkIdxLabels(l.dims, dims[0], labelsPath, path);
    labels = l.data;
  }
  return idxImageSet(path, dims, data, labels, classes);
}

/** The labels file beside an IDX images file (the MNIST naming), gzipped or not, if there is one. */
export function labelsBeside(imagesPath: string): string | undefined {
  const name = labelsNameFor(imagesPath)?.replace(/\.gz$/, '');
  return name ? [`${name}.gz`, name].find((p) => existsSync(p)) : undefined;
}

/** Fashion-MNIST from Debian's dataset-fashion-mnist package. */
export function fashionMnist(split: 'train' | 't10k' = 'train'): ImageSet {
  const images = join(FASHION_MNIST_DIR, `${split}-images-idx3-ubyte.gz`);
  if (!existsSync(images)) throw new DataError(`fashion-mnist: ${images} not found; apt-get install dataset-fashion-mnist (or set FASHION_MNIST_DIR)`);
  const set = readIdxImages(images, join(FASHION_MNIST_DIR, `${split}-labels-idx1-ubyte.gz`), FASHION_MNIST_CLASSES);
  return { ...set, name: 'fashion-mnist' };
}

/** How image data is prepared: the folder options, and the random flip applied when batches are drawn. */
export type ImageOptions = PrepareOptions & { flip?: boolean };

/**
 * An image data set by name or path: 'fashion-mnist', an IDX file, or a folder of images (image-folder.ts);
 * resized to `imageSize` when given. Null when `spec` is none of these.
 */
export async function imageData(spec: string, o: ImageOptions = {}): Promise<ImageSet | null> {
  let set: ImageSet;
  if (spec === 'fashion-mnist') set = fashionMnist();
  else if (/(-ubyte|\.idx\d?)(\.gz)?$/.test(spec) || /\.gz$/.test(spec)) set = readIdxImages(spec, labelsBeside(spec));
  else if (existsSync(spec) && statSync(spec).isDirectory()) {
    const p = await prepareImageFolder(spec, o);
    for (const note of p.notes) o.onNote?.(`${spec}: ${note}`);
    return imageSet(spec, p.shape, p.images, p.labels, p.classes, o);
  } else return null;
  if (o.channels && o.channels !== set.shape[0]) throw new DataError(`--channels ${o.channels}: ${set.name} has ${set.shape[0]} channel${set.shape[0] > 1 ? 's' : ''}; --channels converts image folders only`);
  const [C, H, W] = set.shape;
  if (!o.imageSize || (H === o.imageSize && W === o.imageSize)) return imageSet(set.name, set.shape, set.images, set.labels, set.classes, o);
  const images = await resizeImages(set.images, set.shape, { ...o, imageSize: o.imageSize });
  return imageSet(set.name, [C, o.imageSize, o.imageSize], images, set.labels, set.classes, o);
}

/** n images [n, C, H, W] in [-1, 1] as one PNG grid with `cols` columns and a 2-pixel gutter. */
export function pngGrid(images: Float32Array, shape: number[], cols: number): Uint8Array {
  const [C, H, W] = shape;
  const n = images.length / (C * H * W);
  const rows = Math.ceil(n / cols);
  const gap = 2;
  const png = new PNG({ width: cols * (W + gap) + gap, height: rows * (H + gap) + gap });
  png.data.fill(255);
  for (let k = 0; k < n; k++) {
    const ox = gap + (k % cols) * (W + gap);
    const oy = gap + Math.floor(k / cols) * (H + gap);
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const at = ((oy + y) * png.width + ox + x) * 4;
        for (let c = 0; c < 3; c++) {
          const v = images[((k * C + (C === 1 ? 0 : c)) * H + y) * W + x];
          png.data[at + c] = Math.max(0, Math.min(255, Math.round((v + 1) * 127.5)));
        }
        png.data[at + 3] = 255;
      }
  }
  return PNG.sync.write(png);
}

/** Text as SVG text content. */
const svgText = (t: string) => t.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/**
 * A sample grid for people: pngGrid scaled up by whole pixels (nearest neighbour) to about `width` pixels,
 * and, for a class-conditional grid (one row per class), each row's class name at its left.
 */
export async function sampleGridPng(images: Float32Array, shape: number[], cols: number, o: { rowLabels?: string[]; width?: number } = {}): Promise<Uint8Array> {
  const grid = pngGrid(images, shape, cols);
  const meta = await sharp(grid).metadata();
  const scale = Math.max(1, Math.round((o.width ?? 512) / meta.width!));
  const [W, H] = [meta.width! * scale, meta.height! * scale];
  let img = sharp(grid).resize(W, H, { kernel: 'nearest' });
  const labels = o.rowLabels ?? [];
  if (labels.length) {
    const font = 14;
    const margin = Math.min(200, 16 + Math.max(...labels.map((l) => l.length)) * Math.round(font * 0.6));
    const rowH = (shape[1] + 2) * scale;
    const texts = labels.map((l, r) => `<text x="${margin - 8}" y="${Math.round((2 * scale + r * rowH + rowH / 2) + font / 3)}" text-anchor="end">${svgText(l.slice(0, 30))}</text>`).join('');
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${margin}" height="${H}"><rect width="100%" height="100%" fill="white"/><g font-family="DejaVu Sans, sans-serif" font-size="${font}" fill="#222">${texts}</g></svg>`;
    img = sharp(await img.png().toBuffer())
      .extend({ left: margin, background: '#ffffff' })
      .composite([{ input: Buffer.from(svg), left: 0, top: 0 }]);
  }
  return new Uint8Array(await img.png().toBuffer());
}

/**
 * 2-D samples as a `size` x `size` PNG: blue dots over red crosses at the mode centres, axes fitted to the
 * centres with a margin (samples beyond them clamped to the edge), for viewers that take raster images.
 */
export function pngScatter(xy: Float32Array, centers: [number, number][], size = 256): Uint8Array {
  const png = new PNG({ width: size, height: size });
  png.data.fill(255);
  const all = centers.flat();
  const lo = Math.min(...all) - 0.5;
  const hi = Math.max(...all) + 0.5;
  const px = (v: number) => Math.max(0, Math.min(size - 1, Math.round(((v - lo) / (hi - lo)) * (size - 1))));
  const dot = (x: number, y: number, rgb: [number, number, number]) => {
    if (x < 0 || y < 0 || x >= size || y >= size) return;
    const at = (y * size + x) * 4;
    png.data.set([...rgb, 255], at);
  };
  for (const [cx, cy] of centers) for (let d = -4; d <= 4; d++) (dot(px(cx) + d, size - 1 - px(cy), [214, 39, 40]), dot(px(cx), size - 1 - px(cy) + d, [214, 39, 40]));
  for (let i = 0; i + 1 < xy.length; i += 2) dot(px(xy[i]), size - 1 - px(xy[i + 1]), [31, 119, 180]);
  return PNG.sync.write(png);
}
