// Published setups: the settings a paper trained with (as config defaults under `--protocol`) and the
// numbers it reports (beside the measured ones in a sweep's report), kept together so a preset and the
// table it is compared with cannot drift apart. Numbers from docs/anchors.md.

/**
 * Published setups as config defaults. PacGAN's 2-D protocol (fjxmlzn/PacGAN synthetic_data_experiments,
 * config.py and pacgan_task.py): its networks, Adam 1e-4 with beta1 0.8, batch 100, z ~ N(0, I_2), a fixed
 * set of 100,000 points, 400 epochs of 1,000 minibatches, the standard (non-saturating) GAN loss, scored on
 * 2,500 samples; the packing degree m is --pack.
 */
export const PROTOCOLS = {
  pacgan: {
    about: 'PacGAN 2-D: G 2-400x4-2 with batch norm, maxout critic, Adam 1e-4 beta1 0.8, batch 100, 100,000 points, 400,000 iterations',
    settings: { arch: 'pacgan', loss: 'ns', latent: 2, batch: 100, optimizer: 'adam', lr: 1e-4, betas: [0.8, 0.999], nCritic: 1, dataSize: 100_000, iterations: 400_000, evalSamples: 2500 },
  },
} as const;

export interface Published {
  source: string;
  modes: number;
  hq: number;
  rkl: number | null;
}

/**
 * PacGAN's Table 1 as docs/anchors.md gives it (mean over 10 trials of 400 epochs): the unpacked GAN,
 * PacGAN2 and PacGAN4. PacGAN3's row is not among the anchors, so m = 3 has no published row here.
 */
const PACGAN_TABLE: Record<string, Record<number, Omit<Published, 'source'>>> = {
  ring8: { 1: { modes: 6.3, hq: 98.2, rkl: 0.45 }, 2: { modes: 7.9, hq: 95.6, rkl: 0.07 }, 4: { modes: 7.8, hq: 95.9, rkl: null } },
  grid25: { 1: { modes: 17.3, hq: 94.8, rkl: 0.7 }, 2: { modes: 23.8, hq: 91.3, rkl: null }, 4: { modes: 24.8, hq: 93.6, rkl: 0.04 } },
};

export function publishedRow(protocol: string | undefined, r: { data: string; loss: string; pack: number }): Published | null {
  if (protocol !== 'pacgan' || r.loss !== 'ns') return null;
  const p = PACGAN_TABLE[r.data]?.[r.pack];
  return p ? { source: `PacGAN paper, ${r.pack > 1 ? `PacGAN${r.pack}` : 'GAN'} (400 epochs, 10 runs)`, ...p } : null;
}
