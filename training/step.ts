// The step compiler: turns (generator, critic, loss, penalties, optimizers) into plain ONNX programs, each
// with its signature (training/signature.ts). A critic step and a generator step each read parameters and
// optimizer state and return updated ones; the fused program runs K whole iterations (n_critic critic
// steps + one generator step) in one Loop; the sampler is the generator in inference mode.
import { grad } from '../graph/autodiff.ts';
import type { Value } from '../graph/ir.ts';
import { loop, unrolled } from '../graph/loop.ts';
import { add, cast, clip, concat, div, gather, greater, mean, min, mul, reshape, sign, slice, sub, sum, where } from '../graph/ops.ts';
import { auxiliaryClassifier } from '../losses/acgan.ts';
import type { GanLoss, LossContext, Penalty, RandomDist } from '../losses/loss.ts';
import { layoutOf, type Model, type ParamLayout } from '../models/model.ts';
import { augment, type Augment } from '../models/augment.ts';
import type { Rng } from '../data/random.ts';
import { optimizer, type Optimizer, type OptimizerSettings } from './optim.ts';
import { names } from './tensor-names.ts';
import { applyUpdate, finite, packGrads, ProgramBuilder, unpackParams, type CompiledProgram, type NetIn } from './program.ts';

export interface GanSetup {
  generator: Model;
  critic: Model;
  loss: GanLoss;
  penalties: Penalty[];
  optD: OptimizerSettings;
  optG: OptimizerSettings;
  /** Critic inputs per step; with packing, each holds `pack` samples. */
  batch: number;
  /**
   * PacGAN's packing: the critic sees m samples side by side along the first sample axis (real with real,
   * fake with fake), so a step draws batch x m real samples and latents; penalties act on packed inputs.
   */
  pack?: number;
  /** An exponential moving average of the generator's weights (and its carried states), updated in-graph. */
  ema?: EmaSettings;
  /** Differentiable augmentation of every critic input (models/augment.ts). */
  augment?: AugmentSettings;
  /**
   * Lazy regularization (StyleGAN2): the gradient penalties on every k-th critic update only, at k times
   * their weight; a second critic program (StepPlan.lazy) makes the other updates without them.
   */
  penaltyEvery?: number;
}

/**
 * DiffAugment's transforms, each applied with probability p; 'auto' adapts p as ADA does: r = E[sign D(real)]
 * (a running mean over about four critic batches) above `target` raises p, below lowers it, by
 * batch / 500,000 per critic step (p can go from 0 to 1 in 500k real images).
 */
export interface AugmentSettings {
  kinds: Augment[];
  p: number | 'auto';
  target: number;
}

/** The adaptive probability and its running E[sign D(real)], carried as state. */
const AUGMENT_P = 'augment.p';
const AUGMENT_R = 'augment.r';

/**
 * Generator weight averaging (Yazici et al. 2019; BigGAN, StyleGAN): after generator update t,
 * avg <- beta_t * avg + (1 - beta_t) * w, beta_t = min(decay, (1 + s) / (10 + s)) with s = t - start, and
 * avg = w until update `start` (TensorFlow's ExponentialMovingAverage warm-up, so early averages are not
 * dominated by the random initial weights).
 */
export interface EmaSettings {
  decay: number;
  start: number;
}

export type Net = 'G' | 'D';

/** One step's draws as graph values: real samples, latent vectors, their classes, and any other random input. */
interface Draws {
  real: Value;
  z: Value;
  labels: Value | null;
  random: Random;
}
export type StepProgram = CompiledProgram;

/** State carried between steps and not trained: a loss's multiplier, spectral norm's vectors, running statistics. */
export interface StateSpec {
  name: string;
  shape: number[];
  /** `initial`: the networks' initial parameters and the states declared before this one, already made. */
  init(rng: Rng, initial: InitialValues): Float32Array;
}

export interface InitialValues {
  params: Record<Net, Float32Array>;
  states: Record<string, Float32Array>;
}

/** How a program reads and writes carried state: graph inputs and outputs, or a Loop body's carried values. */
interface StateScope {
  read(name: string): Value;
  write(name: string, v: Value): void;
}

