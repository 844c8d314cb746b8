// The step compiler: turns (generator, critic, loss, penalties, optimizers) into plain ONNX graphs.
// A critic step and a generator step each read parameters and optimizer state and return updated ones;
// the fused program runs K whole iterations (n_critic critic steps + one generator step) in one Loop.
import { grad } from '../graph/autodiff.ts';
import { attr, Graph, type DType, type Value } from '../graph/ir.ts';
import { add, concat, gather, isInf, isNaN, not, or, reduceSum, reshape, slice, split, sum } from '../graph/ops.ts';
import { toBytes } from '../graph/serialize.ts';
import type { GanLoss, LossContext, Penalty, RandomDist } from '../losses/loss.ts';
import { layoutOf, type Model, type ParamLayout } from '../models/model.ts';
import type { Rng } from '../models/random.ts';
import { optimizer, type Optimizer, type OptimizerSettings } from './optim.ts';

export interface GanSetup {
  generator: Model;
  critic: Model;
  loss: GanLoss;
  penalties: Penalty[];
  optD: OptimizerSettings;
  optG: OptimizerSettings;
  batch: number;
}

export type Net = 'G' | 'D';
export interface RandomInput {
  name: string;
  dist: RandomDist;
  /** Shape of one draw (one step). */
  shape: number[];
}

/** Names of step-graph inputs and outputs; the trainer and the browser page feed by these. */
export const io = {
  params: (n: Net) => `${n}.params`,
  slot: (n: Net, s: string) => `${n}.opt.${s}`,
  step: (n: Net) => `${n}.step`,
  lr: (n: Net) => `${n}.lr`,
  updated: (name: string) => `${name}:new`,
  real: 'real',
  z: 'z',
  ok: 'ok',
  state: (name: string) => `state.${name}`,
};

/** State carried between steps and not trained: a loss's multiplier, spectral norm's vectors. */
export interface StateSpec {
  name: string;
  shape: number[];
  init(rng: Rng): Float32Array;
}

/** How a program reads and writes carried state: graph inputs and outputs, or a Loop body's carried values. */
interface StateScope {
  read(name: string): Value;
  write(name: string, v: Value): void;
}

export interface StepProgram {
  role: 'critic' | 'generator' | 'fused';
  model: Uint8Array;
  /** Carried state this program reads (input `state.<name>`) and writes (output `state.<name>:new`). */
  stateIn: string[];
  stateOut: string[];
  /** Random inputs the host draws per step, in the order it draws them. */
  randoms: RandomInput[];
  /** Scalar outputs worth logging (losses and terms), by name. */
  logs: string[];
  /** Fused only: iterations per run and critic steps per iteration. */
  k?: number;
  nCritic?: number;
}

/**
 * What the host loop needs to run compiled step graphs: the graphs, and the names and sizes of what they
 * read and write. Plain data, so training artifacts carry it as JSON next to the .onnx files.
 */
export interface StepPlan {
  batch: number;
  latent: number;
  sampleShape: number[];
  nets: Record<Net, { size: number; slots: string[] }>;
  states: { name: string; shape: number[] }[];
  critic: StepProgram;
  generator: StepProgram;
  /** Generator forward in inference mode: inputs the flat parameters, z [N, latent] and the states it reads. */
  sampler: { model: Uint8Array; stateIn: string[] };
}

interface NetIn {
  params: Value;
  slots: Value[];
  step: Value;
  lr: Value;
}
interface NetOut {
  params: Value;
  slots: Value[];
}

const DT: DType = 'float32';

export class StepCompiler {
  readonly layoutG: ParamLayout;
  readonly layoutD: ParamLayout;
  readonly opt: Record<Net, Optimizer>;
  /** Every carried state, from the models up front and from the losses as the step graphs are built. */
  readonly states = new Map<string, StateSpec>();

  constructor(readonly setup: GanSetup) {
    this.layoutG = layoutOf(setup.generator);
    this.layoutD = layoutOf(setup.critic);
    for (const m of [setup.generator, setup.critic])
      for (const st of m.states ?? []) {
        const n = st.shape.reduce((a, b) => a * b, 1);
        this.states.set(st.name, { name: st.name, shape: st.shape, init: (rng) => { const out = new Float32Array(n); st.init(rng, out); return out; } });
      }
    this.opt = { G: optimizer(setup.optG), D: optimizer(setup.optD) };
    const zs = setup.generator.inputShape;
    if (zs.length !== 1) throw new Error(`generator input must be a latent vector, got shape [${zs}]`);
    const gOut = setup.generator.outputShape.join('x');
    const dIn = setup.critic.inputShape.join('x');
    if (gOut !== dIn) throw new Error(`generator output [${gOut}] does not match critic input [${dIn}]`);
  }

