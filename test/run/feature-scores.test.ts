// run/feature-scores.ts and `onnx-gan fid`: two image folders compared on a torch-exported feature network
// equal pytorch-fid's FID on the same images (test/fixtures/feature_fid.json); a run scored by
// eval --features; the refusals, one line each.
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { fidOfSets } from '../../run/feature-scores.ts';
import { cli, fixture, haveFashionMnist } from '../helpers.ts';
import { withWeights } from './inception-weights.ts';

interface Images {
  shape: number[];
  data: number[];
}
const fx = fixture<{ a: Images; b: Images; fid: number }>('feature_fid.json');
const NET = new URL('../fixtures/feature_net.onnx', import.meta.url).pathname;

/** The fixture's images as PNG files (lossless: the same pixels come back). */
async function folder(dir: string, im: Images): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const [n, c, h, w] = im.shape;
  for (let i = 0; i < n; i++) {
    const hwc = Buffer.alloc(h * w * c);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) hwc[(y * w + x) * c + k] = im.data[((i * c + k) * h + y) * w + x];
    await sharp(hwc, { raw: { width: w, height: h, channels: c as 1 | 3 } }).png().toFile(join(dir, `${String(i).padStart(3, '0')}.png`));
  }
  return dir;
}

describe('run/feature-scores: FID on any network between image sets', function () {
  this.timeout(120000);
  let tmp: string;
  let a: string;
  let b: string;
  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'onnx-gan-fid-'));
    [a, b] = [await folder(join(tmp, 'grey'), fx.a), await folder(join(tmp, 'rgb'), fx.b)];
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it("a folder of grey 28 x 28 PNGs and one of RGB 20 x 24 PNGs: pytorch-fid's FID on the same network within 1e-3 relative, and PRDC", async () => {
    const r = await fidOfSets(a, b, { features: NET, seed: 0, threads: 1 });
    expect(r.samples).to.deep.equal([48, 40]);
    expect(r.d).to.equal(16);
    expect(Math.abs(r.fid - fx.fid) / fx.fid).to.be.below(1e-3);
    for (const k of ['precision', 'recall', 'density', 'coverage'] as const) expect(r.manifold[k], k).to.be.at.least(0);
    const same = await fidOfSets(a, a, { features: NET, seed: 0, threads: 1 });
    expect(same.fid).to.be.closeTo(0, 1e-6);
    expect([same.manifold.precision, same.manifold.recall, same.manifold.coverage]).to.deep.equal([1, 1, 1]);
  });

  it("pytorch-fid's InceptionV3 (random weights, 2,048 pool3 features): FID equals torch + scipy's within 1e-3 relative, the 299 x 299 bilinear resize included", async () => {
    const ref = fixture<{ fid: number; fid_eig: number; d: number }>('inception_fid.json');
    const net = join(tmp, 'inception.onnx');
    writeFileSync(net, withWeights(new Uint8Array(readFileSync(new URL('../fixtures/inception_graph.onnx', import.meta.url)))));
    const r = await fidOfSets(a, b, { features: net, seed: 0, threads: 2 });
    expect(Math.abs(ref.fid - ref.fid_eig) / ref.fid).to.be.below(1e-9); // scipy's sqrtm and the eigenvalues of S1 S2 agree on the reference side
    expect(r.d).to.equal(ref.d);
    expect(r.samples).to.deep.equal([48, 40]);
    expect(Math.abs(r.fid - ref.fid) / ref.fid).to.be.below(1e-3);
  });

  it('the command: --json, and refusals naming the flag, the file or the set', () => {
    const r = cli(['fid', a, b, '--features', NET, '--json']);
    expect(r.code, r.err).to.equal(0);
    expect(Math.abs(JSON.parse(r.out).fid - fx.fid) / fx.fid).to.be.below(1e-3);
    expect(cli(['fid', a, b, '--features', join(tmp, 'none.onnx')]).err.trim()).to.equal(`onnx-gan: fid: --features ${join(tmp, 'none.onnx')} not found`);
    expect(cli(['fid', a, b, '--classifier', join(tmp, 'none.onnx')]).err.trim()).to.equal(`onnx-gan: fid: --classifier ${join(tmp, 'none.onnx')} not found; make it with onnx-gan train-classifier, or give --features net.onnx`);
    expect(cli(['fid', a, 'ring8', '--features', NET]).err.trim()).to.equal("onnx-gan: fid: 'ring8' is 2-D points, not images");
    expect(cli(['fid', a, b, '--features-size', '64']).err.trim()).to.match(/--features-size and --features-output describe a --features network, which is not given|classifier .* not found/);
  });

  (haveFashionMnist ? it : it.skip)('eval --features scores a run against Fashion-MNIST\'s test split, --real against a folder; metrics.json keeps both', () => {
    const run = join(tmp, 'run');
    const t = cli(['train', '--data', 'fashion-mnist', '--data-size', '300', '--loss', 'hinge', '--n-critic', '1', '--width', '8', '--batch', '16', '--latent', '16', '--iterations', '2', '--out', run]);
    expect(t.code, t.err).to.equal(0);
    const e = cli(['eval', run, '--features', NET, '--samples', '200', '--json']);
    expect(e.code, e.err).to.equal(0);
    const j = JSON.parse(e.out);
    expect(j).to.include({ real: 'fashion-mnist-test', iteration: 2, d: 16, ema: false });
    expect(j.samples).to.deep.equal([200, 200]);
    const f = JSON.parse(cli(['eval', run, '--features', NET, '--samples', '40', '--real', a, '--json']).out);
    expect(f.real).to.equal(a);
    expect(f.samples).to.deep.equal([40, 40]);
    expect(JSON.parse(readFileSync(join(run, 'metrics.json'), 'utf8')).evalFeatures).to.include({ real: a, fid: f.fid });
    expect(cli(['eval', run, '--real', a]).err.trim()).to.equal("onnx-gan: --real: the real images of a --features score; the classifier scores against Fashion-MNIST's test split");
  });
});
