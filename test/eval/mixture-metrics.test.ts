// The 2-D data sets, their metrics as docs/anchors.md defines them, and the samples plot.
import { expect } from 'chai';
import { grid25, ring8 } from '../../data/mixtures.ts';
import { mixtureMetrics } from '../../eval/mixture-metrics.ts';
import { renderSvg, scatterSpec } from '../../eval/plot.ts';
import { Rng } from '../../data/random.ts';

describe('data sets and metrics', () => {
  it('the samples plot has a legend and counts the samples outside its axes', async () => {
    // Axes fit ring8 with a margin of 0.5: [-1.5, 1.5]. Two points beyond them, one far away.
    const xy = Float32Array.from([0, 1, 1, 0, 2, 0, -40, 3, 0.5, -0.5]);
    const svg = await renderSvg(scatterSpec(xy, ring8().centers, 'plot'));
    expect(svg).to.include('5 samples; 2 outside the axes, drawn at the edge');
    expect(svg).to.include('generated sample').and.to.include('mode centre');
    const inside = await renderSvg(scatterSpec(Float32Array.from([0, 1]), ring8().centers, 'plot'));
    expect(inside).to.include('1 samples; all within the axes');
  });

  it('ring8: 8 modes at (cos 2pi k/8, sin 2pi k/8), std 0.01; grid25: {-4..4 step 2}^2, std 0.05', () => {
    const r = ring8();
    expect(r.centers).to.have.length(8);
    r.centers.forEach(([x, y], k) => {
      expect(x).to.be.closeTo(Math.cos((2 * Math.PI * k) / 8), 1e-12);
      expect(y).to.be.closeTo(Math.sin((2 * Math.PI * k) / 8), 1e-12);
    });
    expect(r.std).to.equal(0.01);
    const g = grid25();
    expect(g.centers).to.have.length(25);
    expect(new Set(g.centers.map(([x, y]) => `${x},${y}`))).to.have.property('size', 25);
    for (const [x, y] of g.centers) expect([-4, -2, 0, 2, 4]).to.include.members([x, y]);
    expect(g.std).to.equal(0.05);
  });

  it('samples of the data itself score all modes, 98.9% high quality and reverse KL near 0', () => {
    for (const d of [ring8(), grid25()]) {
      const m = mixtureMetrics(d, d.sample(Rng.stream(3, 'test'), 2500));
      expect(m.modesCaptured).to.equal(d.centers.length);
      // Within 3 sigma of a 2-D isotropic Gaussian lies 1 - exp(-9/2) = 98.89%; 3 standard errors at n = 2500.
      const p = 1 - Math.exp(-4.5);
      const se = Math.sqrt((p * (1 - p)) / 2500);
      expect(m.highQualityPct / 100).to.be.within(p - 3 * se, p + 3 * se);
      expect(m.reverseKL!).to.be.lessThan(0.02);
    }
  });

  it('counts modes, high quality and reverse KL on hand-made samples', () => {
    const d = ring8();
    // 3 samples on mode 0, 1 on mode 2, 1 far from everything.
    const xy = Float32Array.from([1, 0, 1.01, 0, 0.99, 0.005, 0, 1, 0.5, 0.5]);
    const m = mixtureMetrics(d, xy);
    expect(m.modesCaptured).to.equal(2);
    expect(m.highQualityPct).to.equal(80);
    const q = [0.75, 0.25];
    expect(m.reverseKL!).to.be.closeTo(q.reduce((s, p) => s + p * Math.log(p * 8), 0), 1e-12);
    expect(mixtureMetrics(d, Float32Array.from([5, 5])).reverseKL).to.equal(null);
  });
});
