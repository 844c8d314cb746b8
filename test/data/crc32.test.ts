// CRC-32 (IEEE 802.3, as zlib and PNG compute it), which checkpoints carry.
import { expect } from 'chai';
import { crc32 } from '../../data/crc32.ts';

describe('data/crc32', () => {
  it('gives the standard check values, in one call or continued over chunks', () => {
    const enc = new TextEncoder();
    expect(crc32(enc.encode('123456789'))).to.equal(0xcbf43926);
    expect(crc32(new Uint8Array(0))).to.equal(0);
    const fox = enc.encode('The quick brown fox jumps over the lazy dog');
    expect(crc32(fox)).to.equal(0x414fa339);
    expect(crc32(fox.subarray(10), crc32(fox.subarray(0, 10)))).to.equal(0x414fa339);
  });
});
