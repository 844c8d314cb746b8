// Image scores on classifier features (see README: these are classifier-feature scores, not Inception FID).
//   FID: |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1^1/2 S2 S1^1/2)^1/2)   (Heusel et al. 2017)
//   KID: unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3, mean and std over random subsets (Binkowski et al. 2018)
//   class coverage: the histogram of predicted classes and its KL to uniform.
// Statistics in float64; the matrix square root through a symmetric eigendecomposition (cyclic Jacobi).
import { Rng } from '../data/random.ts';

export interface Gaussian {
  mean: Float64Array;
  /** d x d row-major, unbiased (n - 1). */
  cov: Float64Array;
  d: number;
}

export function gaussian(features: Float32Array, d: number): Gaussian {
  const n = features.length / d;
  if (!Number.isInteger(n) || n < 2) throw new Error(`scores: need at least 2 feature rows of size ${d}, got ${features.length / d}`);
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += features[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= n;
  const cov = new Float64Array(d * d);
  const c = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) c[j] = features[i * d + j] - mean[j];
    for (let a = 0; a < d; a++) {
      const ca = c[a];
      if (ca === 0) continue;
      for (let b = a; b < d; b++) cov[a * d + b] += ca * c[b];
    }
  }
  for (let a = 0; a < d; a++)
    for (let b = a; b < d; b++) {
      cov[a * d + b] /= n - 1;
      cov[b * d + a] = cov[a * d + b];
    }
  return { mean, cov, d };
}

