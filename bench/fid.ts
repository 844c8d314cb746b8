// npm run bench:fid [-- 2048]: the time of one FID between two feature sets of d dimensions (default 2048,
// InceptionV3's pool3) and 2 d samples each: the Gaussian fits, the O(d^3) eigendecompositions and
// products of eval/scores.ts, in TypeScript on one core.
import { fid } from '../eval/scores.ts';

const d = Number(process.argv[2] ?? 2048);
if (!Number.isInteger(d) || d < 2) {
  console.error(`bench:fid: the feature size must be an integer >= 2, got '${process.argv[2]}'`);
  process.exit(1);
}
const n = 2 * d;
const a = Float32Array.from({ length: n * d }, (_, i) => Math.sin(i * 1.7) + Math.cos(i * 0.31));
const b = Float32Array.from({ length: n * d }, (_, i) => Math.sin(i * 1.3) + Math.cos(i * 0.37));
const t0 = performance.now();
const f = fid(a, b, d);
console.log(`FID of two sets of ${n} x ${d} features: ${f.toFixed(4)} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
