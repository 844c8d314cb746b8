// The benchmark setups, shared by `npm run bench` (speed beside PyTorch) and `npm run profile` (where the
// time goes). Each names its PyTorch peer script, which builds the same networks and training.
import { dataset } from '../data/mixtures.ts';
import { Rng } from '../data/random.ts';
import { imageSet } from '../data/images.ts';
import type { GanSetup } from '../training/step.ts';
import { dcganGan, mlpGan, resnetGan } from '../training/gan-pairs.ts';
import { type Data } from '../data/load.ts';

export const BENCH_SETUPS = ['mlp', 'dcgan', 'resnet'] as const;
export type BenchName = (typeof BENCH_SETUPS)[number];

export interface BenchOptions {
  /** dcgan and resnet: channels of the blocks. */
  width?: number;
  /** resnet: sngan (hinge + spectral norm) or wgan-gp. */
  loss?: string;
  /** dcgan and resnet: batch size (default 64; the PyTorch peers run 64). */
  batch?: number;
}

export interface Bench {
  /** What rebuilds it (a bench row runs in a process of its own). */
  key: { name: string; options: BenchOptions };
  title: string;
  setup: GanSetup;
  data: Data;
  nCritic: number;
  /** The PyTorch peer: script in bench/ and its arguments after THREADS WARMUP ITERS. */
  peer: { script: string; args: string[] };
}

/** Uint8 noise images: the content does not change the speed. */
function noiseImages(shape: number[], count: number): Data {
  const rng = Rng.stream(0, 'bench-images');
  return imageSet('uint8 noise images', shape, Uint8Array.from({ length: count * shape.reduce((a, b) => a * b, 1) }, () => rng.int(256)));
}

export function benchSetup(name: string, o: BenchOptions = {}): Bench {
  return { key: { name, options: o }, ...setupOf(name, o) };
}

function setupOf(name: string, o: BenchOptions): Omit<Bench, 'key'> {
  switch (name) {
    case 'mlp':
      // G 16-128-128-2 ReLU, D 2-128-128-1 LeakyReLU 0.2, batch 256, WGAN-GP lambda 10, n_critic 5, Adam 1e-4 (0.5, 0.9).
      return { title: 'WGAN-GP, MLP 2-D, batch 256, n_critic 5', setup: mlpGan({ loss: 'wgan-gp' }), data: dataset('ring8'), nCritic: 5, peer: { script: 'torch_wgan_gp.py', args: [] } };
    case 'dcgan': {
      const width = o.width ?? 32;
      const data = noiseImages([1, 28, 28], 10000);
      const batch = o.batch ?? 64;
      const setup = dcganGan({ loss: 'ns', image: data.shape, width, batch });
      return { title: `DCGAN 28x28, width ${width}, batch ${batch}, non-saturating, layer-norm critic`, setup, data, nCritic: 1, peer: { script: 'torch_dcgan.py', args: [String(width)] } };
    }
    case 'resnet': {
      const width = o.width ?? 64;
      const loss = o.loss ?? 'sngan';
      if (loss !== 'sngan' && loss !== 'wgan-gp') throw new Error(`bench resnet: --loss must be sngan or wgan-gp, got '${loss}'`);
      const data = noiseImages([3, 32, 32], 2000);
      const batch = o.batch ?? 64;
      const setup = resnetGan({ loss, image: data.shape, width, batch });
      const what = loss === 'sngan' ? 'hinge + spectral norm' : 'WGAN-GP';
      return { title: `ResNet-32 (SNGAN layout), width ${width}, batch ${batch}, ${what}, n_critic 5`, setup, data, nCritic: 5, peer: { script: 'torch_resnet.py', args: [String(width), loss] } };
    }
    default:
      throw new Error(`bench: unknown setup '${name}'; choose ${BENCH_SETUPS.join(', ')}`);
  }
}
