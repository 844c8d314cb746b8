// Image scores on classifier features (see README: these are classifier-feature scores, not Inception FID).
//   FID: |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1^1/2 S2 S1^1/2)^1/2)   (Heusel et al. 2017)
//   KID: unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3, mean and std over random subsets (Binkowski et al. 2018)
//   class coverage: the histogram of predicted classes and its KL to uniform.
//   precision / recall, density / coverage: k-NN balls around feature vectors (Kynkaanniemi et al. 2019; Naeem et al. 2020)
//   Inception Score: exp(E KL(p(y|x) || p(y))) on a classifier's logits (Salimans et al. 2016)
// Statistics in float64; the trace of the matrix square root through symmetric eigenvalues (Householder +
// QL) of a matrix similar to S1 S2 (Cholesky, or eigenvectors where S1 is singular).
import { Rng } from '../data/random.ts';

export interface Gaussian {
  mean: Float64Array;
  /** d x d row-major, unbiased (n - 1). */
  cov: Float64Array;
  d: number;
}

/** Mean and covariance of n feature rows; eval's large feature sets take image-scores.ts's onnxruntime version. */
/** The number of feature rows of size d, refused unless whole and at least 2 (a covariance needs two). */
export function featureRows(features: Float32Array, d: number): number {
  const n = features.length / d;
  if (!Number.isInteger(n) || n < 2) throw new Error(`scores: need at least 2 feature rows of size ${d}, got ${n}`);
  return n;
}

export function gaussian(features: Float32Array, d: number): Gaussian {
  const n = featureRows(features, d);
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

/**
 * Eigenvalues and eigenvectors (columns of `vectors`, row-major) of a symmetric d x d matrix: Householder
 * reduction to tridiagonal form, then the implicit QL algorithm (EISPACK's tred2 and tql2, as JAMA writes
 * them): O(d^3), so Inception's 2048-d features take seconds, not the hours Jacobi sweeps would.
 */
export function symmetricEigen(m: Float64Array, d: number): { values: Float64Array; vectors: Float64Array } {
  // The input is symmetric: it is its own transpose, W = V^T to start with.
  const W = Float64Array.from(m);
  const e = new Float64Array(d);
  const values = tridiagonalize(W, d, e);
  diagonalize(W, d, values, e, true);
  const vectors = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) vectors[i * d + j] = W[j * d + i];
  return { values, vectors };
}

/** tred2 on W = V^T (rows contiguous where EISPACK walks columns): W becomes the transposed transform; returns the diagonal, `e` the subdiagonal. */
function tridiagonalize(W: Float64Array, n: number, e: Float64Array, vectors = true): Float64Array {
  const d = new Float64Array(n);
  for (let j = 0; j < n; j++) d[j] = W[j * n + (n - 1)];
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]);
    if (scale === 0) {
      e[i] = d[i - 1];
      for (let j = 0; j < i; j++) {
        d[j] = W[j * n + (i - 1)];
        W[j * n + i] = 0;
        W[i * n + j] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      let f = d[i - 1];
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j];
        W[i * n + j] = f;
        g = e[j] + W[j * n + j] * f;
        for (let k = j + 1; k <= i - 1; k++) {
          g += W[j * n + k] * d[k];
          e[k] += W[j * n + k] * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] -= hh * d[j];
      for (let j = 0; j < i; j++) {
        f = d[j];
        g = e[j];
        for (let k = j; k <= i - 1; k++) W[j * n + k] -= f * e[k] + g * d[k];
        d[j] = W[j * n + (i - 1)];
        W[j * n + i] = 0;
      }
    }
    d[i] = h;
  }
  if (!vectors) {
    // The eigenvalues alone need the tridiagonal form only, not the transformations (a third of the work).
    for (let j = 0; j < n; j++) d[j] = W[j * n + j];
    e[0] = 0;
    return d;
  }
  // Accumulate the transformations.
  for (let i = 0; i < n - 1; i++) {
    W[i * n + (n - 1)] = W[i * n + i];
    W[i * n + i] = 1;
    const h = d[i + 1];
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = W[(i + 1) * n + k] / h;
      for (let j = 0; j <= i; j++) {
        let g = 0;
        for (let k = 0; k <= i; k++) g += W[(i + 1) * n + k] * W[j * n + k];
        for (let k = 0; k <= i; k++) W[j * n + k] -= g * d[k];
      }
    }
    for (let k = 0; k <= i; k++) W[(i + 1) * n + k] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = W[j * n + (n - 1)];
    W[j * n + (n - 1)] = 0;
  }
  W[(n - 1) * n + (n - 1)] = 1;
  e[0] = 0;
  return d;
}

