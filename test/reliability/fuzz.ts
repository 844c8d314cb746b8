// Fuzzing of every file the project reads: ONNX models (the parser/checker, then onnxruntime for models it
// accepts), checkpoints, safetensors, config files, IDX image files (plain and gzipped) and PNG images. Seeded mutations of real files; each case must
// either load or be refused with one of the project's clear errors, within a time bound.
//   npx tsx test/reliability/fuzz.ts [--cases 1000] [--seed 1] [--json]
import { Command } from 'commander';
import * as ort from 'onnxruntime-node';
import { fromBytes, ModelError } from '../../graph/serialize.ts';
import { parseConfigText } from '../../run/config.ts';
import { parseIdx, parsePng, pngGrid } from '../../data/image-files.ts';
import { DataError } from '../../data/images.ts';
import { gzipSync } from 'node:zlib';
import { Rng } from '../../data/random.ts';
import { CheckpointError, decodeCheckpoint, decodeSafetensors, encodeCheckpoint, type CheckpointInfo } from '../../training/checkpoint.ts';
import { StepCompiler } from '../../training/step.ts';
import { mlpGan } from '../../training/gan-pairs.ts';

export interface FormatReport {
  format: string;
  cases: number;
  accepted: number;
  rejected: number;
  /** Errors that are not clear refusals: wrong type, multi-line, or over the time bound. */
  bugs: string[];
  slowestMs: number;
}

const TIME_BOUND_MS = 2000;

export function mutate(rng: Rng, src: Uint8Array): Uint8Array {
  let b = Uint8Array.from(src);
  const ops = 1 + rng.int(3);
  for (let k = 0; k < ops; k++) {
    const at = rng.int(Math.max(1, b.length));
    switch (rng.int(6)) {
      case 0: // flip bits
        for (let j = 0, n = 1 + rng.int(8); j < n; j++) b[rng.int(b.length)] ^= 1 << rng.int(8);
        break;
      case 1: // overwrite bytes with random or boundary values
        for (let j = 0, n = 1 + rng.int(16); j < n && at + j < b.length; j++) b[at + j] = [0, 0xff, 0x7f, 0x80, rng.int(256)][rng.int(5)];
        break;
      case 2: // truncate
        b = b.slice(0, at);
        break;
      case 3: {
        // insert random bytes
        const ins = Uint8Array.from({ length: 1 + rng.int(32) }, () => rng.int(256));
        b = Uint8Array.from([...b.subarray(0, at), ...ins, ...b.subarray(at)]);
        break;
      }
      case 4: {
        // duplicate a chunk
        const len = Math.min(1 + rng.int(64), b.length - at);
        b = Uint8Array.from([...b.subarray(0, at + len), ...b.subarray(at, at + len), ...b.subarray(at + len)]);
        break;
      }
      case 5: // zero a range
        b.fill(0, at, at + 1 + rng.int(64));
        break;
    }
  }
  return b;
}

const CLEAR = [ModelError, CheckpointError, DataError];
function judge(e: unknown, clearPlainErrors: boolean): string | null {
  if (!(e instanceof Error)) return `threw a non-Error: ${String(e)}`;
  const oneLine = e.message.length > 0 && !e.message.includes('\n');
  if (CLEAR.some((C) => e instanceof C) && oneLine) return null;
  if (clearPlainErrors && e.constructor === Error && oneLine) return null;
  return `${e.constructor.name}: ${e.message.split('\n')[0]}`;
}

