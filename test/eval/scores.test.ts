// eval/scores.ts's precision / recall / density / coverage and Inception Score against numpy references
// (test/fixtures/quality_metrics.json: clovaai/generative-evaluation-prdc's and openai/improved-gan's
// formulas, made by make_quality_fixtures.py), in TypeScript and with the distances on onnxruntime.
import { expect } from 'chai';
import { cholesky, frechetDistance, frechetDistanceOfFew, gaussian, inceptionScore, manifoldScores, squaredDistancesJs } from '../../eval/scores.ts';
import { ortDistances, ortGaussian } from '../../eval/image-scores.ts';
import { Rng } from '../../data/random.ts';
import { fixture, relErr, rt } from '../helpers.ts';

interface Prdc {
  precision: number;
  recall: number;
  density: number;
  coverage: number;
}
const fx = fixture<{ d: number; real: number[]; fake: number[]; k3: Prdc; k5: Prdc; logits: number[]; classes: number; inception_score: { mean: number; std: number } }>('quality_metrics.json');
const [real, fake] = [Float32Array.from(fx.real), Float32Array.from(fx.fake)];

describe('eval/scores: precision, recall, density, coverage, Inception Score', () => {
  it('precision and recall (k = 3), density and coverage (k = 5) equal the numpy reference (1e-6)', async () => {
    const m = await manifoldScores(real, fake, fx.d);
    expect(m.precision).to.be.closeTo(fx.k3.precision, 1e-6);
    expect(m.recall).to.be.closeTo(fx.k3.recall, 1e-6);
    expect(m.density).to.be.closeTo(fx.k5.density, 1e-6);
    expect(m.coverage).to.be.closeTo(fx.k5.coverage, 1e-6);
    expect(m.k).to.deep.equal({ precisionRecall: 3, densityCoverage: 5 });
  });

  it('the same k for all four equals the reference at that k, and onnxruntime\'s distances give the same scores', async () => {
    const pairs = ortDistances(rt, 1);
    try {
      for (const [k, ref] of [[3, fx.k3], [5, fx.k5]] as const) {
        const js = await manifoldScores(real, fake, fx.d, { kPrecisionRecall: k, kDensityCoverage: k });
        const ort = await manifoldScores(real, fake, fx.d, { kPrecisionRecall: k, kDensityCoverage: k, distances: pairs.distances });
        for (const key of ['precision', 'recall', 'density', 'coverage'] as const) {
          expect(js[key], `${key} at k ${k}`).to.be.closeTo(ref[key], 1e-6);
          expect(ort[key], `${key} at k ${k} on onnxruntime`).to.be.closeTo(ref[key], 1e-6);
        }
      }
    } finally {
      await pairs.release();
    }
  });

  it('samples equal to the real ones score 1 on precision, recall and coverage and 1 on density', async () => {
    const m = await manifoldScores(real, real.slice(), fx.d);
    expect([m.precision, m.recall, m.coverage]).to.deep.equal([1, 1, 1]);
    expect(m.density).to.be.closeTo(1, 0.2);
  });

  it('blocks larger than one: distances across block borders (JS and onnxruntime agree on 2,500 rows)', async () => {
    const n = 2500;
    const d = 4;
    const a = Float32Array.from({ length: n * d }, (_, i) => Math.sin(i * 12.9898) * 3);
    const b = Float32Array.from({ length: n * d }, (_, i) => Math.cos(i * 78.233) * 3 + 0.2);
    const pairs = ortDistances(rt, 1);
    try {
      const [js, ort] = [await manifoldScores(a, b, d, { distances: squaredDistancesJs }), await manifoldScores(a, b, d, { distances: pairs.distances })];
      for (const key of ['precision', 'recall', 'density', 'coverage'] as const) expect(ort[key], key).to.be.closeTo(js[key], 2e-3);
    } finally {
      await pairs.release();
    }
  });

  it('FID from the features through the n x n route equals the d x d route, with more rows than features and with fewer', () => {
    const draw = (n: number, d: number, seed: number, shift: number) => {
      const r = Rng.stream(seed, 'fid-few');
      const mix = Array.from({ length: d }, () => r.normal());
      return Float32Array.from({ length: n * d }, (_, k) => r.normal() * (1 + 0.5 * mix[k % d]) + shift * mix[k % d]);
    };
    // More rows than features: the same number two ways (the fixture's sets, 12 features).
    expect(frechetDistanceOfFew(real, fake, fx.d)).to.be.closeTo(frechetDistance(gaussian(real, fx.d), gaussian(fake, fx.d)), 1e-9);
    // Fewer rows than features (singular covariances), either side the smaller.
    const [a, b] = [draw(9, 40, 1, 0), draw(13, 40, 2, 0.7)];
    const ref = frechetDistance(gaussian(a, 40), gaussian(b, 40));
    for (const v of [frechetDistanceOfFew(a, b, 40), frechetDistanceOfFew(b, a, 40)]) expect(Math.abs(v - ref) / ref).to.be.below(1e-6);
    expect(frechetDistanceOfFew(a, a, 40)).to.be.closeTo(0, 1e-9);
  });

  it('the Cholesky route equals the eigenvector route where S1 is positive definite; a singular S1 takes the eigenvector route', () => {
    const [g1, g2] = [gaussian(real, fx.d), gaussian(fake, fx.d)];
    expect(cholesky(g1.cov, fx.d)).to.not.equal(null);
    const [c, e] = [frechetDistance(g1, g2), frechetDistance(g1, g2, 'eigen')];
    expect(Math.abs(c - e) / e).to.be.below(1e-12);
    // A dead feature (always 0) makes S1 singular: no Cholesky factor, and the auto route still equals the eigen one.
    const dead = Float32Array.from(real, (v, k) => (k % fx.d === 3 ? 0 : v));
    const gd = gaussian(dead, fx.d);
    expect(cholesky(gd.cov, fx.d)).to.equal(null);
    expect(frechetDistance(gd, g2)).to.equal(frechetDistance(gd, g2, 'eigen'));
  });

  it("onnxruntime's Gaussian fit (one float64 MatMul) equals the TypeScript one, and so does the FID on it", async () => {
    const fits = ortGaussian(rt, 1);
    try {
      const [a, b] = [await fits.gaussian(real, fx.d), await fits.gaussian(fake, fx.d)];
      const [ja, jb] = [gaussian(real, fx.d), gaussian(fake, fx.d)];
      expect(relErr(a.cov, ja.cov)).to.be.below(1e-12);
      expect(relErr(a.mean, ja.mean)).to.be.below(1e-12);
      expect(frechetDistance(a, b)).to.be.closeTo(frechetDistance(ja, jb), 1e-9);
    } finally {
      await fits.release();
    }
  });

  it('Inception Score (10 splits) equals the numpy reference, and is 1 for one class everywhere and K for K sure, balanced classes', () => {
    const is = inceptionScore(Float32Array.from(fx.logits), fx.classes);
    expect(is.mean).to.be.closeTo(fx.inception_score.mean, 1e-6);
    expect(is.std).to.be.closeTo(fx.inception_score.std, 1e-6);
    const sure = (n: number, k: number, cls: (i: number) => number) => Float32Array.from({ length: n * k }, (_, j) => (j % k === cls(Math.floor(j / k)) ? 50 : 0));
    expect(inceptionScore(sure(100, 10, () => 3), 10).mean).to.be.closeTo(1, 1e-9);
    expect(inceptionScore(sure(100, 10, (i) => i % 10), 10).mean).to.be.closeTo(10, 1e-6);
    expect(() => inceptionScore(new Float32Array(50), 10)).to.throw('the Inception Score needs at least 10 samples, got 5');
  });
});