/** tql2: the tridiagonal (d, e) diagonalized in place, W = V^T accumulating the rotations. */
function diagonalize(W: Float64Array, n: number, d: Float64Array, e: Float64Array, vectors: boolean): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n && Math.abs(e[m]) > eps * tst1) m++;
    if (m === n) m = n - 1;
    if (m > l) {
      for (let iter = 0; ; iter++) {
        if (iter > 60) throw new Error('scores: the eigendecomposition did not converge');
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        p = d[m];
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1];
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = Math.hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          if (vectors)
            for (let k = 0; k < n; k++) {
              h = W[(i + 1) * n + k];
              W[(i + 1) * n + k] = s * W[i * n + k] + c * h;
              W[i * n + k] = c * W[i * n + k] - s * h;
            }
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
        if (!(Math.abs(e[l]) > eps * tst1)) break;
      }
    }
    d[l] += f;
    e[l] = 0;
  }
}

/** The eigenvalues alone: the QL sweeps without accumulating their rotations (a third of the work). */
export function symmetricEigenvalues(m: Float64Array, d: number): Float64Array {
  const W = Float64Array.from(m);
  const e = new Float64Array(d);
  const values = tridiagonalize(W, d, e, false);
  diagonalize(W, d, values, e, false);
  return values;
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

/**
 * Frechet distance between two Gaussians: |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^1/2), the last
 * trace as the square roots of the eigenvalues of a symmetric matrix similar to S1 S2: L^T S2 L with
 * S1 = L L^T (Cholesky; one eigenvalue pass, about a third of the work), or, where S1 is singular,
 * S1^1/2 S2 S1^1/2 = V L^1/2 (V^T S2 V) L^1/2 V^T with S1 = V L V^T (eigenvectors, then eigenvalues).
 */
export function frechetDistance(g1: Gaussian, g2: Gaussian, route: 'auto' | 'eigen' = 'auto'): number {
  const d = g1.d;
  if (g2.d !== d) throw new Error(`scores: feature sizes differ (${g1.d} and ${g2.d})`);
  let diff = 0;
  for (let j = 0; j < d; j++) diff += (g1.mean[j] - g2.mean[j]) ** 2;
  const L = route === 'auto' ? cholesky(g1.cov, d) : null;
  const inner = L ? congruence(L, g2.cov, d) : rootCongruence(g1.cov, g2.cov, d);
  let trSqrt = 0;
  for (const l of symmetricEigenvalues(inner, d)) trSqrt += Math.sqrt(Math.max(l, 0));
  let tr = 0;
  for (let j = 0; j < d; j++) tr += g1.cov[j * d + j] + g2.cov[j * d + j];
  return Math.max(0, diff + tr - 2 * trSqrt);
}

/**
 * Lower-triangular L with S = L L^T (row-major), or null where S is not safely positive definite (a pivot
 * below 1e-10 of the largest diagonal entry: singular covariances, dead features), which the caller takes
 * through the eigenvector route instead.
 */
export function cholesky(S: Float64Array, d: number): Float64Array | null {
  let top = 0;
  for (let i = 0; i < d; i++) top = Math.max(top, S[i * d + i]);
  const L = new Float64Array(d * d);
  for (let j = 0; j < d; j++) {
    let p = S[j * d + j];
    for (let k = 0; k < j; k++) p -= L[j * d + k] ** 2;
    if (!(p > 1e-10 * top)) return null;
    const ljj = Math.sqrt(p);
    L[j * d + j] = ljj;
    for (let i = j + 1; i < d; i++) {
      let v = S[i * d + j];
      for (let k = 0; k < j; k++) v -= L[i * d + k] * L[j * d + k];
      L[i * d + j] = v / ljj;
    }
  }
  return L;
}

/** L^T S L for lower-triangular L, symmetric: T = S L, then the upper half of L^T T mirrored. */
function congruence(L: Float64Array, S: Float64Array, d: number): Float64Array {
  const T = new Float64Array(d * d);
  for (let i = 0; i < d; i++)
    for (let k = 0; k < d; k++) {
      const a = S[i * d + k];
      if (a === 0) continue;
      for (let j = 0; j <= k; j++) T[i * d + j] += a * L[k * d + j];
    }
  const C = new Float64Array(d * d);
  for (let k = 0; k < d; k++)
    for (let i = 0; i <= k; i++) {
      const a = L[k * d + i];
      if (a === 0) continue;
      for (let j = i; j < d; j++) C[i * d + j] += a * T[k * d + j];
    }
  for (let i = 0; i < d; i++) for (let j = i + 1; j < d; j++) C[j * d + i] = C[i * d + j];
  return C;
}

/** S1^1/2 S2 S1^1/2 in S1's eigenbasis: L^1/2 (V^T S2 V) L^1/2, symmetrized. */
function rootCongruence(S1: Float64Array, S2: Float64Array, d: number): Float64Array {
  const { values, vectors: V } = symmetricEigen(S1, d);
  const root = Float64Array.from(values, (l) => Math.sqrt(Math.max(l, 0)));
  const Vt = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) Vt[j * d + i] = V[i * d + j];
  const inner = matmul(matmul(Vt, S2, d), V, d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) inner[i * d + j] *= root[i] * root[j];
  // Symmetrize away rounding before the eigenvalues.
  for (let i = 0; i < d; i++) for (let j = i + 1; j < d; j++) inner[i * d + j] = inner[j * d + i] = (inner[i * d + j] + inner[j * d + i]) / 2;
  return inner;
}

