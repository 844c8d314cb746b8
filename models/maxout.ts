// LinearMaxout (Goodfellow et al. 2013, as Blocks has it): one Linear layer to out x pieces units, then the
// maximum over each unit's pieces, which sit next to each other ([N, out * pieces] read as [N, out, pieces]).
// The gradient flows to the winning piece through ReduceMax's rule, twice differentiable as a penalty needs.
import type { Value } from '../graph/ir.ts';
import { gemm, reduceMax, reshape } from '../graph/ops.ts';
import type { ParamSpec } from './model.ts';

export interface MaxoutSpec {
  name: string;
  input: number;
  output: number;
  pieces: number;
}

/** Its weight [out * pieces, in] (PyTorch's layout) and bias [out * pieces]. */
export function linearMaxoutParams(s: MaxoutSpec, weightInit: ParamSpec['init'], biasInit: ParamSpec['init']): ParamSpec[] {
  return [
    { name: `${s.name}.weight`, shape: [s.output * s.pieces, s.input], init: weightInit },
    { name: `${s.name}.bias`, shape: [s.output * s.pieces], init: biasInit },
  ];
}

export function linearMaxout(x: Value, s: MaxoutSpec, p: Record<string, Value>): Value {
  const h = gemm(x, p[`${s.name}.weight`], p[`${s.name}.bias`], { transB: true });
  return reduceMax(reshape(h, [-1, s.output, s.pieces]), [2], false);
}