/**
 * What the host needs to run compiled step programs. Plain data (the models are bytes, the signatures
 * JSON), so training artifacts carry it as files.
 */
export interface StepShape {
  batch: number;
  latent: number;
  sampleShape: number[];
  /** Classes of a class-conditional generator (its inputs include each sample's class); 0 if unconditional. */
  classes: number;
  nets: Record<Net, { size: number; slots: string[] }>;
  states: { name: string; shape: number[] }[];
}

/** A shape and its step programs: what a trainer runs, and what training artifacts carry. */
export interface StepPlan extends StepShape {
  critic: StepProgram;
  /**
   * Lazy regularization: the critic step without its gradient penalties, for the updates between every
   * `every`-th (which run `critic`, the penalties at `every` times their weight).
   */
  lazy?: { critic: StepProgram; every: number };
  generator: StepProgram;
  /** Generator forward in inference mode: parameters, states and z [N, latent] in, samples out. */
  sampler: StepProgram;
}

type Random = LossContext['random'];
type NetOut = { params: Value; slots: Value[]; step: Value };

export class StepCompiler {
  readonly layoutG: ParamLayout;
  readonly layoutD: ParamLayout;
  readonly opt: Record<Net, Optimizer>;
  /** Every carried state, declared up front by the models and the loss. */
  readonly states = new Map<string, StateSpec>();
  private compiled: StepPlan | null = null;

  /** `optimize: false` serializes the graphs as autodiff left them (tests compare both). */
  constructor(readonly setup: GanSetup, readonly options: { optimize?: boolean } = {}) {
    this.layoutG = layoutOf(setup.generator);
    this.layoutD = layoutOf(setup.critic);
    const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
    for (const m of [setup.generator, setup.critic])
      for (const st of m.states ?? []) this.states.set(st.name, { name: st.name, shape: st.shape, init: (rng) => { const out = new Float32Array(size(st.shape)); st.init(rng, out); return out; } });
    for (const st of [...(setup.loss.states ?? []), ...setup.penalties.flatMap((p) => p.states ?? [])]) this.states.set(st.name, { name: st.name, shape: st.shape, init: () => { const out = new Float32Array(size(st.shape)); st.init(out); return out; } });
    if (setup.augment) {
      const { kinds, p, target } = setup.augment;
      if (this.sampleShape.length !== 3) throw new Error(`augmentation (${kinds.join(', ')}) works on images; these samples have shape [${this.sampleShape}]`);
      if (!kinds.length) throw new Error('augmentation needs at least one transform');
      if (p !== 'auto' && !(p > 0 && p <= 1)) throw new Error(`augmentation probability must be in (0, 1] or 'auto', got ${p}`);
      if (!(target > 0 && target < 1)) throw new Error(`augmentation target must be in (0, 1), got ${target}`);
      if (p === 'auto') for (const name of [AUGMENT_P, AUGMENT_R]) this.states.set(name, { name, shape: [], init: () => new Float32Array(1) });
    }
    if (setup.ema) {
      const { decay, start } = setup.ema;
      if (!(decay > 0 && decay < 1)) throw new Error(`ema decay must be in (0, 1), got ${decay}`);
      if (!Number.isInteger(start) || start < 0) throw new Error(`ema start must be a whole number of generator updates >= 0, got ${start}`);
      // The average starts as the initial weights; each generator state's twin as that state's initial value.
      const avgParams = names.ema(names.param('G'));
      this.states.set(avgParams, { name: avgParams, shape: [this.layoutG.size], init: (_, v) => v.params.G.slice() });
      for (const name of this.averagedStates) this.states.set(names.ema(name), { name: names.ema(name), shape: this.states.get(name)!.shape, init: (_, v) => v.states[name].slice() });
    }
    this.opt = { G: optimizer(setup.optG), D: optimizer(setup.optD) };
    const zs = setup.generator.inputShape;
    if (zs.length !== 1) throw new Error(`generator input must be a latent vector, got shape [${zs}]`);
    const m = this.pack;
    if (!Number.isInteger(m) || m < 1) throw new Error(`pack must be a positive integer, got ${setup.pack}`);
    const [c, ...rest] = setup.generator.outputShape;
    const gOut = setup.generator.outputShape.join('x');
    const dIn = setup.critic.inputShape.join('x');
    if ([c * m, ...rest].join('x') !== dIn) throw new Error(`generator output [${gOut}]${m > 1 ? ` packed ${m} at a time` : ''} does not match critic input [${dIn}]`);
    const k = setup.generator.classes ?? 0;
    const dk = setup.critic.classes ?? setup.critic.auxClasses ?? 0;
    if (k !== dk) throw new Error(`the generator is conditional on ${k || 'no'} classes, the critic on ${dk || 'none'}: both or neither, on the same classes`);
    if (k && m > 1) throw new Error(`pack ${m}: a class-conditional critic sees one sample with its class; packing applies to unconditional pairs`);
  }

