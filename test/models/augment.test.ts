// models/augment.ts against DiffAugment's own PyTorch code (test/fixtures/augment.json, made by
// make_quality_fixtures.py with the same uniform draws): the augmented images and d sum(out * W) / dx; the
// per-sample probability; packed samples augmented one by one.
import { expect } from 'chai';
import { grad } from '../../graph/autodiff.ts';
import { Graph, type Value } from '../../graph/ir.ts';
import { mul, reduceSum, reshape } from '../../graph/ops.ts';
import { augment, type Augment } from '../../models/augment.ts';
import { arr, expectClose, fixture, run } from '../helpers.ts';

interface Case {
  kinds: Augment[];
  shape: number[];
  x: number[];
  draws: Record<string, number[]>;
  y: number[];
  w: number[];
  grad: number[];
}

const f32 = (xs: number[]) => ({ dtype: 'float32' as const, dims: [xs.length], data: Float32Array.from(xs) });

describe('models/augment (DiffAugment)', () => {
  for (const c of fixture<{ cases: Case[] }>('augment.json').cases)
    it(`${c.kinds.join(', ')} on [${c.shape}]: images and their gradient equal DiffAugment_pytorch.py's on the same draws`, async () => {
      const g = new Graph('augment');
      const x = g.input('x', 'float32', c.shape);
      const w = g.input('w', 'float32', c.shape);
      const used: string[] = [];
      const y = augment(x, c.kinds, (name, shape) => (used.push(name), reshape(g.input(name, 'float32', [shape.reduce((a, b) => a * b, 1)]), shape)));
      expect(used.sort()).to.deep.equal(Object.keys(c.draws).sort());
      g.output(y, 'y');
      g.output(grad(reduceSum(mul(y, w)), [x])[0], 'dx');
      const feeds = { x: { ...f32(c.x), dims: c.shape }, w: { ...f32(c.w), dims: c.shape }, ...Object.fromEntries(Object.entries(c.draws).map(([k, v]) => [k, f32(v)])) };
      const out = await run(g, feeds);
      expectClose(arr(out.y), c.y, 1e-5, 1e-5, 'augmented images');
      expectClose(arr(out.dx), c.grad, 1e-5, 1e-5, 'gradient w.r.t. the input');
    });

  it('with a probability: a sample whose coin is at or above p passes unchanged, one below is transformed', async () => {
    const g = new Graph('augment_p');
    const x = g.input('x', 'float32', [2, 1, 8, 8]);
    const draws: Record<string, Float32Array> = { 'augment.shift_rows': Float32Array.of(0, 0), 'augment.shift_cols': Float32Array.of(0, 0), 'augment.translation_p': Float32Array.of(0.2, 0.7) };
    g.output(augment(x, ['translation'], (name, shape) => reshape(g.input(name, 'float32', [draws[name].length]), shape), { p: 0.5 }), 'y');
    const data = Float32Array.from({ length: 128 }, (_, i) => i + 1);
    const y = arr((await run(g, { x: { dtype: 'float32', dims: [2, 1, 8, 8], data }, ...Object.fromEntries(Object.entries(draws).map(([k, v]) => [k, { dtype: 'float32' as const, dims: [v.length], data: v }])) })).y);
    // Sample 0 (coin 0.2 < 0.5) moved down and right by one pixel (u = 0: the largest negative shift reads x[i - 1]).
    expect(y[0], 'a zero came in at the corner').to.equal(0);
    expect(y[9]).to.equal(data[0]);
    expect(y.slice(64), 'sample 1 (coin 0.7) untouched').to.deep.equal(Array.from(data.slice(64)));
  });

  it('packed samples (PacGAN) are augmented one by one: [N, m C, H, W] as m samples of C channels', async () => {
    const g = new Graph('augment_packed');
    const x = g.input('x', 'float32', [2, 2, 4, 4]);
    const draws = { 'augment.brightness': Float32Array.of(0.1, 0.9, 0.5, 0.3) };
    const u = (name: string, shape: number[]) => reshape(g.input(name, 'float32', [4]), shape);
    g.output(augment(x, ['color'], (name, shape) => (name === 'augment.brightness' ? u(name, shape) : g.constant({ dtype: 'float32', dims: shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.5) })), { channels: 1 }), 'y');
    const data = new Float32Array(64);
    const y = arr((await run(g, { x: { dtype: 'float32', dims: [2, 2, 4, 4], data }, 'augment.brightness': { dtype: 'float32', dims: [4], data: draws['augment.brightness'] } })).y);
    // Zero images: brightness adds u - 0.5 to each packed sample; saturation and contrast (u = 0.5) keep it.
    for (let s = 0; s < 4; s++) expect(y[s * 16], `sample ${s}`).to.be.closeTo(draws['augment.brightness'][s] - 0.5, 1e-6);
  });

  it('refuses what is not an image batch, naming the shape', () => {
    const g = new Graph('augment_points');
    const x = g.input('x', 'float32', [4, 2]);
    expect(() => augment(x, ['color'], () => x as Value)).to.throw('augmentation works on images [N, C, H, W]; the critic takes [2]');
  });
});
