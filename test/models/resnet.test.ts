// models/resnet.ts against PyTorch (test/fixtures/resnet.json, made by make_torch_fixtures.py): the
// SNGAN/Mimicry ResNet generator in training mode (samples, weight gradients, batch norm running
// statistics) and the ResNet critic's WGAN-GP loss with the penalty's double backward, per weight.
import { resnetCritic, resnetGenerator } from '../../models/resnet.ts';
import { spectralNorm } from '../../models/spectral.ts';
import { criticMatchesTorch, generatorMatchesTorch, pairComposes, type GanFixture } from '../gan-models.ts';
import { fixture } from '../helpers.ts';

const fx = fixture<GanFixture & { image: number[] }>('resnet.json');

describe('ResNet models (SNGAN / Mimicry layout) against PyTorch', () => {
  it('generator: samples, weight gradients and batch norm running statistics in training mode (float32)', () =>
    generatorMatchesTorch(resnetGenerator({ image: fx.image, width: fx.width, latent: fx.latent }), fx, fx.image, [2e-3, 2e-4]));

  it('critic: WGAN-GP loss and penalty and their gradients w.r.t. every weight (double backward, float32)', () =>
    criticMatchesTorch(resnetCritic({ image: fx.image, width: fx.width }), fx, fx.image, [2e-3, 2e-4]));

  for (const image of [[1, 16, 16], [1, 28, 28], [3, 32, 32], [3, 48, 48], [3, 64, 64], [3, 96, 96], [1, 128, 128]])
    it(`[${image}] images: G(z) and D(G(z)) have the right shapes in inference and training mode; SN-GAN's critic composes`, () =>
      // tanh, up to float32 rounding
      pairComposes(resnetGenerator({ image, width: 4, latent: 6 }), spectralNorm(resnetCritic({ image, width: 4 })), image, 1 + 1e-6));
});
