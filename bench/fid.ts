// npm run bench:fid [-- 2048]: the time of one FID between two feature sets of d dimensions (default 2048,
// InceptionV3's pool3) and 2 d samples each (full-rank covariances, as real features give): the Gaussian
// fits as eval makes them (one float64 MatMul on onnxruntime), then the trace term both ways eval/scores.ts
// can take it (Cholesky, used where S1 is positive definite; eigenvectors, where it is singular), in
// TypeScript on one core.
import { Rng } from '../data/random.ts';
import { ortGaussian } from '../eval/image-scores.ts';
import { frechetDistance } from '../eval/scores.ts';
import { nodeRuntime } from '../runtime/node.ts';

const d = Number(process.argv[2] ?? 2048);
if (!Number.isInteger(d) || d < 2) {
  console.error(`bench:fid: the feature size must be an integer >= 2, got '${process.argv[2]}'`);
  process.exit(1);
}
const n = 2 * d;
const r = Rng.stream(0, 'bench-fid');
const a = r.fillNormal(new Float32Array(n * d));
const b = r.fillNormal(new Float32Array(n * d), 0.1, 1.2);
let t = performance.now();
const fits = ortGaussian(nodeRuntime('cpu'));
const [g1, g2] = [await fits.gaussian(a, d), await fits.gaussian(b, d)];
await fits.release();
console.log(`Gaussian fits of two sets of ${n} x ${d} features: ${((performance.now() - t) / 1000).toFixed(1)} s`);
for (const route of ['auto', 'eigen'] as const) {
  t = performance.now();
  const f = frechetDistance(g1, g2, route);
  console.log(`trace term, ${route === 'auto' ? 'Cholesky' : 'eigenvectors'}: FID ${f.toFixed(6)} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
}
