import { fid } from '../eval/scores.ts';
const d = Number(process.argv[2] ?? 2048), n = 2 * d;
const a = Float32Array.from({ length: n * d }, (_, i) => Math.sin(i * 1.7) + Math.cos(i * 0.31));
const b = Float32Array.from({ length: n * d }, (_, i) => Math.sin(i * 1.3) + Math.cos(i * 0.37));
const t0 = performance.now();
const f = fid(a, b, d);
console.log(d, f.toFixed(4), ((performance.now() - t0) / 1000).toFixed(1), 's');
