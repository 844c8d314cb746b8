// f-GAN's closed forms (losses/fgan.ts) against the paper's Table 6 written out literally in JS:
// g_f(v) and f*(t) evaluated as the paper gives them, composed, at values across the activation's range
// (float32: onnxruntime's CPU Softplus has no float64 kernel).
import { expect } from 'chai';
import { Graph } from '../../graph/ir.ts';
import { DIVERGENCES, fgan } from '../../losses/fgan.ts';
import { expectClose, run } from '../helpers.ts';

/** Table 6 of Nowozin et al. 2016: output activation g_f and conjugate f*, as printed. */
const TABLE: Record<string, { g: (v: number) => number; fStar: (t: number) => number }> = {
  kl: { g: (v) => v, fStar: (t) => Math.exp(t - 1) },
  rkl: { g: (v) => -Math.exp(-v), fStar: (t) => -1 - Math.log(-t) },
  pearson: { g: (v) => v, fStar: (t) => (t * t) / 4 + t },
  neyman: { g: (v) => 1 - Math.exp(v), fStar: (t) => 2 - 2 * Math.sqrt(1 - t) },
  hellinger: { g: (v) => 1 - Math.exp(v), fStar: (t) => t / (1 - t) },
  js: { g: (v) => Math.log(2) - Math.log(1 + Math.exp(-v)), fStar: (t) => -Math.log(2 - Math.exp(t)) },
};

describe('losses/fgan', () => {
  const v = [-3, -1.5, -0.2, 0, 0.4, 1, 2.5];
  for (const name of Object.keys(TABLE)) {
    it(`${name}: act is g_f and conj is f*(g_f(v)), as the paper's formulas compose`, async () => {
      const g = new Graph(name);
      const x = g.input('v', 'float32', [v.length]);
      g.output(DIVERGENCES[name as keyof typeof DIVERGENCES].act(x), 'act');
      g.output(DIVERGENCES[name as keyof typeof DIVERGENCES].conj(x), 'conj');
      const out = await run(g, { v: { dtype: 'float32', dims: [v.length], data: Float32Array.from(v) } });
      const t = TABLE[name];
      expectClose(out.act.data as Float32Array, v.map((x) => t.g(Math.fround(x))), 1e-6, 1e-6, `${name} g_f`);
      expectClose(out.conj.data as Float32Array, v.map((x) => t.fStar(t.g(Math.fround(x)))), 1e-5, 1e-6, `${name} f*(g_f)`);
    });
  }

  it('every divergence of the table is registered, and an unknown one is refused naming the valid ones', () => {
    expect(Object.keys(DIVERGENCES).sort()).to.deep.equal(Object.keys(TABLE).sort());
    expect(() => fgan('tv')).to.throw("unknown f-divergence 'tv'; valid: kl, rkl, pearson, neyman, hellinger, js");
    expect(fgan('js').name).to.equal('fgan-js');
  });
});
