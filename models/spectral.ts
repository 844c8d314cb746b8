// Spectral normalization (Miyato et al. 2018) as a parametrization: every weight matrix W of the wrapped
// model is used as W / sigma(W), sigma estimated by one power iteration per critic step with the vector u
// carried between steps as state, exactly as torch.nn.utils.spectral_norm does in training mode:
//   v = normalize(W^T u),  u' = normalize(W v),  sigma = u'^T W v,  with u' and v treated as constants.
// Generator steps read sigma from the current u without advancing it.
import type { Value } from '../graph/ir.ts';
import { div, gemm, matmul, max, mul, reduceSum, reshape, sqrt, stopGradient } from '../graph/ops.ts';
import type { Model } from './model.ts';

/** x / max(||x||, 1e-12), as torch.nn.functional.normalize. */
function normalize(x: Value): Value {
  return div(x, max(sqrt(reduceSum(mul(x, x))), 1e-12));
}

/** sigma of W [out, in] from u [out]; also the next u. */
export function powerIteration(W: Value, u: Value): { sigma: Value; u: Value } {
  const out = (W.shape as number[])[0];
  const uRow = reshape(u, [1, out]);
  const v = stopGradient(normalize(matmul(uRow, W))); // [1, in]
  const Wv = gemm(v, W, null, { transB: true }); // [1, out]
  const uNext = stopGradient(normalize(Wv));
  return { sigma: reduceSum(mul(uNext, Wv)), u: reshape(uNext, [out]) };
}

export function spectralNorm(model: Model): Model {
  const weights = model.params.filter((p) => p.shape.length >= 2);
  return {
    ...model,
    kind: `${model.kind}+sn`,
    states: [
      ...(model.states ?? []),
      ...weights.map((p) => ({
        name: `${p.name}.u`,
        shape: [p.shape[0]],
        init: (rng: import('../data/random.ts').Rng, out: Float32Array) => {
          rng.fillNormal(out);
          const n = Math.max(Math.hypot(...out), 1e-12);
          for (let i = 0; i < out.length; i++) out[i] /= n;
        },
      })),
    ],
    prepare(p, state, setState, update) {
      const base = model.prepare ? model.prepare(p, state, setState, update) : p;
      const out = { ...base };
      for (const w of weights) {
        const W = base[w.name];
        const flat = w.shape.length === 2 ? W : reshape(W, [w.shape[0], -1]);
        const u0 = state(`${w.name}.u`);
        // The generator step reads sigma at the current u: v from u, no new u.
        const { sigma, u } = update ? powerIteration(flat, u0) : sigmaAt(flat, u0);
        if (update) setState(`${w.name}.u`, u);
        out[w.name] = div(W, sigma);
      }
      return out;
    },
    describe: () => ({ ...model.describe(), spectralNorm: true }),
  };
}

function sigmaAt(W: Value, u: Value): { sigma: Value; u: Value } {
  const out = (W.shape as number[])[0];
  const uRow = reshape(u, [1, out]);
  const v = stopGradient(normalize(matmul(uRow, W)));
  return { sigma: reduceSum(mul(uRow, gemm(v, W, null, { transB: true }))), u };
}
