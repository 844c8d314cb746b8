// web/draw.ts: which view a generator's sample shape gets on the page (drawing itself: test/web/page.test.ts).
import { expect } from 'chai';
import { viewOf } from '../../web/draw.ts';

describe('web/draw', () => {
  it('2-D points are scattered, grey or RGB images gridded, anything else shown as neither', () => {
    expect(viewOf([2])).to.equal('points');
    expect(viewOf([1, 28, 28])).to.equal('images');
    expect(viewOf([3, 32, 32])).to.equal('images');
    expect(viewOf([3])).to.equal('none');
    expect(viewOf([4, 8, 8])).to.equal('none');
  });
});
