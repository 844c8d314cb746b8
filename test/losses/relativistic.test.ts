// The relativistic losses (losses/relativistic.ts) against their definitions in Jolicoeur-Martineau 2019,
// computed in JS on the same critic outputs: paired differences for RSGAN, differences from the other
// side's mean for the "Ra" variants.
import { expect } from 'chai';
import { Graph } from '../../graph/ir.ts';
import { rahinge, ralsgan, rasgan, rsgan } from '../../losses/relativistic.ts';
import type { GanLoss } from '../../losses/loss.ts';
import { fixedContext, run } from '../helpers.ts';

const R = [0.8, -0.3, 1.7, 0.1];
const F = [-1.2, 0.4, -0.1, 2.2];
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sp = (x: number) => Math.log1p(Math.exp(x));
const bce1 = (xs: number[]) => mean(xs.map((x) => sp(-x)));
const bce0 = (xs: number[]) => mean(xs.map(sp));
const relu = (x: number) => Math.max(0, x);
const rTilde = R.map((r) => r - mean(F));
const fTilde = F.map((f) => f - mean(R));

const EXPECTED: [string, () => GanLoss, number, number][] = [
  ['rsgan', rsgan, bce1(R.map((r, i) => r - F[i])), bce1(F.map((f, i) => f - R[i]))],
  ['rasgan', rasgan, (bce1(rTilde) + bce0(fTilde)) / 2, (bce0(rTilde) + bce1(fTilde)) / 2],
  ['ralsgan', ralsgan, (mean(rTilde.map((x) => (x - 1) ** 2)) + mean(fTilde.map((x) => (x + 1) ** 2))) / 2, (mean(rTilde.map((x) => (x + 1) ** 2)) + mean(fTilde.map((x) => (x - 1) ** 2))) / 2],
  ['rahinge', rahinge, (mean(rTilde.map((x) => relu(1 - x))) + mean(fTilde.map((x) => relu(1 + x)))) / 2, (mean(rTilde.map((x) => relu(1 + x))) + mean(fTilde.map((x) => relu(1 - x)))) / 2],
];

describe('losses/relativistic', () => {
  for (const [name, make, critic, generator] of EXPECTED) {
    it(`${name}: critic and generator losses as the paper defines them`, async () => {
      const g = new Graph(name);
      // The critic is the identity on its input, so D(real) and D(fake) are the given outputs.
      const real = g.input('r', 'float32', [R.length, 1]);
      const fake = g.input('f', 'float32', [F.length, 1]);
      const loss = make();
      g.output(loss.critic(fixedContext((x) => x, real, fake, R.length)).loss, 'critic');
      g.output(loss.generator(fixedContext((x) => x, real, fake, R.length)).loss, 'generator');
      const feed = (xs: number[]) => ({ dtype: 'float32' as const, dims: [xs.length, 1], data: Float32Array.from(xs) });
      const out = await run(g, { r: feed(R), f: feed(F) });
      expect((out.critic.data as Float32Array)[0]).to.be.closeTo(critic, 1e-5);
      expect((out.generator.data as Float32Array)[0]).to.be.closeTo(generator, 1e-5);
    });
  }
});
