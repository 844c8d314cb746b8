// models/dcgan.ts against PyTorch (test/fixtures/dcgan.json): the generator in training mode (batch
// statistics, running averages advanced as nn.BatchNorm2d does) and its weight gradients; the WGAN-GP
// critic loss of the layer-norm conv critic and its gradient w.r.t. every critic weight (double backward).
import { dcganCritic, dcganGenerator } from '../../models/dcgan.ts';
import { spectralNorm } from '../../models/spectral.ts';
import { criticMatchesTorch, generatorMatchesTorch, pairComposes, type GanFixture } from '../gan-models.ts';
import { fixture } from '../helpers.ts';

const fx = fixture<GanFixture>('dcgan.json');
const IMAGE = [1, 28, 28];

describe('DCGAN models against PyTorch', () => {
  it('generator: samples, weight gradients and batch norm running statistics in training mode (float32, 1e-4)', () =>
    generatorMatchesTorch(dcganGenerator({ image: IMAGE, width: fx.width, latent: fx.latent }), fx, IMAGE, [1e-3, 1e-4]));

  it('critic: WGAN-GP loss and penalty of the conv critic and their gradients w.r.t. every weight (double backward, float32)', () =>
    criticMatchesTorch(dcganCritic({ image: IMAGE, width: fx.width, norm: 'layer' }), fx, IMAGE, [2e-3, 2e-4]));

  for (const image of [[1, 16, 16], [3, 20, 20], [3, 32, 32], [3, 40, 40], [3, 64, 64], [1, 28, 28], [1, 128, 128], [3, 256, 256]])
    it(`[${image}] images: G(z) and D(G(z)) have the right shapes in inference and training mode; SN-GAN's critic composes`, () =>
      pairComposes(dcganGenerator({ image, width: 4, latent: 6 }), spectralNorm(dcganCritic({ image, width: 4, norm: 'none' })), image, 1));
});