  get latent(): number {
    return this.setup.generator.inputShape[0];
  }
  get sampleShape(): number[] {
    return this.setup.critic.inputShape;
  }
  layout(n: Net): ParamLayout {
    return n === 'G' ? this.layoutG : this.layoutD;
  }

  /** The critic and generator step graphs and the sampler; building them declares the losses' states. */
  plan(): StepPlan {
    const critic = this.criticStep();
    const generator = this.generatorStep();
    const net = (n: Net) => ({ size: this.layout(n).size, slots: this.opt[n].slots.slice() });
    return {
      batch: this.setup.batch,
      latent: this.latent,
      sampleShape: this.sampleShape.slice(),
      nets: { G: net('G'), D: net('D') },
      states: [...this.states.values()].map((s) => ({ name: s.name, shape: s.shape.slice() })),
      critic,
      generator,
      sampler: this.sampler(),
    };
  }

  /** Inference mode (running statistics, fed as state inputs): the samples an exported generator gives. */
  sampler(): { model: Uint8Array; stateIn: string[] } {
    const g = new Graph('sampler');
    const flat = g.input(io.params('G'), DT, [this.layoutG.size]);
    const z = g.input(io.z, DT, ['N', this.latent]);
    const st = this.graphScope(g);
    const { generator } = this.setup;
    const raw = unpackParams(flat, this.layoutG);
    const p = generator.prepare ? generator.prepare(raw, st.scope.read, () => {}, false) : raw;
    g.output(generator.forward(z, p, { training: false, state: st.scope.read, setState: () => {} }), 'samples');
    return { model: toBytes(g), stateIn: [...st.inputs.keys()] };
  }

  // ---- graph pieces, usable in any graph (a step graph or a Loop body) ----------------------------

  private unpack(flat: Value, layout: ParamLayout): Record<string, Value> {
    return unpackParams(flat, layout);
  }

  /** Gradient of `loss` w.r.t. the unpacked parameters, packed back into one flat vector. */
  private flatGrad(loss: Value, p: Record<string, Value>, layout: ParamLayout): Value {
    const trainable = layout.entries.filter((e) => !e.frozen);
    const grads = grad(loss, trainable.map((e) => p[e.name]));
    const byName = new Map(trainable.map((e, i) => [e.name, grads[i]]));
    const parts = layout.entries.map((e) => {
      const gv = byName.get(e.name);
      return gv ? reshape(gv, [e.size]) : scalarZeros(loss.graph, e.size);
    });
    return parts.length === 1 ? parts[0] : concat(parts, 0);
  }

  /**
   * The loss context. `paired`: D(real) and D(fake) come from one pass over [real; fake] (the critic step
   * needs both: half the nodes, larger products); otherwise each is built only when a loss asks for it.
   */
  private context(dParams: Record<string, Value>, gParams: Record<string, Value>, real: Value, z: Value, random: LossContext['random'], scope: StateScope, paired: boolean, updating: Net): LossContext {
    const { critic, generator } = this.setup;
    const B = this.setup.batch;
    // Training-mode passes; only the network being updated advances its running statistics.
    const fwd = (n: Net) => ({ training: true, state: scope.read, setState: n === updating ? scope.write : () => {} });
    const D = (x: Value) => critic.forward(x, dParams, fwd('D'));
    const fake = generator.forward(z, gParams, fwd('G'));
    let both: Value | null = null;
    const half = (i: number) => slice((both ??= D(concat([real, fake], 0))), [i * B], [(i + 1) * B], [0]);
    let dReal: Value | null = null;
    let dFake: Value | null = null;
    return {
      D,
      real,
      fake,
      batch: B,
      random,
      state: (name, init, shape = [init.length]) => {
        if (!this.states.has(name)) this.states.set(name, { name, shape, init: () => Float32Array.from(init) });
        return scope.read(name);
      },
      setState: (name, v) => scope.write(name, v),
      get dReal() {
        return (dReal ??= paired ? half(0) : D(real));
      },
      get dFake() {
        return (dFake ??= paired ? half(1) : D(fake));
      },
    };
  }

