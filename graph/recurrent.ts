// ONNX's recurrent ops (RNN, GRU, LSTM) unrolled over their static sequence length into the ops they are
// made of (MatMul, Sigmoid, Tanh, Mul, Add, Slice, Concat), so every step differentiates, to any order, by
// the rules of those ops: the gradient of a recurrence is the recurrence of their gradients. Import replaces
// a recurrent node by its unrolled form (models/import-replay.ts); the defaults torch.onnx.export writes are
// supported: layout 0, default activations, no peepholes or clipping, every sequence at full length.
import { attrFloat, attrInt } from './schemas.ts';
import type { Attr, Value } from './ir.ts';
import { add, concat, matmul, mul, sigmoid, slice, squeeze, sub, tanh, transpose, unsqueeze } from './ops.ts';

const GATES = { RNN: 1, GRU: 3, LSTM: 4 } as const;
export type RecurrentOp = keyof typeof GATES;
export const RECURRENT_OPS = Object.keys(GATES) as RecurrentOp[];

/** Refuse, naming the attribute or input, what the unrolling does not cover. */
function check(op: RecurrentOp, inputs: (Value | null)[], attrs: Record<string, Attr>): void {
  const no = (what: string) => {
    throw new Error(`${op}: ${what} is not supported when unrolling (torch.onnx.export's defaults are)`);
  };
  if (attrInt(attrs, 'layout', 0) !== 0) no('layout 1 (batch first)');
  if (attrs.clip) no(`clip ${attrFloat(attrs, 'clip', 0)}`);
  // Activations other than the defaults come as a list of strings, which the parser already refuses.
  if (attrs.activations) no('activations other than the defaults');
  if (op === 'LSTM' && inputs[7]) no('peepholes (input P)');
  if (op === 'LSTM' && attrInt(attrs, 'input_forget', 0)) no('input_forget');
  if (inputs[4]) no('sequence_lens (sequences of different lengths)');
}

/** One direction's weights: W [G H, I], R [G H, H], bias [G H] for the input and the recurrence. */
function direction(d: number, W: Value, R: Value, B: Value | null, hidden: number, gates: number) {
  const pick = (v: Value) => squeeze(slice(v, [d], [d + 1], [0]), [0]);
  const b = B ? pick(B) : null;
  return { W: pick(W), R: pick(R), Wb: b && slice(b, [0], [gates * hidden], [0]), Rb: b && slice(b, [gates * hidden], [2 * gates * hidden], [0]) };
}

const gate = (v: Value, k: number, hidden: number) => slice(v, [k * hidden], [(k + 1) * hidden], [v.rank! - 1]);

/**
 * The op's outputs [Y, Y_h] (RNN, GRU) or [Y, Y_h, Y_c] (LSTM), for inputs in ONNX's order
 * (X, W, R, B, sequence_lens, initial_h[, initial_c, P]).
 */
export function unrollRecurrent(op: RecurrentOp, inputs: (Value | null)[], attrs: Record<string, Attr>): Value[] {
  check(op, inputs, attrs);
  const [X, W, R, B, , h0, c0] = inputs;
  // The sequence length must be known; the batch may stay symbolic (samplers, exports).
  const T = X!.shape?.[0];
  if (typeof T !== 'number') throw new Error(`${op}: unrolling needs a static sequence length, got input ${X}`);
  const hidden = attrInt(attrs, 'hidden_size', 0);
  const gates = GATES[op];
  const dir = (attrs.direction?.value as string | undefined) ?? 'forward';
  const dirs = dir === 'bidirectional' ? [0, 1] : [0];
  const linearBeforeReset = attrInt(attrs, 'linear_before_reset', 0) !== 0;
  const ys: Value[] = [];
  const hs: Value[] = [];
  const cs: Value[] = [];
  for (const d of dirs) {
    const w = direction(d, W!, R!, B ?? null, hidden, gates);
    const reverse = dir === 'reverse' || d === 1;
    // The input's part of every gate at every step at once: [T, N, G H].
    let xw = matmul(X!, transpose(w.W, [1, 0]));
    if (w.Wb) xw = add(xw, w.Wb);
    const start = (v: Value | null | undefined) => (v ? squeeze(slice(v, [d], [d + 1], [0]), [0]) : null);
    let h = start(h0);
    let c = start(c0);
    const zeros = () => mul(slice(squeeze(slice(xw, [0], [1], [0]), [0]), [0], [hidden], [1]), 0);
    h ??= zeros();
    if (op === 'LSTM') c ??= zeros();
    const out: Value[] = new Array(T);
    for (let s = 0; s < T; s++) {
      const t = reverse ? T - 1 - s : s;
      const x = squeeze(slice(xw, [t], [t + 1], [0]), [0]);
      const rh = matmul(h, transpose(w.R, [1, 0]));
      const withRb = w.Rb ? add(rh, w.Rb) : rh;
      if (op === 'RNN') h = tanh(add(x, withRb));
      else if (op === 'LSTM') {
        const all = add(x, withRb); // gates i, o, f, c
        const [i, o, f, g] = [0, 1, 2, 3].map((k) => gate(all, k, hidden));
        c = add(mul(sigmoid(f), c!), mul(sigmoid(i), tanh(g)));
        h = mul(sigmoid(o), tanh(c));
      } else {
        // GRU gates z, r, h; the candidate reads the reset gate before or after its recurrent product.
        const zr = add(gate(x, 0, 2 * hidden), gate(withRb, 0, 2 * hidden));
        const [z, r] = [sigmoid(gate(zr, 0, hidden)), sigmoid(gate(zr, 1, hidden))];
        const xh = gate(x, 2, hidden);
        const cand = linearBeforeReset
          ? tanh(add(xh, mul(r, gate(withRb, 2, hidden))))
          : tanh(add(add(xh, matmul(mul(r, h), transpose(slice(w.R, [2 * hidden], [3 * hidden], [0]), [1, 0]))), w.Rb ? gate(w.Rb, 2, hidden) : 0));
        h = add(mul(sub(1, z), cand), mul(z, h));
      }
      out[t] = h;
    }
    ys.push(concat(out.map((v) => unsqueeze(v, [0])), 0)); // [T, N, H]
    hs.push(h);
    if (c) cs.push(c);
  }
  // Y [T, dirs, N, H]; Y_h, Y_c [dirs, N, H].
  const Y = ys.length > 1 ? concat(ys.map((y) => unsqueeze(y, [1])), 1) : unsqueeze(ys[0], [1]);
  const last = (vs: Value[]) => (vs.length > 1 ? concat(vs.map((v) => unsqueeze(v, [0])), 0) : unsqueeze(vs[0], [0]));
  return op === 'LSTM' ? [Y, last(hs), last(cs)] : [Y, last(hs)];
}