/**
 * The same distance from the features themselves, for sets smaller than the feature size (2,048 Inception
 * features of a few hundred images): with A and B the centred rows scaled by 1/sqrt(n - 1), S1 = A^T A and
 * S2 = B^T B, so the eigenvalues of S1 S2 are the squared singular values of A B^T (n1 x n2), and
 * tr((S1 S2)^1/2) is the sum of the square roots of the eigenvalues of (A B^T)(A B^T)^T: no d x d matrix at all.
 * Exact where the covariances are singular, which the d x d route only approaches through rounding.
 */
export function frechetDistanceOfFew(a: Float32Array, b: Float32Array, d: number): number {
  const centred = (f: Float32Array) => {
    const n = featureRows(f, d);
    const mean = new Float64Array(d);
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += f[i * d + j] / n;
    const scale = 1 / Math.sqrt(n - 1);
    return { n, mean, rows: Float64Array.from(f, (v, k) => (v - mean[k % d]) * scale) };
  };
  const [A, B] = [centred(a), centred(b)];
  let diff = 0;
  for (let j = 0; j < d; j++) diff += (A.mean[j] - B.mean[j]) ** 2;
  let tr = 0;
  for (const v of A.rows) tr += v * v;
  for (const v of B.rows) tr += v * v;
  // M = A B^T [n1, n2], then M M^T on the smaller side.
  const [P, Q] = A.n <= B.n ? [A, B] : [B, A];
  const M = new Float64Array(P.n * Q.n);
  for (let i = 0; i < P.n; i++)
    for (let j = 0; j < Q.n; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += P.rows[i * d + k] * Q.rows[j * d + k];
      M[i * Q.n + j] = s;
    }
  const G = new Float64Array(P.n * P.n);
  for (let i = 0; i < P.n; i++)
    for (let j = i; j < P.n; j++) {
      let s = 0;
      for (let k = 0; k < Q.n; k++) s += M[i * Q.n + k] * M[j * Q.n + k];
      G[i * P.n + j] = G[j * P.n + i] = s;
    }
  // Eigenvalues that are zero (rank below n: centring, or fewer features than rows) come back as rounding
  // noise of the largest one's size, and square roots would magnify it: below that size they count as zero.
  const values = symmetricEigenvalues(G, P.n);
  const noise = Math.max(...values) * P.n * Number.EPSILON;
  let trSqrt = 0;
  for (const l of values) if (l > noise) trSqrt += Math.sqrt(l);
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

/** Squared Euclidean distances between the rows of x (m x d) and y (n x d), m x n row-major. */
export type SquaredDistances = (x: Float32Array, y: Float32Array, m: number, n: number, d: number) => Float32Array | Promise<Float32Array>;

/** The distances in plain TypeScript; eval passes an onnxruntime MatMul instead. */
export const squaredDistancesJs: SquaredDistances = (x, y, m, n, d) => {
  const out = new Float32Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += (x[i * d + k] - y[j * d + k]) ** 2;
      out[i * n + j] = s;
    }
  return out;
};