  get pack(): number {
    return this.setup.pack ?? 1;
  }

  /** The generator's carried states (running statistics, spectral norm's vectors): averaged beside its weights. */
  private get averagedStates(): string[] {
    return (this.setup.generator.states ?? []).map((s) => s.name);
  }

  /** Samples (and latents) one step draws: a critic input per batch row, `pack` samples in each. */
  private get draws(): number {
    return this.setup.batch * this.pack;
  }

  /** [B * m, C, ...] -> [B, m * C, ...]: the m samples of a pack are consecutive rows. */
  private packed(x: Value): Value {
    const [c, ...rest] = this.sampleShape;
    return this.pack === 1 ? x : reshape(x, [this.setup.batch, c * this.pack, ...rest]);
  }

  /** Classes of a class-conditional pair, 0 if unconditional. */
  get classes(): number {
    return this.setup.generator.classes ?? 0;
  }

  get latent(): number {
    return this.setup.generator.inputShape[0];
  }
  /** One sample's shape (the generator's output; the critic's input holds `pack` of them). */
  get sampleShape(): number[] {
    return this.setup.generator.outputShape;
  }
  layout(n: Net): ParamLayout {
    return n === 'G' ? this.layoutG : this.layoutD;
  }

  /** What the programs take and carry, without compiling them (a checkpoint's identity needs only this). */
  shape(): StepShape {
    const net = (n: Net) => ({ size: this.layout(n).size, slots: this.opt[n].slots.slice() });
    return {
      batch: this.setup.batch,
      latent: this.latent,
      sampleShape: this.sampleShape.slice(),
      classes: this.classes,
      nets: { G: net('G'), D: net('D') },
      states: [...this.states.values()].map((s) => ({ name: s.name, shape: s.shape.slice() })),
    };
  }

  /** The step programs, compiled once (train estimates their memory, then the trainer opens them). */
  plan(): StepPlan {
    this.compiled ??= {
      ...this.shape(),
      critic: this.stepProgram('D'),
      ...(this.lazyEvery > 1 ? { lazy: { critic: this.stepProgram('D', { lazy: true }), every: this.lazyEvery } } : {}),
      generator: this.stepProgram('G'),
      sampler: this.sampler(),
    };
    return this.compiled;
  }

  /** Lazy regularization's period: the critic's gradient penalties on every k-th update (1: every one). */
  get lazyEvery(): number {
    return this.setup.penaltyEvery ?? 1;
  }

  // ---- graph pieces, usable in any graph (a step graph or a Loop body) ----------------------------

  /** Gradient of `loss` w.r.t. the trainable parameters, packed into one flat vector. */
  private flatGrad(loss: Value, p: Record<string, Value>, layout: ParamLayout): Value {
    const trainable = layout.entries.filter((e) => !e.frozen);
    const grads = grad(loss, trainable.map((e) => p[e.name]));
    return packGrads(new Map(trainable.map((e, i) => [e.name, grads[i]])), layout, loss.graph);
  }

