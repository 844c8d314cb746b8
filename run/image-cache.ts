// Prepared image folders kept on disk, so a folder is decoded once and later runs, resumes and eval start
// at once: one file per key (the files' paths, sizes, mtimes and the options; data/image-folder.ts makes
// it) in $ONNX_GAN_CACHE_DIR, else $XDG_CACHE_HOME/onnx-gan/images, else ~/.cache/onnx-gan/images. A
// file read back is checked against one schema and its own lengths; one that fails is prepared again.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import type { ImageCache, PreparedImages } from '../data/image-folder.ts';
import { inside, writeFileAtomic } from './files.ts';

const MAGIC = 'onnx-gan-images\n';

const HeaderSchema = z
  .object({
    format: z.literal(1),
    key: z.string().regex(/^[0-9a-f]{64}$/),
    shape: z.array(z.number().int().positive()).length(3),
    count: z.number().int().positive(),
    labelled: z.boolean(),
    classes: z.array(z.string()).max(256).optional(),
    skipped: z.array(z.string()),
    notes: z.array(z.string()),
  })
  .strict();

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.ONNX_GAN_CACHE_DIR) return env.ONNX_GAN_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'onnx-gan', 'images');
}

/** The cache in `dir`; `onNote` hears when a file is ignored or cannot be written (the run goes on). */
export function imageCache(dir = cacheDir(), onNote: (text: string) => void = () => {}): ImageCache & { fileOf(key: string): string } {
  const fileOf = (key: string) => inside(dir, [`${key}.images`], 'image cache key');
  return {
    fileOf,
    get(key) {
      const file = fileOf(key);
      if (!existsSync(file)) return null;
      try {
        return decode(readFileSync(file), key);
      } catch (e) {
        onNote(`image cache ${file}: ${(e as Error).message}; preparing the images again`);
        return null;
      }
    },
    put(key, p) {
      try {
        writeFileAtomic(fileOf(key), encode(key, p));
      } catch (e) {
        onNote(`image cache: not written (${(e as Error).message}); the next run decodes the images again`);
      }
    },
  };
}

function encode(key: string, p: PreparedImages): Uint8Array {
  const per = p.shape.reduce((a, b) => a * b, 1);
  const header = { format: 1, key, shape: p.shape, count: p.images.length / per, labelled: !!p.labels, classes: p.classes, skipped: p.skipped, notes: p.notes };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(MAGIC.length + 4 + json.length + (p.labels?.length ?? 0) + p.images.length);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(MAGIC.length, json.length, true);
  let at = MAGIC.length + 4;
  out.set(json, at);
  at += json.length;
  if (p.labels) out.set(p.labels, at), (at += p.labels.length);
  out.set(p.images, at);
  return out;
}

function decode(b: Uint8Array, key: string): PreparedImages {
  if (new TextDecoder().decode(b.subarray(0, MAGIC.length)) !== MAGIC) throw new Error('not an image cache file');
  const len = new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(MAGIC.length, true);
  let at = MAGIC.length + 4;
  if (at + len > b.length) throw new Error('truncated header');
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(b.subarray(at, at + len)));
  } catch {
    throw new Error('bad header: not JSON');
  }
  const parsed = HeaderSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`bad header: ${parsed.error.issues[0].path.join('.')} ${parsed.error.issues[0].message}`);
  const h = parsed.data;
  if (h.key !== key) throw new Error('written for another key');
  at += len;
  const per = h.shape.reduce((a, c) => a * c, 1);
  const need = at + (h.labelled ? h.count : 0) + h.count * per;
  if (b.length !== need) throw new Error(`${b.length} bytes, the header says ${need}`);
  const labels = h.labelled ? b.slice(at, at + h.count) : undefined;
  if (labels && h.classes && labels.some((l) => l >= h.classes!.length)) throw new Error('a label past the class list');
  return { shape: h.shape, images: b.slice(need - h.count * per), labels, classes: h.classes, skipped: h.skipped, notes: h.notes };
}
