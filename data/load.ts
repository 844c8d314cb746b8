// A run's data by name or path, in Node: the 2-D mixtures (ring8, grid25), Fashion-MNIST, an IDX file or
// a folder of PNG images (image-files.ts reads those; the browser page gets its data from mixtures.ts and
// images.ts directly).
















import { existsSync } from 'node:fs';
import { DATASETS, runMixture, type Mixture } from './mixtures.ts';
import { imageData } from './image-files.ts';
import { type ImageSet } from './images.ts';

export type Data = Mixture | ImageSet;

/**
 * A data set by name (ring8, grid25, fashion-mnist) or path (an IDX file, a folder of PNGs); with
 * `dataSize`, a 2-D mixture becomes a fixed set of that many points drawn with the run's seed.
 */
export function loadData(spec: string, o: { dataSize?: number; seed?: number } = {}): Data {
  if (DATASETS[spec]) return runMixture(spec, o.dataSize, o.seed ?? 0);
  // A path (it has a separator or an extension) that is not there: say so, not "unknown data set".
  if (/[\\/.]/.test(spec) && !existsSync(spec)) throw new Error(`--data: ${spec} does not exist (a data set is ${Object.keys(DATASETS).join(', ')}, fashion-mnist, an IDX file or a folder of PNG images)`);
  const images = imageData(spec);
  if (images && o.dataSize) throw new Error(`--data-size ${o.dataSize}: applies to the 2-D mixtures (${Object.keys(DATASETS).join(', ')}), not to images`);
  if (images) return images;
  throw new Error(`unknown data set '${spec}'; valid data sets: ${Object.keys(DATASETS).join(', ')}, fashion-mnist, an IDX file (.gz or not) or a folder of PNG images`);
}

export const isImage = (d: Data): d is ImageSet => 'images' in d;