  /**
   * The loss context. `paired`: D(real) and D(fake) come from one pass over [real; fake] (the critic step
   * needs both: half the nodes, larger products); otherwise each is built only when a loss asks for it.
   */
  private context(dParams: Record<string, Value>, gParams: Record<string, Value>, { real: drawn, z, labels, random }: Draws, scope: StateScope, paired: boolean, updating: Net): LossContext {
    const { critic, generator } = this.setup;
    const B = this.setup.batch;
    const y = labels ? cast(labels, 'int64') : undefined;
    // Training-mode passes; only the network being updated advances its running statistics. Draws a model
    // asks for are numbered in the order this step makes them, so every step of a kind names them alike.
    let draws = 0;
    const modelRandom = (name: string, dist: RandomDist, shape: number[]) => random(`${name}#${draws++}`, dist, shape);
    const fwd = (n: Net) => ({ training: true, state: scope.read, setState: n === updating ? scope.write : () => {}, random: modelRandom });
    // Every critic input of a step is one batch row-aligned with the labels (real, generated, or a mix),
    // augmented first when the run asks for it (penalties then see D of the augmented input, as DiffAugment).
    const aug = this.setup.augment;
    const input = (x: Value) => (aug ? augment(x, aug.kinds, (name, shape) => modelRandom(name, 'uniform', shape), { p: aug.p === 'auto' ? scope.read(AUGMENT_P) : aug.p < 1 ? aug.p : undefined, channels: this.sampleShape[0] }) : x);
    const raw = (x: Value, rows = y) => critic.forward(input(x), dParams, fwd('D'), rows);
    // An ACGAN critic's output is [score, class logits]: losses and penalties see the score.
    const K = critic.auxClasses ?? 0;
    const score = (o: Value) => (K ? slice(o, [0], [1], [1]) : o);
    const classLogits = (o: Value) => slice(o, [1], [1 + K], [1]);
    const D = (x: Value) => score(raw(x));
    const real = this.packed(drawn);
    const fake = this.packed(generator.forward(z, gParams, fwd('G'), y));
    let both: Value | null = null;
    const half = (i: number) => slice((both ??= raw(concat([real, fake], 0), y && concat([y, y], 0))), [i * B], [(i + 1) * B], [0]);
    let rawReal: Value | null = null;
    let rawFake: Value | null = null;
    const outReal = () => (rawReal ??= paired ? half(0) : raw(real));
    const outFake = () => (rawFake ??= paired ? half(1) : raw(fake));
    return {
      D,
      real,
      fake,
      batch: B,
      labels: y,
      random,
      state: scope.read,
      setState: scope.write,
      get dReal() {
        return score(outReal());
      },
      get dFake() {
        return score(outFake());
      },
      get classReal() {
        return K ? classLogits(outReal()) : undefined;
      },
      get classFake() {
        return K ? classLogits(outFake()) : undefined;
      },
    };
  }

  /** The parameters forward() sees: raw ones, or a model's reparametrization of them (spectral norm). */
  private effective(model: Model, raw: Record<string, Value>, scope: StateScope, update: boolean): Record<string, Value> {
    return model.prepare ? model.prepare(raw, scope.read, (n, v) => update && scope.write(n, v), update) : raw;
  }

  /** One update of network n (the other network's parameters fixed): its new state and the logged scalars. */
  private update(n: Net, mine: NetIn, theirs: Value, draws: Draws, scope: StateScope, lazy = false): { net: NetOut; logs: Record<string, Value> } {
    const { grad, logs } = this.objective(n, mine.params, theirs, draws, scope, lazy);
    const net = applyUpdate(this.opt[n], mine, grad, add(mine.step, 1));
    if (n === 'G') this.average(net, scope);
    return { net, logs };
  }

  /** ADA's heuristic after a critic step: the running E[sign D(real)] and p moved toward the target. */
  private adaptAugmentation(dReal: Value, scope: StateScope): Record<string, Value> {
    const { target } = this.setup.augment!;
    const p = scope.read(AUGMENT_P);
    const r = add(scope.read(AUGMENT_R), mul(sub(mean(sign(dReal)), scope.read(AUGMENT_R)), 0.25));
    scope.write(AUGMENT_R, r);
    scope.write(AUGMENT_P, clip(add(p, mul(sign(sub(r, target)), this.draws / 500_000)), 0, 1));
    return { 'D.augment_p': p, 'D.augment_r': r };
  }