  /** The parameters forward() sees: raw ones, or a model's reparametrization of them (spectral norm). */
  private effective(model: Model, flat: Value, layout: ParamLayout, scope: StateScope, update: boolean): Record<string, Value> {
    const p = this.unpack(flat, layout);
    return model.prepare ? model.prepare(p, (n) => scope.read(n), (n, v) => update && scope.write(n, v), update) : p;
  }

  criticUpdate(gParams: Value, d: NetIn, real: Value, z: Value, random: LossContext['random'], scope: StateScope): { d: NetOut; logs: Record<string, Value> } {
    const raw = this.unpack(d.params, this.layoutD);
    const { critic, generator } = this.setup;
    const dp = critic.prepare ? critic.prepare(raw, (n) => scope.read(n), (n, v) => scope.write(n, v), true) : raw;
    const ctx = this.context(dp, this.effective(generator, gParams, this.layoutG, scope, false), real, z, random, scope, true, 'D');
    const obj = this.setup.loss.critic(ctx);
    const logs: Record<string, Value> = {};
    for (const [k, v] of Object.entries(obj.terms ?? {})) logs[`D.${k}`] = v;
    const pens = this.setup.penalties.map((p) => (logs[`D.${p.name}`] = p.build(ctx)));
    const total = pens.length ? sum(obj.loss, ...pens) : obj.loss;
    logs['D.loss'] = total;
    const g = this.flatGrad(total, raw, this.layoutD);
    const u = this.opt.D.update(d.params, g, d.slots, d.step, d.lr);
    return { d: { params: u.p, slots: u.state }, logs };
  }

  generatorUpdate(g: NetIn, dParams: Value, real: Value, z: Value, random: LossContext['random'], scope: StateScope): { g: NetOut; logs: Record<string, Value> } {
    const raw = this.unpack(g.params, this.layoutG);
    const { critic, generator } = this.setup;
    const gp = generator.prepare ? generator.prepare(raw, (n) => scope.read(n), (n, v) => scope.write(n, v), true) : raw;
    const ctx = this.context(this.effective(critic, dParams, this.layoutD, scope, false), gp, real, z, random, scope, false, 'G');
    const obj = this.setup.loss.generator(ctx);
    const logs: Record<string, Value> = { 'G.loss': obj.loss };
    for (const [k, v] of Object.entries(obj.terms ?? {})) logs[`G.${k}`] = v;
    const grads = this.flatGrad(obj.loss, raw, this.layoutG);
    const u = this.opt.G.update(g.params, grads, g.slots, g.step, g.lr);
    return { g: { params: u.p, slots: u.state }, logs };
  }

  /** State as graph inputs and outputs of a one-step graph. */
  private graphScope(gr: Graph) {
    const inputs = new Map<string, Value>();
    const writes = new Map<string, Value>();
    const scope: StateScope = {
      read: (name) => {
        const spec = this.states.get(name);
        if (!spec) throw new Error(`state '${name}' was read before it was declared`);
        let v = inputs.get(name);
        if (!v) inputs.set(name, (v = gr.input(io.state(name), DT, spec.shape)));
        return writes.get(name) ?? v;
      },
      write: (name, v) => void writes.set(name, v),
    };
    return { scope, inputs, writes };
  }

  // ---- whole programs -----------------------------------------------------------------------------

  private netInputs(gr: Graph, n: Net): NetIn {
    const size = this.layout(n).size;
    return {
      params: gr.input(io.params(n), DT, [size]),
      slots: this.opt[n].slots.map((s) => gr.input(io.slot(n, s), DT, [size])),
      step: gr.input(io.step(n), DT, []),
      lr: gr.input(io.lr(n), DT, []),
    };
  }

  private randomInputs(gr: Graph, randoms: RandomInput[]): LossContext['random'] {
    return (name, dist, shape) => {
      randoms.push({ name, dist, shape });
      return gr.input(name, DT, shape);
    };
  }

  /** One critic update: inputs G.params, D.params, D.opt.*, D.step, D.lr, real, z, randoms, state. */
  criticStep(): StepProgram {
    return this.stepProgram('D');
  }

  /** One generator update: inputs G.params, G.opt.*, G.step, G.lr, D.params, real, z, randoms, state. */
  generatorStep(): StepProgram {
    return this.stepProgram('G');
  }

