// Built-in data sets. The 2-D mixtures are PacGAN's (fjxmlzn/PacGAN synthetic_data_experiments):
// ring8, 8 modes on the unit circle with std 0.01; grid25, a 5x5 grid with spacing 2 and std 0.05.
import { Rng } from './random.ts';
import type { DataSource } from './source.ts';

export interface Mixture extends DataSource {
  centers: [number, number][];
  std: number;
}

export function mixture(name: string, centers: [number, number][], std: number): Mixture {
  return {
    name,
    shape: [2],
    centers,
    std,
    sample(rng: Rng, n: number) {
      const out = new Float32Array(2 * n);
      for (let i = 0; i < n; i++) {
        const [cx, cy] = centers[rng.int(centers.length)];
        out[2 * i] = cx + std * rng.normal();
        out[2 * i + 1] = cy + std * rng.normal();
      }
      return out;
    },
  };
}

export const ring8 = (): Mixture =>
  mixture('ring8', Array.from({ length: 8 }, (_, k): [number, number] => [Math.cos((2 * Math.PI * k) / 8), Math.sin((2 * Math.PI * k) / 8)]), 0.01);

export const grid25 = (): Mixture => {
  const c: [number, number][] = [];
  for (const x of [-4, -2, 0, 2, 4]) for (const y of [-4, -2, 0, 2, 4]) c.push([x, y]);
  return mixture('grid25', c, 0.05);
};

/**
 * PacGAN's data stream: `size` points drawn once from the seed's own stream, each minibatch drawn from them
 * uniformly (the reference shuffles them per epoch; drawing with replacement keeps a resumed run exact
 * without an epoch cursor in the checkpoint).
 */
export function fixedSet(m: Mixture, size: number, seed: number): Mixture {
  const points = m.sample(Rng.stream(seed, 'dataset'), size);
  return {
    ...m,
    name: `${m.name}[${size}]`,
    sample(rng: Rng, n: number) {
      const out = new Float32Array(2 * n);
      for (let i = 0; i < n; i++) {
        const j = rng.int(size);
        out[2 * i] = points[2 * j];
        out[2 * i + 1] = points[2 * j + 1];
      }
      return out;
    },
  };
}

/** A built-in mixture as a run uses it: with a run's `dataSize` (a positive integer), its fixed set for `seed`. */
export function runMixture(name: string, dataSize: unknown, seed: number): Mixture {
  const m = dataset(name);
  return Number.isInteger(dataSize) && (dataSize as number) > 0 ? fixedSet(m, dataSize as number, seed) : m;
}

export const DATASETS: Record<string, () => Mixture> = { ring8, grid25 };

export function dataset(name: string): Mixture {
  const make = DATASETS[name];
  if (!make) throw new Error(`unknown data set '${name}'; valid data sets: ${Object.keys(DATASETS).join(', ')}`);
  return make();
}
