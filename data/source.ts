// Where real samples come from: the one interface the trainer draws minibatches through.
import type { Rng } from './random.ts';

export interface DataSource {
  readonly name: string;
  /** Per-sample shape, as the critic takes it. */
  readonly shape: number[];
  /** n samples drawn with rng, flattened row-major. */
  sample(rng: Rng, n: number): Float32Array;
  /** Class names of a labelled data set, in label order. */
  readonly classes?: string[];
  /** A labelled data set: n samples (the ones sample() would draw with this rng) and their classes. */
  sampleLabelled?(rng: Rng, n: number): { samples: Float32Array; labels: Float32Array };
}