  /** One update of network n, the other network's parameters held fixed. */
  private stepProgram(n: Net): StepProgram {
    const other: Net = n === 'D' ? 'G' : 'D';
    const gr = new Graph(n === 'D' ? 'critic_step' : 'generator_step');
    const B = this.setup.batch;
    const mine = this.netInputs(gr, n);
    const theirs = gr.input(io.params(other), DT, [this.layout(other).size]);
    const real = gr.input(io.real, DT, [B, ...this.sampleShape]);
    const z = gr.input(io.z, DT, [B, this.latent]);
    const randoms: RandomInput[] = [];
    const st = this.graphScope(gr);
    const random = this.randomInputs(gr, randoms);
    const { net, logs } =
      n === 'D'
        ? ((r) => ({ net: r.d, logs: r.logs }))(this.criticUpdate(theirs, mine, real, z, random, st.scope))
        : ((r) => ({ net: r.g, logs: r.logs }))(this.generatorUpdate(mine, theirs, real, z, random, st.scope));
    this.outputs(gr, n, net, logs, st.writes);
    return { role: n === 'D' ? 'critic' : 'generator', model: toBytes(gr), randoms, logs: Object.keys(logs), stateIn: [...st.inputs.keys()], stateOut: [...st.writes.keys()] };
  }

  private outputs(gr: Graph, n: Net, out: NetOut, logs: Record<string, Value>, states: Map<string, Value>): void {
    gr.output(out.params, io.updated(io.params(n)));
    this.opt[n].slots.forEach((s, i) => gr.output(out.slots[i], io.updated(io.slot(n, s))));
    for (const [name, v] of states) gr.output(v, io.updated(io.state(name)));
    for (const [k, v] of Object.entries(logs)) gr.output(v, k);
    gr.output(finite([...Object.values(logs), out.params]), io.ok);
  }

