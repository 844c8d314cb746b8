// A run's data by name or path, in Node: the 2-D mixtures (ring8, grid25), Fashion-MNIST, an IDX file or
// an image folder (image-files.ts and image-folder.ts read those; the browser page gets its data from
// mixtures.ts and images.ts directly).
import { existsSync } from 'node:fs';
import { DATASETS, runMixture, type Mixture } from './mixtures.ts';
import { imageData, type ImageOptions } from './image-files.ts';
import { type ImageSet } from './images.ts';

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
  if (o.dataSize && (spec === 'fashion-mnist' || existsSync(spec))) throw new Error(`--data-size ${o.dataSize}: applies to the 2-D mixtures (${Object.keys(DATASETS).join(', ')}), not to images`);
  const images = await imageData(spec, o);
  if (images) return images;
  throw new Error(`unknown data set '${spec}'; valid data sets: ${kinds}`);
}

export const isImage = (d: Data): d is ImageSet => 'images' in d;