export interface ManifoldScores {
  /** Share of generated samples inside some real sample's k-NN ball (Kynkaanniemi et al. 2019). */
  precision: number;
  /** Share of real samples inside some generated sample's k-NN ball. */
  recall: number;
  /** Real k-NN balls containing a generated sample, counted with multiplicity, / k, per generated sample (Naeem et al. 2020). */
  density: number;
  /** Share of real samples whose k-NN ball contains a generated sample. */
  coverage: number;
  /** The k of precision/recall and of density/coverage. */
  k: { precisionRecall: number; densityCoverage: number };
}

const BLOCK = 1024;

/** The squared distances from every row of x (nx x d) to every row of y (ny x d), a block of rows at a time: visit(block, a, m, b, w) sees rows a..a+m of x against b..b+w of y. */
async function eachBlock(x: Float32Array, nx: number, y: Float32Array, ny: number, d: number, dist: SquaredDistances, visit: (block: Float32Array, a: number, m: number, b: number, w: number) => void): Promise<void> {
  for (let a = 0; a < nx; a += BLOCK) {
    const m = Math.min(BLOCK, nx - a);
    for (let b = 0; b < ny; b += BLOCK) {
      const w = Math.min(BLOCK, ny - b);
      visit(await dist(x.subarray(a * d, (a + m) * d), y.subarray(b * d, (b + w) * d), m, w, d), a, m, b, w);
    }
  }
}

/**
 * Squared distance from each row of x to its k-th nearest other row, for every k in ks (the row itself, at
 * distance 0, counts as the first, as clovaai/generative-evaluation-prdc's kth value of k + 1).
 */
async function kthNeighbour(x: Float32Array, n: number, d: number, ks: number[], dist: SquaredDistances): Promise<Float32Array[]> {
  const most = Math.max(...ks) + 1;
  if (n < most) throw new Error(`scores: ${most - 1} nearest neighbours need at least ${most} samples, got ${n}`);
  const best = Array.from({ length: n }, () => new Float32Array(most).fill(Infinity));
  await eachBlock(x, n, x, n, d, dist, (block, a, m, b, w) => {
    for (let i = 0; i < m; i++) {
      const row = best[a + i];
      for (let j = 0; j < w; j++) {
        // The row itself is at distance 0 (not whatever rounding left): it is the first neighbour.
        const v = a + i === b + j ? 0 : block[i * w + j];
        if (v >= row[most - 1]) continue;
        let at = most - 1;
        while (at > 0 && row[at - 1] > v) (row[at] = row[at - 1]), at--;
        row[at] = v;
      }
    }
  });
  return ks.map((k) => Float32Array.from(best, (row) => row[k]));
}

