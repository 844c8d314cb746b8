// data/random.ts: the seeded streams: the same seed and name give the same draws, other names others, and
// truncated normal draws stay inside +-psi with the shape of a normal there.
import { expect } from 'chai';
import { Rng } from '../../data/random.ts';

describe('data/random', () => {
  it('a stream is a pure function of (seed, name, index)', () => {
    const draw = (seed: number, name: string, i = 0) => Array.from(Rng.stream(seed, name, i).fillNormal(new Float32Array(8)));
    expect(draw(1, 'a')).to.deep.equal(draw(1, 'a'));
    expect(draw(1, 'a')).to.not.deep.equal(draw(1, 'b'));
    expect(draw(1, 'a')).to.not.deep.equal(draw(2, 'a'));
    expect(draw(1, 'a', 0)).to.not.deep.equal(draw(1, 'a', 1));
  });

  it('truncated normal draws lie within +-psi, repeat for the same stream, and keep a normal\'s shape inside', () => {
    const z = Rng.stream(3, 'trunc').fillTruncatedNormal(new Float32Array(20000), 0.7);
    expect(Math.max(...z.map(Math.abs))).to.be.at.most(0.7);
    expect(Array.from(z.subarray(0, 50))).to.deep.equal(Array.from(Rng.stream(3, 'trunc').fillTruncatedNormal(new Float32Array(50), 0.7)));
    const mean = z.reduce((a, b) => a + b, 0) / z.length;
    expect(Math.abs(mean)).to.be.below(0.02);
    // A normal truncated at 0.7: the central half (|z| < 0.35) holds Phi(0.35) - Phi(-0.35) over Phi(0.7) - Phi(-0.7) = 0.5303.
    const inner = z.filter((v) => Math.abs(v) < 0.35).length / z.length;
    expect(inner).to.be.closeTo(0.5303, 0.015);
    expect(() => Rng.stream(0, 'x').fillTruncatedNormal(new Float32Array(1), 0)).to.throw(/truncation psi must be positive, got 0/);
  });
});
