// data/load.ts: a fixed random subset of an image set (--data-size n on images), the small-data setting.
import { expect } from 'chai';
import { imageSet } from '../../data/images.ts';
import { subsetOf } from '../../data/load.ts';
import { Rng } from '../../data/random.ts';

describe('data/load: image subsets', () => {
  // 50 one-pixel-row images, each filled with its own index, labelled index % 5.
  const set = imageSet('tiny', [1, 2, 2], Uint8Array.from({ length: 50 * 4 }, (_, i) => Math.floor(i / 4)), Uint8Array.from({ length: 50 }, (_, i) => i % 5), ['a', 'b', 'c', 'd', 'e']);

  it('n distinct images of the set with their labels, the same for a seed, another for another seed', () => {
    const a = subsetOf(set, 10, 1);
    expect(a.count).to.equal(10);
    const rows = Array.from({ length: 10 }, (_, i) => a.images[i * 4]);
    expect(new Set(rows).size, 'distinct images').to.equal(10);
    rows.forEach((r, i) => {
      expect(Array.from(a.images.subarray(i * 4, i * 4 + 4)), 'whole images').to.deep.equal([r, r, r, r]);
      expect(a.labels![i], 'each with its label').to.equal(r % 5);
    });
    expect(a.classes).to.deep.equal(set.classes);
    expect(Array.from(subsetOf(set, 10, 1).images)).to.deep.equal(Array.from(a.images));
    expect(Array.from(subsetOf(set, 10, 2).images)).to.not.deep.equal(Array.from(a.images));
    // Minibatches come from the subset only.
    const drawn = a.sample(Rng.stream(0, 'x'), 100);
    const allowed = new Set(rows.map((r) => Math.fround(r / 127.5 - 1)));
    expect(Array.from(drawn).every((v) => allowed.has(v))).to.equal(true);
  });

  it('refuses more images than the set holds, naming both counts', () => {
    expect(() => subsetOf(set, 51, 0)).to.throw("--data-size 51: the data set 'tiny' holds 50 images");
  });
});