  /** The generator's averages after an update (nothing without --ema): weights and carried states alike. */
  private average(g: Pick<NetOut, 'params' | 'step'>, scope: StateScope): void {
    if (!this.setup.ema) return;
    const { decay, start } = this.setup.ema;
    const since = sub(g.step, start);
    const beta = where(greater(since, 0), min(div(add(since, 1), add(since, 10)), decay), 0);
    // avg + (1 - beta) (w - avg): the blend in one multiply.
    const blend = (name: string, w: Value) => {
      const avg = scope.read(names.ema(name));
      scope.write(names.ema(name), add(avg, mul(sub(w, avg), sub(1, beta))));
    };
    blend(names.param('G'), g.params);
    for (const name of this.averagedStates) blend(name, scope.read(name));
  }

  /**
   * Network n's loss on this step's draws: its flat gradient and the logged scalars. With lazy
   * regularization the critic's gradient penalties (the stateless ones: not LeCam's anchors) count k times
   * on the updates that have them, and `lazy` leaves them out.
   */
  private objective(n: Net, params: Value, theirs: Value, draws: Draws, scope: StateScope, lazy = false): { grad: Value; logs: Record<string, Value> } {
    const other: Net = n === 'D' ? 'G' : 'D';
    const model = (x: Net) => (x === 'G' ? this.setup.generator : this.setup.critic);
    const raw = unpackParams(params, this.layout(n));
    const own = this.effective(model(n), raw, scope, true);
    const fixed = this.effective(model(other), unpackParams(theirs, this.layout(other)), scope, false);
    const ctx = n === 'D' ? this.context(own, fixed, draws, scope, true, 'D') : this.context(fixed, own, draws, scope, false, 'G');
    const obj = n === 'D' ? this.setup.loss.critic(ctx) : this.setup.loss.generator(ctx);
    const logs: Record<string, Value> = {};
    for (const [k, v] of Object.entries(obj.terms ?? {})) logs[`${n}.${k}`] = v;
    const k = this.lazyEvery;
    // The lazy program keeps only the stateful penalties (LeCam's anchors move every step).
    const applied = lazy ? this.setup.penalties.filter((p) => p.states) : this.setup.penalties;
    const pens = n === 'D' ? applied.map((p) => {
      const v = (logs[`D.${p.name}`] = p.build(ctx));
      return k > 1 && !p.states ? mul(v, k) : v;
    }) : [];
    if (this.setup.critic.auxClasses) pens.push((logs[`${n}.ac`] = auxiliaryClassifier[n === 'D' ? 'critic' : 'generator'](ctx)));
    const total = pens.length ? sum(obj.loss, ...pens) : obj.loss;
    logs[`${n}.loss`] = total;
    if (n === 'D' && this.setup.augment?.p === 'auto') Object.assign(logs, this.adaptAugmentation(ctx.dReal, scope));
    return { grad: this.flatGrad(total, raw, this.layout(n)), logs };
  }

  private netInputs(p: ProgramBuilder, n: Net): NetIn {
    return p.netInputs(n, this.layout(n).size, this.opt[n].slots);
  }

  /** State as inputs and outputs of a one-run program: only what the program reads or writes appears. */
  private programScope(p: ProgramBuilder) {
    const inputs = new Map<string, Value>();
    const writes = new Map<string, Value>();
    const scope: StateScope = {
      read: (name) => {
        const spec = this.states.get(name);
        if (!spec) throw new Error(`state '${name}' is read but not declared by any model or loss`);
        if (!inputs.has(name)) inputs.set(name, p.input({ name: names.state(name), role: 'state', state: name, shape: spec.shape }));
        return writes.get(name) ?? inputs.get(name)!;
      },
      write: (name, v) => void writes.set(name, v),
    };
    const outputs = () => { for (const [name, v] of writes) p.output(v, { name: names.next(names.state(name)), role: 'state', state: name }); };
    return { scope, outputs };
  }

  private logOutputs(p: ProgramBuilder, logs: Record<string, Value>): void {
    for (const [name, v] of Object.entries(logs)) p.output(v, { name, role: 'log', log: name });
  }

  // ---- whole programs -----------------------------------------------------------------------------

