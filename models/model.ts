// What a trainable network is to the rest of the project: named parameters with initial values, and a
// forward pass that adds its nodes to a graph. Parameters live in one flat vector per network.
import type { DType, Value } from '../graph/ir.ts';
import type { Rng } from '../data/random.ts';

export interface ParamSpec {
  name: string;
  shape: number[];
  /** Fill initial values (PyTorch's defaults for the layer type). */
  init(rng: Rng, out: Float32Array): void;
  /** Not trained (frozen): kept constant by the optimizer. */
  frozen?: boolean;
}

/** What a forward pass may read and write besides its parameters (batch norm's running statistics). */
export interface ForwardContext {
  /** Training mode: batch statistics; otherwise the running ones. */
  training: boolean;
  state(name: string): Value;
  /** Record a new value of a carried state; a no-op where this pass must not advance it. */
  setState(name: string, v: Value): void;
  /**
   * A tensor drawn by the host's seeded stream and fed to the program (dropout masks, noise injection in
   * imported models), so runs stay reproducible and resumable. Absent where nothing may be drawn.
   */
  random?(name: string, dist: 'normal' | 'uniform', shape: number[]): Value;
  /**
   * An imported model's tensor, by its name in the ONNX graph, as the nodes after it will see it: what this
   * returns replaces it (eval's mean-latent truncation rewrites a mapping network's output w). Absent: none.
   */
  tensor?(name: string, v: Value): Value;
}

export interface Model {
  readonly kind: string;
  /** Per-sample input shape (no batch dimension). */
  readonly inputShape: number[];
  readonly outputShape: number[];
  readonly params: ParamSpec[];
  /** Class-conditional on this many classes: forward() takes each sample's class (int64 [N]). */
  readonly classes?: number;
  /**
   * A critic with an auxiliary classifier (ACGAN): its output is [N, 1 + auxClasses], the score then
   * the class logits.
   */
  readonly auxClasses?: number;
  forward(x: Value, p: Record<string, Value>, ctx?: ForwardContext, labels?: Value): Value;
  /** State the model carries between steps (spectral norm's power-iteration vectors), not trained. */
  readonly states?: { name: string; shape: number[]; init(rng: Rng, out: Float32Array): void }[];
  /**
   * Turn raw parameters into the ones forward() uses, once per step (spectral norm divides by sigma).
   * `update`: advance the state (critic steps) or only read it (generator steps).
   */
  prepare?(p: Record<string, Value>, state: (name: string) => Value, setState: (name: string, v: Value) => void, update: boolean): Record<string, Value>;
  /** JSON-able description, enough to rebuild the model. */
  describe(): Record<string, unknown>;
}

/** N(mean, std) (DCGAN's weights N(0, 0.02), its batch-norm gains N(1, 0.02)). */
export const normalInit = (mean: number, std: number): ParamSpec['init'] => (rng, out) => {
  rng.fillNormal(out as Float32Array);
  for (let i = 0; i < out.length; i++) out[i] = mean + std * out[i];
};
export const zerosInit: ParamSpec['init'] = (_rng, out) => out.fill(0);
export const onesInit: ParamSpec['init'] = (_rng, out) => out.fill(1);

export interface ParamLayout {
  entries: { name: string; shape: number[]; offset: number; size: number; frozen: boolean }[];
  size: number;
}

export function layoutOf(model: Model): ParamLayout {
  let offset = 0;
  const entries = model.params.map((p) => {
    const size = p.shape.reduce((a, b) => a * b, 1);
    const e = { name: p.name, shape: p.shape, offset, size, frozen: !!p.frozen };
    offset += size;
    return e;
  });
  return { entries, size: offset };
}

export function initParams(model: Model, rng: Rng): Float32Array {
  const layout = layoutOf(model);
  const flat = new Float32Array(layout.size);
  model.params.forEach((p, i) => p.init(rng, flat.subarray(layout.entries[i].offset, layout.entries[i].offset + layout.entries[i].size)));
  return flat;
}

export const DEFAULT_DTYPE: DType = 'float32';

/** The image sizes the built-in convolutional models make: S = base x 2^ups, base 4..7, ups >= 2, S <= 256. */
export const IMAGE_SIZES = [16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256];

/**
 * How a generator grows a square image from a small base (and a critic shrinks it): `ups` stride-2 stages
 * from `base` x `base`, base the largest quotient S / 2^ups that is still at least 4 (28 = 7 x 2^2,
 * 32 = 4 x 2^3, 48 = 6 x 2^3). Other shapes are refused naming the sizes that work.
 */
export function imageLayout(kind: string, image: number[]): { channels: number; size: number; base: number; ups: number } {
  const [channels, h, w] = image;
  if (image.length !== 3 || h !== w || !IMAGE_SIZES.includes(h)) throw new Error(`${kind}: image must be [C, S, S] with S in ${IMAGE_SIZES.join(', ')} (--image-size resizes a folder to one), got [${image}]`);
  if (!Number.isInteger(channels) || channels < 1) throw new Error(`${kind}: image channels must be a positive integer, got ${channels}`);
  let ups = 0;
  while (h % 2 ** (ups + 1) === 0 && h / 2 ** (ups + 1) >= 4) ups++;
  return { channels, size: h, base: h / 2 ** ups, ups };
}