/** Eigenvalues and eigenvectors (columns of `vectors`, row-major) of a symmetric d x d matrix. */
export function symmetricEigen(m: Float64Array, d: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(m);
  const v = new Float64Array(d * d);
  for (let i = 0; i < d; i++) v[i * d + i] = 1;
  const offNorm = () => {
    let s = 0;
    for (let i = 0; i < d; i++) for (let j = i + 1; j < d; j++) s += a[i * d + j] ** 2;
    return s;
  };
  let total = 0;
  for (let i = 0; i < d * d; i++) total += a[i] ** 2;
  for (let sweep = 0; sweep < 100 && offNorm() > 1e-30 * Math.max(total, 1e-300); sweep++) {
    for (let p = 0; p < d - 1; p++)
      for (let q = p + 1; q < d; q++) {
        const apq = a[p * d + q];
        if (Math.abs(apq) < 1e-300) continue;
        // The rotation that zeroes a[p][q] (Golub & Van Loan, Algorithm 8.4.1).
        const theta = (a[q * d + q] - a[p * d + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < d; k++) {
          const akp = a[k * d + p];
          const akq = a[k * d + q];
          a[k * d + p] = c * akp - s * akq;
          a[k * d + q] = s * akp + c * akq;
        }
        for (let k = 0; k < d; k++) {
          const apk = a[p * d + k];
          const aqk = a[q * d + k];
          a[p * d + k] = c * apk - s * aqk;
          a[q * d + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < d; k++) {
          const vkp = v[k * d + p];
          const vkq = v[k * d + q];
          v[k * d + p] = c * vkp - s * vkq;
          v[k * d + q] = s * vkp + c * vkq;
        }
      }
  }
  const values = new Float64Array(d);
  for (let i = 0; i < d; i++) values[i] = a[i * d + i];
  return { values, vectors: v };
}

/** Square root of a symmetric positive semi-definite matrix (negative rounding-error eigenvalues clamp to 0). */
export function sqrtPsd(m: Float64Array, d: number): Float64Array {
  const { values, vectors: v } = symmetricEigen(m, d);
  const r = new Float64Array(d * d);
  for (let k = 0; k < d; k++) {
    const s = Math.sqrt(Math.max(values[k], 0));
    if (s === 0) continue;
    for (let i = 0; i < d; i++) {
      const vik = v[i * d + k] * s;
      for (let j = 0; j < d; j++) r[i * d + j] += vik * v[j * d + k];
    }
  }
  return r;
}

function matmul(a: Float64Array, b: Float64Array, d: number): Float64Array {
  const r = new Float64Array(d * d);
  for (let i = 0; i < d; i++)
    for (let k = 0; k < d; k++) {
      const aik = a[i * d + k];
      if (aik === 0) continue;
      for (let j = 0; j < d; j++) r[i * d + j] += aik * b[k * d + j];
    }
  return r;
}

/** Frechet distance between two Gaussians. */
export function frechetDistance(g1: Gaussian, g2: Gaussian): number {
  const d = g1.d;
  if (g2.d !== d) throw new Error(`scores: feature sizes differ (${g1.d} and ${g2.d})`);
  let diff = 0;
  for (let j = 0; j < d; j++) diff += (g1.mean[j] - g2.mean[j]) ** 2;
  const s1 = sqrtPsd(g1.cov, d);
  const inner = matmul(matmul(s1, g2.cov, d), s1, d);
  // Symmetrize away rounding before the eigendecomposition.
  for (let i = 0; i < d; i++) for (let j = i + 1; j < d; j++) inner[i * d + j] = inner[j * d + i] = (inner[i * d + j] + inner[j * d + i]) / 2;
  const { values } = symmetricEigen(inner, d);
  let trSqrt = 0;
  for (const l of values) trSqrt += Math.sqrt(Math.max(l, 0));
  let tr = 0;
  for (let j = 0; j < d; j++) tr += g1.cov[j * d + j] + g2.cov[j * d + j];
  return Math.max(0, diff + tr - 2 * trSqrt);
}

export const fid = (a: Float32Array, b: Float32Array, d: number) => frechetDistance(gaussian(a, d), gaussian(b, d));

/** sum_ij (x_i . y_j / d + 1)^3 over two m x d row blocks; `sameBlock`: y is x and the diagonal is left out. */
export type KernelSum = (x: Float32Array, y: Float32Array, m: number, d: number, sameBlock: boolean) => number | Promise<number>;

/** The kernel sums in plain TypeScript (float64); the CLI passes an onnxruntime MatMul instead, ~30x faster. */
export const kernelSumJs: KernelSum = (x, y, m, d, sameBlock) => {
  let s = 0;
  for (let i = 0; i < m; i++)
    for (let j = sameBlock ? i + 1 : 0; j < m; j++) {
      let dot = 0;
      for (let k = 0; k < d; k++) dot += x[i * d + k] * y[j * d + k];
      const t = dot / d + 1;
      s += t * t * t;
    }
  return sameBlock ? 2 * s : s;
};

/**
 * Kernel inception distance: unbiased MMD^2 between random subsets (rows without replacement within a
 * subset, as torch-fidelity draws them), polynomial kernel of degree 3; mean and std over the subsets.
 */
export async function kid(a: Float32Array, b: Float32Array, d: number, o: { subsets?: number; subsetSize?: number; seed?: number; kernelSum?: KernelSum } = {}): Promise<{ mean: number; std: number; subsets: number; subsetSize: number }> {
  const [na, nb] = [a.length / d, b.length / d];
  const m = Math.min(o.subsetSize ?? 1000, na, nb);
  const subsets = o.subsets ?? 100;
  const sum = o.kernelSum ?? kernelSumJs;
  if (m < 2) throw new Error(`scores: KID needs subsets of at least 2 rows, got ${m}`);
  const rng = Rng.stream(o.seed ?? 0, 'kid');
  const x = new Float32Array(m * d);
  const y = new Float32Array(m * d);
  const mmds: number[] = [];
  for (let s = 0; s < subsets; s++) {
    pick(a, na, m, d, rng, x);
    pick(b, nb, m, d, rng, y);
    const [kxx, kyy, kxy] = [await sum(x, x, m, d, true), await sum(y, y, m, d, true), await sum(x, y, m, d, false)];
    mmds.push((kxx + kyy) / (m * (m - 1)) - (2 * kxy) / (m * m));
  }
  const mean = mmds.reduce((p, v) => p + v, 0) / subsets;
  const std = Math.sqrt(mmds.reduce((p, v) => p + (v - mean) ** 2, 0) / subsets);
  return { mean, std, subsets, subsetSize: m };
}

/** m distinct random rows of src (n x d) into out. */
function pick(src: Float32Array, n: number, m: number, d: number, rng: Rng, out: Float32Array): void {
  rng.distinct(n, m).forEach((row, i) => out.set(src.subarray(row * d, row * d + d), i * d));
}

/** Counts of predicted classes, and KL(histogram || uniform) in nats (0 when every class is equally common). */
export function classCoverage(predicted: ArrayLike<number>, classes: number): { histogram: number[]; klToUniform: number; classesCovered: number } {
  const histogram = new Array<number>(classes).fill(0);
  for (let i = 0; i < predicted.length; i++) histogram[predicted[i]]++;
  const n = predicted.length;
  let kl = 0;
  for (const c of histogram) if (c > 0) kl += (c / n) * Math.log((c / n) * classes);
  return { histogram, klToUniform: kl, classesCovered: histogram.filter((c) => c > 0).length };
}
