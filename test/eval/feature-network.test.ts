// eval/feature-network.ts against PyTorch (test/fixtures/feature_fid.json and feature_net.onnx, made by
// make_quality_fixtures.py): a torch-exported network's features of grey 28 x 28 and RGB 20 x 24 images
// resized to its 37 x 37 input (F.interpolate bilinear, align_corners=False), and pytorch-fid's FID on them.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { FeatureNetwork } from '../../eval/feature-network.ts';
import { fid } from '../../eval/scores.ts';
import { expectClose, fixture, rt } from '../helpers.ts';

interface Images {
  shape: number[];
  data: number[];
}
const fx = fixture<{ a: Images; b: Images; features_a: number[]; features_b: number[]; d: number; fid: number }>('feature_fid.json');
const NET = new Uint8Array(readFileSync(new URL('../fixtures/feature_net.onnx', import.meta.url)));
/** uint8 images as our data sets serve them: [-1, 1]. */
const scaled = (im: Images) => Float32Array.from(im.data, (v) => v / 127.5 - 1);

describe('eval/feature-network: any ONNX network as FID features', () => {
  it("features of grey and RGB images at other sizes equal torch's (resize in the graph), and FID equals pytorch-fid's within 1e-3 relative", async () => {
    const net = await FeatureNetwork.open(rt, NET, 'feature_net.onnx', { threads: 1 });
    try {
      expect(net.inputSize).to.deep.equal([37, 37]);
      const a = await net.features(scaled(fx.a), fx.a.shape.slice(1));
      const b = await net.features(scaled(fx.b), fx.b.shape.slice(1));
      expect([a.d, b.d]).to.deep.equal([fx.d, fx.d]);
      expectClose(a.features, fx.features_a, 1e-4, 1e-5, 'grey 28 x 28 -> RGB 37 x 37');
      expectClose(b.features, fx.features_b, 1e-4, 1e-5, 'RGB 20 x 24 -> 37 x 37');
      const f = fid(a.features, b.features, fx.d);
      expect(Math.abs(f - fx.fid) / fx.fid).to.be.below(1e-3);
    } finally {
      await net.release();
    }
  });

  it('refuses a network it cannot feed, naming the input, and an unknown output', async () => {
    const err = (p: Promise<unknown>) => p.then(() => 'no error', (e: Error) => e.message);
    expect(await err(FeatureNetwork.open(rt, NET, 'net.onnx', { output: 'logits' }))).to.equal('net.onnx: no output \'logits\' (outputs: pool)');
    expect(await err(FeatureNetwork.open(rt, NET, 'net.onnx', { size: 64 }))).to.equal('net.onnx: --features-size 64, but the network\'s input is fixed at 37');
    expect(await err(FeatureNetwork.open(rt, new Uint8Array([1, 2, 3]), 'junk.onnx'))).to.match(/^junk\.onnx: not an ONNX model/);
  });
});