  /** A one-step program's draws, in the order every step program of network n makes them. */
  private stepDraws(p: ProgramBuilder, n: Net): Draws {
    const steps = n === 'D' ? 'critic' : 'generator';
    const real = p.draw('real', { dist: 'data', shape: [this.draws, ...this.sampleShape], steps });
    const labels = this.classes ? p.draw('labels', { dist: 'labels', shape: [this.setup.batch], steps }) : null;
    const z = p.draw('z', { dist: 'normal', shape: [this.draws, this.latent], steps });
    const random: Random = (name, dist, shape) => p.draw(name, { dist, shape, steps });
    return { real, labels, z, random };
  }

  /** One update of network n. */
  stepProgram(n: Net, o: { lazy?: boolean } = {}): StepProgram {
    const other: Net = n === 'D' ? 'G' : 'D';
    const p = new ProgramBuilder(n === 'D' ? (o.lazy ? 'critic_step_lazy' : 'critic_step') : 'generator_step');
    const mine = this.netInputs(p, n);
    const theirs = p.input({ name: names.param(other), role: 'param', net: other, shape: [this.layout(other).size] });
    const st = this.programScope(p);
    const { net, logs } = this.update(n, mine, theirs, this.stepDraws(p, n), st.scope, o.lazy);
    p.netOutputs(n, this.opt[n].slots, net);
    st.outputs();
    this.logOutputs(p, logs);
    p.output(finite([...Object.values(logs), net.params]), { name: 'ok', role: 'ok' });
    return p.build({}, this.options);
  }

  /**
   * Data parallel, one shard's part of a step: network n's gradient on this program's draws (a compiler
   * made for the shard's batch), with the states and logs it would write. The host averages states and
   * logs over the shards; applyProgram(n, shards) takes every shard's gradient and applies their mean.
   */
  gradProgram(n: Net): StepProgram {
    const other: Net = n === 'D' ? 'G' : 'D';
    const p = new ProgramBuilder(n === 'D' ? 'critic_grad' : 'generator_grad');
    const mine = p.input({ name: names.param(n), role: 'param', net: n, shape: [this.layout(n).size] });
    const theirs = p.input({ name: names.param(other), role: 'param', net: other, shape: [this.layout(other).size] });
    const st = this.programScope(p);
    const { grad, logs } = this.objective(n, mine, theirs, this.stepDraws(p, n), st.scope);
    p.output(grad, { name: names.grad(n), role: 'grad', net: n });
    st.outputs();
    this.logOutputs(p, logs);
    p.output(finite([...Object.values(logs), grad]), { name: 'ok', role: 'ok' });
    return p.build({}, this.options);
  }

  /** Data parallel, the other half: network n's optimizer update by the mean of `shards` gradients. */
  applyProgram(n: Net, shards: number): StepProgram {
    const p = new ProgramBuilder(n === 'D' ? 'critic_apply' : 'generator_apply');
    const mine = this.netInputs(p, n);
    const grads = Array.from({ length: shards }, (_, s) => p.input({ name: names.grad(n, s), role: 'grad', net: n, shape: [this.layout(n).size] }));
    const net = applyUpdate(this.opt[n], mine, mul(sum(...grads), 1 / shards), add(mine.step, 1));
    const st = this.programScope(p);
    if (n === 'G') this.average(net, st.scope);
    p.netOutputs(n, this.opt[n].slots, net);
    st.outputs();
    p.output(finite([net.params]), { name: 'ok', role: 'ok' });
    return p.build({}, this.options);
  }

  /** Whether samples come from the averaged generator unless told otherwise: when there is one. */
  get averaged(): boolean {
    return !!this.setup.ema;
  }