async function fuzzFormat(format: string, seeds: Uint8Array[], cases: number, rng: Rng, load: (b: Uint8Array) => unknown | Promise<unknown>, plainErrorsOk = false): Promise<FormatReport> {
  const rep: FormatReport = { format, cases, accepted: 0, rejected: 0, bugs: [], slowestMs: 0 };
  for (let i = 0; i < cases; i++) {
    const input = mutate(rng, seeds[i % seeds.length]);
    const t0 = performance.now();
    try {
      await load(input);
      rep.accepted++;
    } catch (e) {
      rep.rejected++;
      const bug = judge(e, plainErrorsOk);
      if (bug && rep.bugs.length < 20) rep.bugs.push(`case ${i}: ${bug}`);
    }
    const ms = performance.now() - t0;
    rep.slowestMs = Math.max(rep.slowestMs, ms);
    if (ms > TIME_BOUND_MS && rep.bugs.length < 20) rep.bugs.push(`case ${i}: took ${ms.toFixed(0)} ms`);
  }
  return rep;
}

export async function fuzzAll(cases: number, seed: number): Promise<FormatReport[]> {
  const c = new StepCompiler(mlpGan({ loss: 'wgan-gp', hidden: [8, 8], batch: 4 }));
  const models = [c.stepProgram('D').model, c.stepProgram('G').model, c.sampler().model];
  const info: CheckpointInfo = { config: '{"x":1}', slots: { G: ['m', 'v'], D: ['m', 'v'] }, states: [] };
  const init = (n: number) => ({ params: new Float32Array(n).fill(0.5), slots: [new Float32Array(n), new Float32Array(n)], step: 3, lr: 1e-4 });
  const ckpt = encodeCheckpoint({ iteration: 7, G: init(c.layoutG.size), D: init(c.layoutD.size), states: {} }, info);
  const config = new TextEncoder().encode(JSON.stringify({ data: 'grid25', loss: 'fgan', divergence: 'js', iterations: 100, hidden: [64, 64], betas: [0.5, 0.9], seed: 3 }, null, 2));
  // 3 images of 4x5 bytes: the MNIST layout (magic 0 0 8 3, big-endian dims).
  const idx = Uint8Array.from([0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5, ...Array.from({ length: 60 }, (_, i) => (i * 37) % 256)]);
  const png = pngGrid(Float32Array.from({ length: 2 * 3 * 6 * 6 }, (_, i) => Math.sin(i)), [3, 6, 6], 2);
  const rng = Rng.stream(seed, 'fuzz');
  return [
    await fuzzFormat('onnx', models, cases, rng, async (b) => {
      fromBytes(b);
      // Accepted by our checker: onnxruntime must not crash on it (a refusal is fine).
      try {
        await (await ort.InferenceSession.create(b, { intraOpNumThreads: 1 })).release();
      } catch {
        /* onnxruntime refused it cleanly */
      }
    }),
    await fuzzFormat('checkpoint', [ckpt], cases, rng, (b) => decodeCheckpoint(b, info)),
    await fuzzFormat('safetensors', [ckpt], cases, rng, (b) => decodeSafetensors(b)),
    await fuzzFormat('config', [config], cases, rng, (b) => parseConfigText(new TextDecoder().decode(b), 'config.json'), true),
    await fuzzFormat('idx', [idx, gzipSync(idx)], cases, rng, (b) => parseIdx(b, 'images.idx')),
    await fuzzFormat('png', [png], cases, rng, (b) => parsePng(b, 'image.png')),
  ];
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const o = new Command('fuzz').option('--cases <n>', 'cases per format', (v) => parseInt(v, 10), 1000).option('--seed <n>', 'seed', (v) => parseInt(v, 10), 1).option('--json').parse(process.argv).opts();
  const reps = await fuzzAll(o.cases, o.seed);
  if (o.json) console.log(JSON.stringify(reps));
  else for (const r of reps) console.log(`${r.format.padEnd(12)} ${r.cases} cases: ${r.accepted} loaded, ${r.rejected} refused, slowest ${r.slowestMs.toFixed(0)} ms, ${r.bugs.length ? `BUGS:\n  ${r.bugs.join('\n  ')}` : 'no bug'}`);
  process.exitCode = reps.some((r) => r.bugs.length) ? 1 : 0;
}
