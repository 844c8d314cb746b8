// Building a program and its signature together: every graph input and output is declared with its role,
// so the description a runner reads cannot drift from the graph it runs. Names come from tensor-names.ts.
import { Graph, type Value } from '../graph/ir.ts';
import { abs, concat, less, reduceSum, reshape, split, sum } from '../graph/ops.ts';
import { optimize } from '../graph/optimize.ts';
import { portable } from '../graph/portable.ts';
import { toBytes } from '../graph/serialize.ts';
import type { ParamLayout } from '../models/model.ts';
import type { Optimizer } from './optim.ts';
import type { DrawSpec, Signature, TensorSpec } from './signature.ts';
import { names } from './tensor-names.ts';

export interface CompiledProgram {
  model: Uint8Array;
  signature: Signature;
}

/** A network's inputs to an update: flat parameters, optimizer slots, update count, learning rate. */
export interface NetIn {
  params: Value;
  slots: Value[];
  step: Value;
  lr: Value;
}



export class ProgramBuilder {
  readonly g: Graph;
  private readonly inputs: TensorSpec[] = [];
  private readonly outputs: TensorSpec[] = [];

  constructor(readonly program: string) {
    this.g = new Graph(program);
  }

  input(spec: Omit<TensorSpec, 'dtype'>): Value {
    this.inputs.push({ dtype: 'float32', ...spec });
    return this.g.input(spec.name, 'float32', spec.shape);
  }

  /** A draw input: one step's draw of `draw.shape`, stacked under `stack` leading dims in fused programs. */
  draw(name: string, draw: DrawSpec, stack: number[] = []): Value {
    return this.input({ name, role: draw.dist === 'data' || draw.dist === 'labels' ? 'data' : 'random', shape: [...stack, ...draw.shape], draw });
  }

  output(v: Value, spec: Omit<TensorSpec, 'dtype' | 'shape'>): void {
    this.g.output(v, spec.name);
    this.outputs.push({ ...spec, dtype: v.dtype === 'bool' ? 'bool' : 'float32', shape: (v.shape ?? []).map((d) => d ?? '?') });
  }

  netInputs(net: string, size: number, slots: string[]): NetIn {
    return {
      params: this.input({ name: names.param(net), role: 'param', net, shape: [size] }),
      slots: slots.map((slot) => this.input({ name: names.slot(net, slot), role: 'slot', net, slot, shape: [size] })),
      step: this.input({ name: names.counter(net), role: 'counter', net, shape: [] }),
      lr: this.input({ name: names.lr(net), role: 'lr', net, shape: [] }),
    };
  }

  netOutputs(net: string, slots: string[], out: { params: Value; slots: Value[]; step: Value }): void {
    this.output(out.params, { name: names.next(names.param(net)), role: 'param', net });
    slots.forEach((slot, i) => this.output(out.slots[i], { name: names.next(names.slot(net, slot)), role: 'slot', net, slot }));
    this.output(out.step, { name: names.next(names.counter(net)), role: 'counter', net });
  }

  /**
   * Serialize, after graph/optimize.ts's rewrites unless `optimize` is false (tests compare both), and
   * graph/portable.ts's, so that the same program runs on every provider (artifacts move between them).
   */
  build(extra: Pick<Signature, 'k' | 'nCritic'> = {}, opts: { optimize?: boolean } = {}): CompiledProgram {
    if (opts.optimize ?? true) optimize(this.g);
    portable(this.g);
    return { model: toBytes(this.g), signature: { program: this.program, inputs: this.inputs, outputs: this.outputs, ...extra } };
  }
}

/** The named parameter tensors inside a flat vector: one Split, then a Reshape each. */
export function unpackParams(flat: Value, layout: ParamLayout): Record<string, Value> {
  const parts = layout.entries.length === 1 ? [flat] : split(flat, layout.entries.map((e) => e.size));
  return Object.fromEntries(layout.entries.map((e, i) => [e.name, reshape(parts[i], e.shape)]));
}

/** Gradients per named parameter packed back into one flat vector; frozen ones (absent) are zeros. */
export function packGrads(grads: Map<string, Value>, layout: ParamLayout, g: Graph): Value {
  const parts = layout.entries.map((e) => {
    const gv = grads.get(e.name);
    return gv ? reshape(gv, [e.size]) : g.constant({ dtype: 'float32', dims: [e.size], data: new Float32Array(e.size) }, 'zeros');
  });
  return parts.length === 1 ? parts[0] : concat(parts, 0);
}

/** One optimizer update of a flat vector: the new parameters, slots and count. */
export function applyUpdate(opt: Optimizer, net: NetIn, grads: Value, step: Value) {
  const u = opt.update(net.params, grads, net.slots, step, net.lr);
  return { params: u.p, slots: u.state, step };
}

/**
 * True when every value is finite: one flag per step, computed in the graph. |total| < inf is false for
 * NaN and for infinities; written with Abs and Less because WebGPU has no IsNaN, IsInf or Or kernels.
 */
export function finite(values: Value[]): Value {
  const total = sum(...values.map((v) => (v.rank === 0 ? v : reduceSum(v))));
  return less(abs(total), Infinity);
}