/**
 * Precision and recall (k = 3, Kynkaanniemi et al. 2019) and density and coverage (k = 5, Naeem et al.
 * 2020) of generated features against real ones, with the definitions of clovaai/generative-evaluation-prdc.
 */
export async function manifoldScores(real: Float32Array, fake: Float32Array, d: number, o: { kPrecisionRecall?: number; kDensityCoverage?: number; distances?: SquaredDistances } = {}): Promise<ManifoldScores> {
  const kPR = o.kPrecisionRecall ?? 3;
  const kDC = o.kDensityCoverage ?? 5;
  const dist = o.distances ?? squaredDistancesJs;
  const [nr, nf] = [real.length / d, fake.length / d];
  const [realPR, realDC] = await kthNeighbour(real, nr, d, [kPR, kDC], dist);
  const [fakePR] = await kthNeighbour(fake, nf, d, [kPR], dist);
  const fakeInside = new Uint8Array(nf);
  const realInside = new Uint8Array(nr);
  const realCovered = new Uint8Array(nr);
  let densityCount = 0;
  await eachBlock(real, nr, fake, nf, d, dist, (block, a, m, b, w) => {
    for (let i = 0; i < m; i++) {
      const [rPR, rDC] = [realPR[a + i], realDC[a + i]];
      for (let j = 0; j < w; j++) {
        const v = block[i * w + j];
        if (v < rPR) fakeInside[b + j] = 1;
        if (v < fakePR[b + j]) realInside[a + i] = 1;
        if (v < rDC) (densityCount++, (realCovered[a + i] = 1));
      }
    }
  });
  const share = (a: Uint8Array) => a.reduce((s, v) => s + v, 0) / a.length;
  return { precision: share(fakeInside), recall: share(realInside), density: densityCount / (kDC * nf), coverage: share(realCovered), k: { precisionRecall: kPR, densityCoverage: kDC } };
}

/**
 * Inception Score (Salimans et al. 2016) on any classifier's logits: exp(E_x KL(p(y|x) || p(y))) in each of
 * `splits` equal parts (10, as the original code), their mean and standard deviation.
 */
export function inceptionScore(logits: Float32Array, classes: number, splits = 10): { mean: number; std: number } {
  const n = logits.length / classes;
  if (n < splits) throw new Error(`scores: the Inception Score needs at least ${splits} samples, got ${n}`);
  const probs = new Float64Array(n * classes);
  for (let i = 0; i < n; i++) {
    let top = -Infinity;
    for (let c = 0; c < classes; c++) top = Math.max(top, logits[i * classes + c]);
    let z = 0;
    for (let c = 0; c < classes; c++) z += probs[i * classes + c] = Math.exp(logits[i * classes + c] - top);
    for (let c = 0; c < classes; c++) probs[i * classes + c] /= z;
  }
  const scores: number[] = [];
  for (let s = 0; s < splits; s++) {
    const [from, to] = [Math.floor((s * n) / splits), Math.floor(((s + 1) * n) / splits)];
    const marginal = new Float64Array(classes);
    for (let i = from; i < to; i++) for (let c = 0; c < classes; c++) marginal[c] += probs[i * classes + c] / (to - from);
    let kl = 0;
    for (let i = from; i < to; i++)
      for (let c = 0; c < classes; c++) {
        const p = probs[i * classes + c];
        if (p > 0) kl += p * (Math.log(p) - Math.log(marginal[c]));
      }
    scores.push(Math.exp(kl / (to - from)));
  }
  const mean = scores.reduce((a, b) => a + b, 0) / splits;
  return { mean, std: Math.sqrt(scores.reduce((a, b) => a + (b - mean) ** 2, 0) / splits) };
}
