// npm run bench:data [-- --dir DIR] [--count 2000] [--size 64] [--iters 20] [--json]
// What loading costs a training run: an image folder (by default 2,000 generated 64x64 RGB JPEGs) prepared
// the first time (decode + resize, timed) and the second (the cache), then DCGAN steps on it and on
// Fashion-MNIST (when installed) with the time spent drawing minibatches counted apart from the step time.
// The trainer draws the next block while the current one runs on onnxruntime's threads (trainer.ts), so
// drawing stalls a step only when it takes longer than the step; both the share and the stall are shown.
import { Command } from 'commander';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { Rng } from '../data/random.ts';
import { loadData, type Data } from '../data/load.ts';
import { imageCache } from '../run/image-cache.ts';
import { nodeRuntime } from '../runtime/node.ts';
import { dcganGan } from '../training/gan-pairs.ts';
import { Trainer } from '../training/trainer.ts';
import { FASHION_MNIST_DIR } from '../data/paths.ts';

const o = new Command('bench:data')
  .option('--dir <dir>', 'an image folder to measure (default: generated JPEGs)')
  .option('--count <n>', 'generated images', (v) => parseInt(v, 10), 2000)
  .option('--size <n>', 'generated images are N x N, and trained at that size', (v) => parseInt(v, 10), 64)
  .option('--iters <n>', 'timed iterations per data set', (v) => parseInt(v, 10), 20)
  .option('--threads <n>', 'onnxruntime intra-op threads', (v) => parseInt(v, 10), 2)
  .option('--json', 'one JSON object')
  .parse(process.argv)
  .opts<{ dir?: string; count: number; size: number; iters: number; threads: number; json?: boolean }>();

/** Random colour blobs on a gradient, as JPEG: photo-like enough that decoding costs what photos cost. */
async function makeFolder(dir: string, count: number, size: number): Promise<void> {
  const rng = Rng.stream(0, 'bench-data');
  for (let i = 0; i < count; i++) {
    const raw = Buffer.alloc(size * size * 3);
    const [cx, cy, r] = [rng.uniform() * size, rng.uniform() * size, (0.1 + 0.3 * rng.uniform()) * size];
    const col = [rng.int(256), rng.int(256), rng.int(256)];
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++) {
        const inside = (x - cx) ** 2 + (y - cy) ** 2 < r * r;
        for (let c = 0; c < 3; c++) raw[(y * size + x) * 3 + c] = inside ? col[c] : Math.round((255 * (x + y)) / (2 * size));
      }
    mkdirSync(join(dir, `class${i % 4}`), { recursive: true });
    await sharp(raw, { raw: { width: size, height: size, channels: 3 } }).jpeg({ quality: 90 }).toFile(join(dir, `class${i % 4}`, `${i}.jpg`));
  }
}

/** The data set with every draw timed. */
function timed(data: Data): { data: Data; ms: () => number } {
  let ms = 0;
  const wrap = <A extends unknown[], R>(f: (...a: A) => R) => (...a: A): R => {
    const t = performance.now();
    const r = f(...a);
    ms += performance.now() - t;
    return r;
  };
  const d = { ...data, sample: wrap(data.sample.bind(data)) } as Data;
  if (data.sampleLabelled) d.sampleLabelled = wrap(data.sampleLabelled.bind(data));
  return { data: d, ms: () => ms };
}

interface Row {
  data: string;
  shape: number[];
  images: number;
  iterations: number;
  step_ms: number;
  data_ms: number;
  data_pct: number;
}

async function measure(name: string, raw: Data): Promise<Row> {
  const { data, ms } = timed(raw);
  const setup = dcganGan({ loss: 'hinge', image: data.shape, batch: 64 });
  const trainer = await Trainer.create({ setup, runtime: nodeRuntime('cpu'), data, seed: 0, nCritic: () => 1, threads: o.threads });
  const state = trainer.initialState();
  const fuse = 5;
  for (let i = 0; i < fuse; i++) await trainer.fusedIterations(state, fuse); // warm-up: arenas, first runs
  const before = ms();
  const t0 = performance.now();
  for (let i = 0; i < o.iters; i += fuse) await trainer.fusedIterations(state, fuse);
  const wall = performance.now() - t0;
  const n = Math.ceil(o.iters / fuse) * fuse;
  const dataMs = (ms() - before) / n;
  return { data: name, shape: data.shape, images: 'count' in raw ? (raw as { count: number }).count : 0, iterations: n, step_ms: wall / n, data_ms: dataMs, data_pct: (100 * dataMs) / (wall / n) };
}

const made = o.dir ? null : mkdtempSync(join(tmpdir(), 'onnx-gan-bench-data-'));
const dir = o.dir ?? join(made!, 'images');
const cacheAt = mkdtempSync(join(tmpdir(), 'onnx-gan-bench-cache-'));
try {
  if (made) await makeFolder(dir, o.count, o.size);
  const prep = async () => {
    const t = performance.now();
    const data = await loadData(dir, { imageSize: o.size, cache: imageCache(cacheAt) });
    return { data, s: (performance.now() - t) / 1000 };
  };
  const first = await prep();
  const second = await prep();
  const rows = [await measure(made ? `${o.count} generated ${o.size}x${o.size} JPEGs` : dir, first.data)];
  if (existsSync(join(FASHION_MNIST_DIR, 'train-images-idx3-ubyte.gz'))) rows.push(await measure('fashion-mnist', await loadData('fashion-mnist')));
  const result = { prepare_first_s: first.s, prepare_cached_s: second.s, threads: o.threads, rows };
  if (o.json) console.log(JSON.stringify(result));
  else {
    console.log(`prepare ${dir}: ${first.s.toFixed(2)} s the first time (decode + resize), ${second.s.toFixed(2)} s from the cache`);
    console.log('data set                           | shape     | step ms | data ms | data % of step');
    for (const r of rows) console.log(`${r.data.padEnd(34)} | ${r.shape.join('x').padEnd(9)} | ${r.step_ms.toFixed(1).padStart(7)} | ${r.data_ms.toFixed(2).padStart(7)} | ${r.data_pct.toFixed(2).padStart(6)} %`);
  }
} finally {
  if (made) rmSync(made, { recursive: true, force: true });
  rmSync(cacheAt, { recursive: true, force: true });
}
