// Image folders as people have them: formats, layouts, resizing, channels, corrupt files, the cache.
import { expect } from 'chai';
import { rejects } from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { listImageFolder, prepareImageFolder, resizeImages } from '../../data/image-folder.ts';
import { imageCache } from '../../run/image-cache.ts';
import { cli } from '../helpers.ts';

/** A W x H image whose left half is `left` and right half `right` (RGB or RGBA), encoded as `format`. */
async function halves(W: number, H: number, left: number[], right: number[], format: 'jpeg' | 'png' | 'webp' | 'gif' | 'tiff' | 'avif'): Promise<Buffer> {
  const C = left.length;
  const raw = Buffer.alloc(W * H * C);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) raw.set(x < W / 2 ? left : right, (y * W + x) * C);
  const img = sharp(raw, { raw: { width: W, height: H, channels: C as 3 | 4 } });
  return format === 'jpeg' ? img.jpeg({ quality: 95 }).toBuffer() : img.toFormat(format).toBuffer();
}

describe('image folders', function () {
  this.timeout(60000);
  let tmp: string;
  before(() => (tmp = mkdtempSync(join(tmpdir(), 'onnx-gan-folder-'))));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('reads JPEG, PNG, WebP, GIF, TIFF and AVIF files, recursively, hidden entries passed over', async () => {
    const dir = join(tmp, 'formats');
    mkdirSync(join(dir, 'deeper'), { recursive: true });
    mkdirSync(join(dir, '.thumbs'));
    const formats = ['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif'] as const;
    for (const [i, f] of formats.entries()) writeFileSync(join(dir, i % 2 ? 'deeper' : '.', `${i}.${f}`), await halves(8, 8, [255, 255, 255], [0, 0, 0], f));
    writeFileSync(join(dir, '.thumbs', 'x.png'), await halves(8, 8, [0, 0, 0], [0, 0, 0], 'png'));
    writeFileSync(join(dir, 'notes.txt'), 'not an image');
    const p = await prepareImageFolder(dir);
    expect(p.shape).to.deep.equal([3, 8, 8]);
    expect(p.images.length / 192).to.equal(6);
    expect(p.labels).to.equal(undefined);
    // Every format decodes to white on the left, black on the right (lossy ones within a margin).
    for (let n = 0; n < 6; n++) {
      const at = n * 192;
      expect(p.images[at], `image ${n}`).to.be.above(200);
      expect(p.images[at + 7], `image ${n}`).to.be.below(60);
    }
  });

  it('an ImageFolder of JPEGs of mixed sizes: --image-size crops the centre after resizing the shorter side', async () => {
    const dir = join(tmp, 'classes');
    for (const c of ['dogs', 'cats']) mkdirSync(join(dir, c, 'sub'), { recursive: true });
    writeFileSync(join(dir, 'cats', 'a.jpg'), await halves(64, 48, [200, 0, 0], [0, 0, 200], 'jpeg'));
    writeFileSync(join(dir, 'cats', 'sub', 'b.jpeg'), await halves(40, 40, [200, 0, 0], [0, 0, 200], 'jpeg'));
    writeFileSync(join(dir, 'dogs', 'c.JPG'), await halves(30, 90, [0, 200, 0], [0, 200, 0], 'jpeg'));
    const p = await prepareImageFolder(dir, { imageSize: 16 });
    expect(p.shape).to.deep.equal([3, 16, 16]);
    expect(p.classes).to.deep.equal(['cats', 'dogs']);
    expect([...p.labels!]).to.deep.equal([0, 0, 1]);
    const px = (n: number, c: number, y: number, x: number) => p.images[n * 768 + (c * 16 + y) * 16 + x];
    expect(px(0, 0, 8, 1)).to.be.above(150); // red on the left
    expect(px(0, 2, 8, 14)).to.be.above(150); // blue on the right
    expect(px(2, 1, 8, 8)).to.be.above(150); // green all over

    // pad: a 64x48 image keeps its aspect ratio, black bars above and below; stretch fills the square.
    const pad = await prepareImageFolder(dir, { imageSize: 16, resize: 'pad' });
    expect(pad.images[(0 * 16 + 0) * 16 + 1]).to.be.below(10);
    expect(pad.images[(0 * 16 + 8) * 16 + 1]).to.be.above(150);
    const stretch = await prepareImageFolder(dir, { imageSize: 16, resize: 'stretch' });
    expect(stretch.images[(0 * 16 + 0) * 16 + 1]).to.be.above(150);
  });

  it('grey and colour files together are refused unless --channels says which; RGBA is composited on black with a note', async () => {
    const dir = join(tmp, 'mixed');
    mkdirSync(dir);
    writeFileSync(join(dir, 'a.png'), await halves(8, 8, [255, 0, 0], [255, 0, 0], 'png'));
    writeFileSync(join(dir, 'b.png'), await sharp(Buffer.alloc(64, 100), { raw: { width: 8, height: 8, channels: 1 } }).toColourspace('b-w').png().toBuffer());
    await rejects(prepareImageFolder(dir), /b\.png: grey, the folder's first image .*a\.png is colour; --channels 1 or --channels 3 makes them one kind/);
    const grey = await prepareImageFolder(dir, { channels: 1 });
    expect(grey.shape).to.deep.equal([1, 8, 8]);
    expect(grey.images[64]).to.equal(100);
    const rgb = await prepareImageFolder(dir, { channels: 3 });
    expect(rgb.shape).to.deep.equal([3, 8, 8]);
    expect([rgb.images[192], rgb.images[192 + 64], rgb.images[192 + 128]]).to.deep.equal([100, 100, 100]);

    writeFileSync(join(dir, 'c.png'), await halves(8, 8, [0, 255, 0, 255], [0, 255, 0, 0], 'png'));
    const alpha = await prepareImageFolder(dir, { channels: 3 });
    expect(alpha.notes.join()).to.match(/1 of 3 images have an alpha channel: composited on black/);
    expect(alpha.images[384 + 64 + 1]).to.equal(255); // opaque green stays
    expect(alpha.images[384 + 64 + 7]).to.equal(0); // transparent becomes black
  });

  it('unreadable files are skipped with a count and their names, or refused with --strict; one image is not a data set', async () => {
    const dir = join(tmp, 'corrupt');
    mkdirSync(dir);
    for (const n of ['a', 'b', 'c']) writeFileSync(join(dir, `${n}.jpg`), await halves(8, 8, [9, 9, 9], [9, 9, 9], 'jpeg'));
    const good = await halves(8, 8, [9, 9, 9], [9, 9, 9], 'jpeg');
    writeFileSync(join(dir, 'd.jpg'), good.subarray(0, good.length >> 1));
    writeFileSync(join(dir, 'e.png'), 'text with a .png name');
    const p = await prepareImageFolder(dir);
    expect(p.images.length / 192).to.equal(3);
    expect(p.skipped.map((s) => s.split(':')[0].split('/').pop())).to.deep.equal(['d.jpg', 'e.png']);
    expect(p.notes.join()).to.match(/skipped 2 unreadable of 5 files \(--strict refuses them\): .*d\.jpg: /);
    await rejects(prepareImageFolder(dir, { strict: true }), /corrupt: 2 unreadable files \(--strict\), first .*d\.jpg/);

    const one = join(tmp, 'one');
    mkdirSync(one);
    writeFileSync(join(one, 'a.jpg'), good);
    await rejects(prepareImageFolder(one), /one: one readable image \(.*a\.jpg\); a GAN learns from a set of images/);
    expect(() => listImageFolder(join(tmp, 'corrupt', '..', 'formats', 'deeper', '..', '.thumbs'))).to.not.throw();
  });

  it('prepares once: a second run reads the cache (no decoding), a changed file or option makes a new entry, a damaged entry is prepared again', async () => {
    const dir = join(tmp, 'cached');
    mkdirSync(dir);
    for (const n of ['a', 'b']) writeFileSync(join(dir, `${n}.png`), await halves(12, 12, [10, 20, 30], [40, 50, 60], 'png'));
    const cacheAt = join(tmp, 'cache');
    const notes: string[] = [];
    const cache = imageCache(cacheAt, (n) => notes.push(n));
    let decoded = 0;
    const first = await prepareImageFolder(dir, { cache, onProgress: () => decoded++ });
    expect(decoded).to.equal(2);
    const again = await prepareImageFolder(dir, { cache, onProgress: () => decoded++ });
    expect(decoded).to.equal(2);
    expect(again.images).to.deep.equal(first.images);
    expect(again.shape).to.deep.equal(first.shape);
    await prepareImageFolder(dir, { cache, imageSize: 8, onProgress: () => decoded++ });
    expect(decoded).to.equal(4);
    expect(readdirSync(cacheAt).filter((f) => f.endsWith('.images'))).to.have.length(2);

    // A changed file (new size and mtime) is a new key.
    writeFileSync(join(dir, 'b.png'), await halves(12, 12, [1, 2, 3], [4, 5, 6], 'png'));
    const changed = await prepareImageFolder(dir, { cache, onProgress: () => decoded++ });
    expect(decoded).to.equal(6);
    expect(changed.images[432]).to.equal(1);

    // A damaged entry (cut short) is noticed, said, and prepared again.
    for (const f of readdirSync(cacheAt)) writeFileSync(join(cacheAt, f), 'onnx-gan-images\n\x02\x00\x00\x00{}');
    const redone = await prepareImageFolder(dir, { cache, onProgress: () => decoded++ });
    expect(decoded).to.equal(8);
    expect(redone.images).to.deep.equal(changed.images);
    expect(notes.join('\n')).to.match(/image cache .*\.images: bad header: .*; preparing the images again/);
  });

  it('in-memory images (an IDX set) resize the same way', async () => {
    // Two 4x4 grey images: a left-right ramp and a constant, upscaled to 8x8.
    const images = Uint8Array.from([...Array.from({ length: 16 }, (_, i) => (i % 4) * 80), ...new Array(16).fill(77)]);
    const out = await resizeImages(images, [1, 4, 4], { imageSize: 8 });
    expect(out.length).to.equal(128);
    expect(out[0]).to.be.below(out[7]);
    // The ramp varies along x only, so every row of it is the first: pixels come back in the layout they went in.
    for (let y = 1; y < 8; y++) expect(Array.from(out.subarray(y * 8, y * 8 + 8)), `row ${y}`).to.deep.equal(Array.from(out.subarray(0, 8)));
    expect([...out.subarray(64)].every((v) => v === 77)).to.equal(true);
  });
});

describe('an image folder from the CLI', function () {
  this.timeout(300000);
  let tmp: string;
  before(() => (tmp = mkdtempSync(join(tmpdir(), 'onnx-gan-folder-cli-'))));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('an ImageFolder of JPEGs of mixed sizes trains with --image-size 32, prepared once for the next run', async () => {
    const dir = join(tmp, 'photos');
    const colours: Record<string, number[]> = { red: [220, 30, 30], blue: [30, 30, 220] };
    for (const [c, rgb] of Object.entries(colours)) {
      mkdirSync(join(dir, c), { recursive: true });
      for (let i = 0; i < 6; i++) writeFileSync(join(dir, c, `${i}.jpg`), await halves(40 + 7 * i, 36 + 5 * i, rgb, [255, 255, 255], 'jpeg'));
    }
    const cache = join(tmp, 'cache');
    const args = (out: string) => ['train', '--data', dir, '--image-size', '32', '--flip', '--conditional', 'projection', '--width', '4', '--latent', '8', '--batch', '4', '--iterations', '2', '--fuse', '0', '--sample-every', '2', '--json', '--out', join(tmp, out)];
    const r = cli(args('run1'), { ONNX_GAN_CACHE_DIR: cache });
    expect(r.code, r.err).to.equal(0);
    expect(JSON.parse(r.out)).to.include({ iterations: 2 });
    const config = JSON.parse(readFileSync(join(tmp, 'run1', 'config.json'), 'utf8'));
    expect(config).to.include({ imageSize: 32, flip: true });
    const grid = await sharp(join(tmp, 'run1', 'samples.png')).metadata();
    expect(grid.width).to.be.above(32);
    expect(readdirSync(cache)).to.have.length(1);
    const mtime = statSync(join(cache, readdirSync(cache)[0])).mtimeMs;
    const again = cli(args('run2'), { ONNX_GAN_CACHE_DIR: cache });
    expect(again.code, again.err).to.equal(0);
    expect(statSync(join(cache, readdirSync(cache)[0])).mtimeMs).to.equal(mtime);

    const bad = cli(['train', '--data', 'ring8', '--image-size', '32', '--out', join(tmp, 'never')]);
    expect(bad.code).to.not.equal(0);
    expect(bad.err.trim()).to.equal("onnx-gan: --image-size: applies to image data, not to the 2-D mixture 'ring8'");
    const tooBig = cli([...args('never2'), '--batch', '20'], { ONNX_GAN_CACHE_DIR: cache });
    expect(tooBig.code).to.not.equal(0);
    expect(tooBig.err.trim()).to.match(/^onnx-gan: --batch 20: more samples per step than the data set '.*photos' holds \(12 images\)$/);
  });
});
