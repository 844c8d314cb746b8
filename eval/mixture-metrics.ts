// Mode-coverage metrics for 2-D mixtures, as defined by VEEGAN and PacGAN: a sample is high quality when
// it lies within 3 standard deviations of its nearest mode centre; a mode is captured when it is the
// nearest mode of at least one high-quality sample; reverse KL is between the histogram of high-quality
// samples over the modes and the uniform distribution over modes.
import type { Mixture } from '../data/mixtures.ts';

export interface MixtureMetrics {
  samples: number;
  modes: number;
  modesCaptured: number;
  highQualityPct: number;
  /** KL(histogram || uniform); null when no sample is high quality. */
  reverseKL: number | null;
}

export function mixtureMetrics(data: Mixture, xy: Float32Array): MixtureMetrics {
  const n = xy.length / 2;
  const K = data.centers.length;
  const counts = new Array<number>(K).fill(0);
  let hq = 0;
  for (let i = 0; i < n; i++) {
    const x = xy[2 * i];
    const y = xy[2 * i + 1];
    let best = 0;
    let bestD = Infinity;
    data.centers.forEach(([cx, cy], k) => {
      const d = (x - cx) ** 2 + (y - cy) ** 2;
      if (d < bestD) {
        bestD = d;
        best = k;
      }
    });
    if (Math.sqrt(bestD) <= 3 * data.std) {
      hq++;
      counts[best]++;
    }
  }
  let kl: number | null = null;
  if (hq > 0) {
    kl = 0;
    for (const c of counts) if (c > 0) kl += (c / hq) * Math.log((c / hq) * K);
  }
  return { samples: n, modes: K, modesCaptured: counts.filter((c) => c > 0).length, highQualityPct: (100 * hq) / n, reverseKL: kl };
}