  /**
   * The generator in inference mode (running statistics as state inputs): what an export samples. With
   * `ema` (the default when the run averages), the averaged weights and states, read as carried state.
   */
  /**
   * `truncateAt`: the name of an imported generator's tensor w (its mapping network's output) to pull toward
   * a mean, w_mean + psi (w - w_mean): the program then takes `w_mean` (one sample's w) and `psi` too, and
   * returns the untouched `w` beside the samples (what the mean is taken over).
   */
  sampler(o: { ema?: boolean; truncateAt?: string } = {}): StepProgram {
    const ema = this.useEma(o.ema);
    const p = new ProgramBuilder('sampler');
    const st = this.programScope(p);
    const flat = ema ? st.scope.read(names.ema(names.param('G'))) : p.input({ name: names.param('G'), role: 'param', net: 'G', shape: [this.layoutG.size] });
    const z = p.input({ name: 'z', role: 'input', shape: ['N', this.latent] });
    // Classes travel as float32 like every other feed (exact below 2^24) and are cast in the graph.
    const label = this.classes ? cast(p.input({ name: 'label', role: 'input', shape: ['N'] }), 'int64') : undefined;
    const twin = this.twinOf(ema);
    const scope: StateScope = { read: (name) => st.scope.read(twin(name)), write: () => {} };
    const { generator } = this.setup;
    const params = this.effective(generator, unpackParams(flat, this.layoutG), scope, false);
    let w: Value | null = null;
    const tensor = (name: string, v: Value) => {
      if (name !== o.truncateAt) return v;
      const per = (v.shape ?? []).slice(1);
      if (!per.every((d): d is number => typeof d === 'number')) throw new Error(`truncation at '${name}': its per-sample shape must be static, it is [${per.map((d) => d ?? '?')}]`);
      const wMean = p.input({ name: 'w_mean', role: 'input', shape: [1, ...per] });
      const psi = p.input({ name: 'psi', role: 'input', shape: [] });
      w = v;
      return add(wMean, mul(psi, sub(v, wMean)));
    };
    p.output(generator.forward(z, params, { training: false, state: scope.read, setState: () => {}, tensor: o.truncateAt ? tensor : undefined }, label), { name: 'samples', role: 'output' });
    if (o.truncateAt && !w) throw new Error(`truncation at '${o.truncateAt}': the generator has no such tensor (mean-latent truncation rewrites a tensor of an imported generator, named as in its ONNX graph)`);
    if (w) p.output(w, { name: 'w', role: 'output' });
    return p.build({}, this.options);
  }

  /** The generator's weights and states to sample or export with: the averages, or (`ema: false`) the trained ones. */
  generatorWeights(state: { G: { params: Float32Array }; states: Record<string, Float32Array> }, o: { ema?: boolean } = {}): { params: Float32Array; states: Record<string, Float32Array> } {
    if (!this.useEma(o.ema)) return { params: state.G.params, states: state.states };
    const twin = this.twinOf(true);
    return { params: state.states[names.ema(names.param('G'))], states: Object.fromEntries(Object.keys(state.states).map((name) => [name, state.states[twin(name)]])) };
  }

  /** The state a generator state is read from when sampling: its average's twin (with `ema`), or itself. */
  private twinOf(ema: boolean): (name: string) => string {
    const twins = new Set(ema ? this.averagedStates : []);
    return (name) => (twins.has(name) ? names.ema(name) : name);
  }

  private useEma(asked?: boolean): boolean {
    if (asked && !this.setup.ema) throw new Error('the run keeps no average of the generator (train with --ema DECAY)');
    return asked ?? this.averaged;
  }