  /**
   * K iterations in one ONNX Loop, each n_critic critic updates then one generator update. Inputs are the
   * states at the start plus every random draw stacked: real [K, nC+1, B, ...], z [K, nC+1, B, latent]
   * (index nC is the generator step's), and each penalty input [K, nC, ...]. Outputs: the states after
   * K iterations and each log as a [K, ...] scan.
   */
  fusedProgram(k: number, nCritic: number, criticRandoms: RandomInput[], genRandoms: RandomInput[]): StepProgram {
    if (!Number.isInteger(k) || k < 1 || !Number.isInteger(nCritic) || nCritic < 1) throw new Error(`fused program needs K >= 1 and n_critic >= 1, got ${k}, ${nCritic}`);
    const gr = new Graph('fused_steps');
    const B = this.setup.batch;
    const g0 = this.netInputs(gr, 'G');
    const d0 = this.netInputs(gr, 'D');
    const real = gr.input(io.real, DT, [k, nCritic + 1, B, ...this.sampleShape]);
    const z = gr.input(io.z, DT, [k, nCritic + 1, B, this.latent]);
    const stacked = new Map<string, Value>();
    for (const r of criticRandoms) stacked.set(`D:${r.name}`, gr.input(`D.${r.name}`, DT, [k, nCritic, ...r.shape]));
    for (const r of genRandoms) stacked.set(`G:${r.name}`, gr.input(`G.${r.name}`, DT, [k, ...r.shape]));

    const body = gr.subgraph('iteration');
    const i = body.input('i', 'int64', []);
    const condIn = body.input('cond', 'bool', []);
    const carry = (v: Value, name: string) => body.input(`${name}.in`, v.dtype, v.shape);
    const gIn: NetIn = { params: carry(g0.params, 'G.params'), slots: g0.slots.map((s, j) => carry(s, `G.slot${j}`)), step: carry(g0.step, 'G.step'), lr: g0.lr };
    const dIn: NetIn = { params: carry(d0.params, 'D.params'), slots: d0.slots.map((s, j) => carry(s, `D.slot${j}`)), step: carry(d0.step, 'D.step'), lr: d0.lr };

    // Every declared state is carried through the Loop; reads see the latest write in the iteration.
    const stateNames = [...this.states.keys()];
    const state0 = stateNames.map((n) => gr.input(io.state(n), DT, this.states.get(n)!.shape));
    const current = new Map(stateNames.map((n, j) => [n, carry(state0[j], `state${j}`)]));
    const scope: StateScope = {
      read: (name) => {
        const v = current.get(name);
        if (!v) throw new Error(`state '${name}' is not declared`);
        return v;
      },
      write: (name, v) => void current.set(name, v),
    };

    const realI = gather(real, i);
    const zI = gather(z, i);
    let d: NetIn = dIn;
    const logs: Record<string, Value> = {};
    for (let c = 0; c < nCritic; c++) {
      const at = body.constant({ dtype: 'int64', dims: [], data: new BigInt64Array([BigInt(c)]) }, 'c');
      const random: LossContext['random'] = (name) => gather(gather(stacked.get(`D:${name}`)!, i), at);
      const step = add(d.step, 1);
      const r = this.criticUpdate(gIn.params, { ...d, step }, gather(realI, at), gather(zI, at), random, scope);
      d = { params: r.d.params, slots: r.d.slots, step, lr: d.lr };
      if (c === nCritic - 1) Object.assign(logs, r.logs);
    }
    const last = body.constant({ dtype: 'int64', dims: [], data: new BigInt64Array([BigInt(nCritic)]) }, 'c');
    const gStep = add(gIn.step, 1);
    const random: LossContext['random'] = (name) => gather(stacked.get(`G:${name}`)!, i);
    const rg = this.generatorUpdate({ ...gIn, step: gStep }, d.params, gather(realI, last), gather(zI, last), random, scope);
    Object.assign(logs, rg.logs);

    body.output(condIn, 'cond.out');
    const carriedOut = [rg.g.params, ...rg.g.slots, gStep, d.params, ...d.slots, d.step, ...stateNames.map((n) => current.get(n)!)];
    carriedOut.forEach((v, j) => body.output(v, `carry${j}.out`));
    const logNames = Object.keys(logs);
    logNames.forEach((n) => body.output(logs[n], `${n}.scan`));
    body.output(finite([...Object.values(logs), rg.g.params, d.params]), 'ok.scan');

    const carriedIn = [g0.params, ...g0.slots, g0.step, d0.params, ...d0.slots, d0.step, ...state0];
    const trip = gr.constant({ dtype: 'int64', dims: [], data: new BigInt64Array([BigInt(k)]) }, 'trip');
    const outTypes = [...carriedIn.map((v) => ({ dtype: v.dtype, shape: v.shape })), ...logNames.map((n) => ({ dtype: logs[n].dtype, shape: [k] })), { dtype: 'bool' as DType, shape: [k] }];
    const outs = gr.addNode('Loop', [trip, null, ...carriedIn], outTypes, { body: attr.graph(body) });

    let j = 0;
    gr.output(outs[j++], io.updated(io.params('G')));
    this.opt.G.slots.forEach((s) => gr.output(outs[j++], io.updated(io.slot('G', s))));
    gr.output(outs[j++], io.updated(io.step('G')));
    gr.output(outs[j++], io.updated(io.params('D')));
    this.opt.D.slots.forEach((s) => gr.output(outs[j++], io.updated(io.slot('D', s))));
    gr.output(outs[j++], io.updated(io.step('D')));
    stateNames.forEach((n) => gr.output(outs[j++], io.updated(io.state(n))));
    logNames.forEach((n) => gr.output(outs[j++], n));
    gr.output(outs[j++], io.ok);
    return { role: 'fused', model: toBytes(gr), randoms: [...criticRandoms, ...genRandoms], logs: logNames, k, nCritic, stateIn: stateNames, stateOut: stateNames };
  }
}

/** The named parameter tensors inside a flat vector: one Split, then a Reshape each. */
export function unpackParams(flat: Value, layout: ParamLayout): Record<string, Value> {
  const parts = layout.entries.length === 1 ? [flat] : split(flat, layout.entries.map((e) => e.size));
  return Object.fromEntries(layout.entries.map((e, i) => [e.name, reshape(parts[i], e.shape)]));
}

function scalarZeros(g: Graph, n: number): Value {
  return g.constant({ dtype: DT, dims: [n], data: new Float32Array(n) }, 'zeros');
}

/** True when every value is finite: one flag per step, computed in the graph. */
function finite(values: Value[]): Value {
  const total = sum(...values.map((v) => (v.rank === 0 ? v : reduceSum(v))));
  return not(or(isNaN(total), isInf(total)));
}

