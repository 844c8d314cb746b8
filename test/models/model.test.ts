// models/model.ts: the image sizes the built-in convolutional models make, and how they are laid out.
import { expect } from 'chai';
import { IMAGE_SIZES, imageLayout } from '../../models/model.ts';

describe('image layouts', () => {
  it('S = base x 2^ups, base 4..7, for 16..256; other sizes are refused naming the ones that work', () => {
    expect(imageLayout('dcgan', [3, 28, 28])).to.deep.equal({ channels: 3, size: 28, base: 7, ups: 2 });
    expect(imageLayout('dcgan', [3, 48, 48])).to.deep.equal({ channels: 3, size: 48, base: 6, ups: 3 });
    expect(imageLayout('dcgan', [1, 256, 256])).to.deep.equal({ channels: 1, size: 256, base: 4, ups: 6 });
    for (const s of IMAGE_SIZES) expect(imageLayout('x', [1, s, s]).base * 2 ** imageLayout('x', [1, s, s]).ups).to.equal(s);
    expect(() => imageLayout('resnet', [3, 36, 36])).to.throw(/^resnet: image must be \[C, S, S\] with S in 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256 \(--image-size resizes a folder to one\), got \[3,36,36\]$/);
    expect(() => imageLayout('dcgan', [3, 32, 16])).to.throw(/got \[3,32,16\]/);
  });
});