  /**
   * K iterations in one ONNX Loop, each n_critic critic updates then one generator update. Every draw
   * comes in stacked: real and z [K, nC+1, ...] (index nC is the generator step's), a critic step's
   * randoms [K, nC, ...], the generator's [K, ...]. Logs come out as [K] scans. `unroll`: the K
   * iterations written out one after another instead (providers without Loop: WebGPU); same signature.
   */
  fusedProgram(k: number, nCritic: number, opts: { unroll?: boolean } = {}): StepProgram {
    if (!Number.isInteger(k) || k < 1 || !Number.isInteger(nCritic) || nCritic < 1) throw new Error(`fused program needs K >= 1 and n_critic >= 1, got ${k}, ${nCritic}`);
    if (this.lazyEvery > 1) throw new Error('fused iterations run the penalty on every critic step; lazy regularization runs one step per run');
    const p = new ProgramBuilder('fused_steps');
    const B = this.setup.batch;
    const nets = { G: this.netInputs(p, 'G'), D: this.netInputs(p, 'D') };
    const real = p.draw('real', { dist: 'data', shape: [this.draws, ...this.sampleShape], steps: 'all' }, [k, nCritic + 1]);
    const labels = this.classes ? p.draw('labels', { dist: 'labels', shape: [B], steps: 'all' }, [k, nCritic + 1]) : null;
    const z = p.draw('z', { dist: 'normal', shape: [this.draws, this.latent], steps: 'all' }, [k, nCritic + 1]);
    const stateNames = [...this.states.keys()];
    const carried: Record<string, Value> = {};
    for (const n of ['G', 'D'] as Net[]) {
      carried[names.param(n)] = nets[n].params;
      this.opt[n].slots.forEach((s, j) => (carried[names.slot(n, s)] = nets[n].slots[j]));
      carried[names.counter(n)] = nets[n].step;
    }
    for (const s of stateNames) carried[names.state(s)] = p.input({ name: names.state(s), role: 'state', state: s, shape: this.states.get(s)!.shape });
    // A loss's random inputs appear as the body first asks for them, stacked per step kind.
    const stacks = new Map<string, Value>();
    const stacked = (net: Net, name: string, dist: RandomDist, shape: number[]) => {
      const key = `${net}.${name}`;
      if (!stacks.has(key)) stacks.set(key, net === 'D' ? p.draw(key, { dist, shape, steps: 'critic' }, [k, nCritic]) : p.draw(key, { dist, shape, steps: 'generator' }, [k]));
      return stacks.get(key)!;
    };

    const { final, scans } = (opts.unroll ? unrolled : loop)(p.g, k, carried, (i, cur) => {
      const current = new Map(Object.entries(cur));
      const scope: StateScope = { read: (name) => current.get(names.state(name))!, write: (name, v) => void current.set(names.state(name), v) };
      const netIn = (n: Net): NetIn => ({ params: current.get(names.param(n))!, slots: this.opt[n].slots.map((s) => current.get(names.slot(n, s))!), step: current.get(names.counter(n))!, lr: nets[n].lr });
      const keep = (n: Net, out: NetOut) => {
        current.set(names.param(n), out.params);
        this.opt[n].slots.forEach((s, j) => current.set(names.slot(n, s), out.slots[j]));
        current.set(names.counter(n), out.step);
      };
      const realI = gather(real, i);
      const labelsI = labels && gather(labels, i);
      const zI = gather(z, i);
      const at = (c: number) => i.graph.constant({ dtype: 'int64', dims: [], data: new BigInt64Array([BigInt(c)]) }, 'c');
      const drawsAt = (c: number, random: Random): Draws => ({ real: gather(realI, at(c)), z: gather(zI, at(c)), labels: labelsI && gather(labelsI, at(c)), random });
      let logs: Record<string, Value> = {};
      for (let c = 0; c < nCritic; c++) {
        const random: Random = (name, dist, shape) => gather(gather(stacked('D', name, dist, shape), i), at(c));
        const r = this.update('D', netIn('D'), current.get(names.param('G'))!, drawsAt(c, random), scope);
        keep('D', r.net);
        logs = r.logs;
      }
      const random: Random = (name, dist, shape) => gather(stacked('G', name, dist, shape), i);
      const rg = this.update('G', netIn('G'), current.get(names.param('D'))!, drawsAt(nCritic, random), scope);
      keep('G', rg.net);
      logs = { ...logs, ...rg.logs };
      const ok = finite([...Object.values(logs), current.get(names.param('G'))!, current.get(names.param('D'))!]);
      return { next: Object.fromEntries(Object.keys(cur).map((key) => [key, current.get(key)!])), scans: { ...logs, ok } };
    }, 'iteration');

    for (const n of ['G', 'D'] as Net[])
      p.netOutputs(n, this.opt[n].slots, { params: final[names.param(n)], slots: this.opt[n].slots.map((s) => final[names.slot(n, s)]), step: final[names.counter(n)] });
    for (const s of stateNames) p.output(final[names.state(s)], { name: names.next(names.state(s)), role: 'state', state: s });
    const { ok, ...logs } = scans;
    this.logOutputs(p, logs);
    p.output(ok, { name: 'ok', role: 'ok' });
    return p.build({ k, nCritic }, this.options);
  }
}
