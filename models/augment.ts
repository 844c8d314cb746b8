// Differentiable augmentation of every critic input (DiffAugment, Zhao et al. 2020), written in graph ops so
// the generator's gradient flows through it and a penalty's double backward too. The transforms and their
// ranges are the reference code's (mit-han-lab/data-efficient-gans, DiffAugment_pytorch.py); every random
// parameter is a host draw (uniform in [0, 1)), so runs stay reproducible and resumable.
// With a probability p (fixed, or ADA's adaptive one, Karras et al. 2020) each transform applies to a sample
// or not, independently.
import type { Value } from '../graph/ir.ts';
import { add, and, cast, clip, equal, floor, greaterOrEqual, less, matmul, mul, reduceMean, reshape, sub, transpose } from '../graph/ops.ts';

export const AUGMENTS = ['color', 'translation', 'cutout'] as const;
export type Augment = (typeof AUGMENTS)[number];

/** A uniform [0, 1) draw of `shape`, made by the host's seeded stream. */
export type Uniform = (name: string, shape: number[]) => Value;

/** Each transform on x [N, C, H, W]; `u` gives its random parameters, one per sample. */
const TRANSFORMS: Record<Augment, (x: Value, u: Uniform) => Value> = {
  color: (x, u) => {
    const [n] = dims(x);
    const per = (name: string) => u(name, [n, 1, 1, 1]);
    const bright = add(x, sub(per('augment.brightness'), 0.5));
    const grey = reduceMean(bright, [1], true);
    const saturated = add(mul(sub(bright, grey), mul(per('augment.saturation'), 2)), grey);
    const level = reduceMean(saturated, [1, 2, 3], true);
    return add(mul(sub(saturated, level), add(per('augment.contrast'), 0.5)), level);
  },
  // Shift by up to 1/8 of each side, zeros coming in: x[i + t] as one-hot shift matrices, out = S_h x S_w^T.
  translation: (x, u) => {
    const [n, , h, w] = dims(x);
    const rows = shiftMatrices(x, u('augment.shift_rows', [n]), h, Math.round(h * 0.125));
    const cols = shiftMatrices(x, u('augment.shift_cols', [n]), w, Math.round(w * 0.125));
    return matmul(matmul(rows, x), transpose(cols, [0, 1, 3, 2]));
  },
  // A square of half the side zeroed at a random place (clipped at the border).
  cutout: (x, u) => {
    const [n, , h, w] = dims(x);
    // Per sample, whether each index falls in [start, start + cut): [n, size].
    const band = (name: string, size: number, cut: number) => {
      const start = reshape(sub(floor(mul(u(name, [n]), size + 1 - (cut % 2))), Math.floor(cut / 2)), [n, 1]);
      const index = reshape(iota(x, size), [1, size]);
      return and(greaterOrEqual(index, start), less(index, add(start, cut)));
    };
    const rows = reshape(band('augment.cutout_rows', h, Math.round(h * 0.5)), [n, 1, h, 1]);
    const cols = reshape(band('augment.cutout_cols', w, Math.round(w * 0.5)), [n, 1, 1, w]);
    return mul(x, sub(1, cast(and(rows, cols), 'float32')));
  },
};

/**
 * x's augmented copy, transforms in the order given. `p` (a scalar value): each transform applies to each
 * sample with that probability (absent: always, as DiffAugment). `channels`: one sample's channel count
 * when x packs several samples side by side (PacGAN); each is augmented on its own.
 */
export function augment(x: Value, kinds: readonly Augment[], u: Uniform, o: { p?: Value | number; channels?: number } = {}): Value {
  const shape = dims(x);
  if (shape.length !== 4) throw new Error(`augmentation works on images [N, C, H, W]; the critic takes [${shape.slice(1)}]`);
  const c = o.channels ?? shape[1];
  let y = c === shape[1] ? x : reshape(x, [-1, c, shape[2], shape[3]]);
  const n = dims(y)[0];
  for (const kind of kinds) {
    const t = TRANSFORMS[kind](y, u);
    // x + m (t - x), m = [u < p] per sample: the transform where the coin says so.
    y = o.p !== undefined ? add(y, mul(sub(t, y), cast(less(u(`augment.${kind}_p`, [n, 1, 1, 1]), o.p), 'float32'))) : t;
  }
  return c === shape[1] ? y : reshape(y, shape);
}

const dims = (x: Value): number[] => {
  if (!x.shape || x.shape.some((d) => typeof d !== 'number')) throw new Error(`augmentation needs static shapes, got [${x.shape}]`);
  return x.shape as number[];
};

/** [0, 1, ..., size - 1] as float32. */
const iota = (like: Value, size: number) => like.graph.constant({ dtype: 'float32', dims: [size], data: Float32Array.from({ length: size }, (_, i) => i) }, 'iota');

/** Per sample a shift t in [-s, s] from a uniform draw, and its matrix [N, 1, size, size]: M[i, k] = [k - i = t]. */
function shiftMatrices(like: Value, draw: Value, size: number, s: number): Value {
  const t = clip(sub(floor(mul(draw, 2 * s + 1)), s), -s, s);
  const offsets = like.graph.constant({ dtype: 'float32', dims: [1, 1, size, size], data: Float32Array.from({ length: size * size }, (_, j) => (j % size) - Math.floor(j / size)) }, 'offsets');
  return cast(equal(offsets, reshape(t, [-1, 1, 1, 1])), 'float32');
}
