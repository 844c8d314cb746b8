// A run's data by name or path, in Node: the 2-D mixtures (ring8, grid25), Fashion-MNIST, an IDX file or
// an image folder (image-files.ts and image-folder.ts read those; the browser page gets its data from
// mixtures.ts and images.ts directly).
import { existsSync } from 'node:fs';
import { DATASETS, runMixture, type Mixture } from './mixtures.ts';
import { imageData, type ImageOptions } from './image-files.ts';
import { imageSet, type ImageSet } from './images.ts';
import { Rng } from './random.ts';

export type Data = Mixture | ImageSet;

export type DataOptions = ImageOptions & { dataSize?: number; seed?: number };

/**
 * A data set by name (ring8, grid25, fashion-mnist) or path (an IDX file, a folder of images); with
 * `dataSize`, a 2-D mixture becomes a fixed set of that many points drawn with the run's seed; the image
 * options (size, resize mode, channels, flip) apply to images only (run/setup.ts refuses them for
 * mixtures).
 */
export async function loadData(spec: string, o: DataOptions = {}): Promise<Data> {
  const kinds = `${Object.keys(DATASETS).join(', ')}, fashion-mnist, an IDX file (.gz or not) or a folder of images`;
  if (DATASETS[spec]) return runMixture(spec, o.dataSize, o.seed ?? 0);
  // A path (it has a separator or an extension) that is not there: say so, not "unknown data set".
  if (/[\\/.]/.test(spec) && !existsSync(spec)) throw new Error(`--data: ${spec} does not exist (a data set is ${kinds})`);
  const images = await imageData(spec, o);
  if (images) return o.dataSize ? subsetOf(images, o.dataSize, o.seed ?? 0, o.flip) : images;
  throw new Error(`unknown data set '${spec}'; valid data sets: ${kinds}`);
}

/**
 * A fixed random subset of n images, drawn once per seed (the small-data setting of DiffAugment and ADA:
 * 10 % of a set), labels and class names kept.
 */
export function subsetOf(set: ImageSet, n: number, seed: number, flip?: boolean): ImageSet {
  if (n > set.count) throw new Error(`--data-size ${n}: the data set '${set.name}' holds ${set.count} images`);
  const rows = Rng.stream(seed, 'data-subset').distinct(set.count, n);
  const per = set.images.length / set.count;
  const images = new Uint8Array(n * per);
  rows.forEach((r, i) => images.set(set.images.subarray(r * per, (r + 1) * per), i * per));
  const labels = set.labels && Uint8Array.from(rows, (r) => set.labels![r]);
  return imageSet(set.name, set.shape, images, labels, set.classes, { flip });
}

export const isImage = (d: Data): d is ImageSet => 'images' in d;
