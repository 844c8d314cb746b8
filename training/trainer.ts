// Sessions over compiled step programs, fed and read through their signatures: one iteration (n_critic
// critic runs and a generator run), K iterations in one fused run, and sampling. Everything random is a
// pure function of (seed, iteration), so a resumed run repeats an uninterrupted one exactly. No Node-only
// import here: a browser page runs the same trainer.
import type { DataSource } from '../data/source.ts';
import { initParams } from '../models/model.ts';
import { Rng } from '../data/random.ts';
import { fromBytes } from '../graph/serialize.ts';
import { carriedOutputs, DeviceState } from './device-state.ts';
import type { Runtime, Session } from '../runtime/runtime.ts';
import { drawBlock, drawStep, iterationRng, type NetState, type ProgramState } from './signature.ts';
import { Shards } from './shards.ts';
import type { StepKey, StepRunner } from './step-runner.ts';
import { StepCompiler, type GanSetup, type Net, type StepPlan, type StepProgram } from './step.ts';
import { Sampler } from './sampler.ts';

export type { DataSource } from '../data/source.ts';
export type { NetState } from './signature.ts';

export interface TrainState {
  /** Generator iterations completed. */
  iteration: number;
  G: NetState;
  D: NetState;
  /** Carried state that is not trained (a loss's multiplier, spectral norm's vectors), by name. */
  states: Record<string, Float32Array>;
}

export interface IterationLog {
  iteration: number;
  /** Last value of each logged scalar in this iteration. */
  values: Record<string, number>;
  ok: boolean;
}

/** What a trainer runs against, however its step programs were made. */
export interface RunOptions {
  runtime: Runtime;
  data: DataSource;
  seed: number;
  /** Critic steps before generator iteration `it` (0-based). */
  nCritic: (it: number) => number;
  threads?: number;
  /**
   * Data parallel: each step's batch in this many shards, each in a process of its own (training/shards.ts;
   * runtimes that fork: Node's CPU). 1 (the default) runs each step as one program here.
   */
  shards?: number;
}

export interface TrainerOptions extends RunOptions {
  setup: GanSetup;
  /** The setup's compiler, where the caller made one already (its plan is compiled once). */
  compiler?: StepCompiler;
}

/** A loss's critic-step schedule as data (artifacts carry it): a constant, or WGAN's warm-up schedule. */
export interface CriticSchedule {
  base: number;
  /** martinarjovsky/WassersteinGAN: 100 critic steps for the first 25 generator steps and every 500th. */
  wgan: boolean;
}

export function criticSchedule(s: CriticSchedule): (it: number) => number {
  return s.wgan ? (it) => (it < 25 || it % 500 === 0 ? 100 : s.base) : () => s.base;
}

/** A data set the critic cannot take is refused before anything runs, naming both shapes. */
export function checkDataShape(data: DataSource, criticInput: number[], classes = 0): void {
  if (data.shape.join('x') !== criticInput.join('x')) throw new Error(`data set '${data.name}' has samples of shape [${data.shape}], the critic takes [${criticInput}]`);
  if (classes && !data.sampleLabelled) throw new Error(`the models are class-conditional and data set '${data.name}' has no labels`);
  if (classes && data.classes!.length !== classes) throw new Error(`the models are conditional on ${classes} classes, data set '${data.name}' has ${data.classes!.length}`);
}

/**
 * A sample grid's inputs from fixed noise: `cols` latent vectors; a conditional generator gets one row per
 * class, each row the same vectors, so a column shows one latent across the classes.
 */
export function gridInputs(plan: Pick<StepPlan, 'latent' | 'classes'>, cols: number, rows = cols): { z: Float32Array; labels?: Float32Array; cols: number } {
  const n = plan.classes ? cols : cols * rows;
  const base = Rng.stream(0, 'grid').fillNormal(new Float32Array(n * plan.latent));
  if (!plan.classes) return { z: base, cols };
  const z = new Float32Array(plan.classes * base.length);
  for (let k = 0; k < plan.classes; k++) z.set(base, k * base.length);
  return { z, labels: Float32Array.from({ length: plan.classes * cols }, (_, i) => Math.floor(i / cols)), cols };
}

/** A deep copy: what a rollback returns to, what a checkpoint store keeps. */
export function cloneState(s: TrainState): TrainState {
  const net = (n: NetState) => ({ ...n, params: n.params.slice(), slots: n.slots.map((x) => x.slice()) });
  return { iteration: s.iteration, G: net(s.G), D: net(s.D), states: Object.fromEntries(Object.entries(s.states).map(([k, v]) => [k, v.slice()])) };
}

/**
 * The most nodes an unrolled fused program may have (providers without Loop write K iterations out);
 * K is cut to fit. Session creation and graph optimization grow with the nodes.
 */
export const UNROLLED_NODES = 6000;

export class Trainer {
  private fused = new Map<string, { program: StepProgram; session: Session }>();
  /** Nodes of the critic and generator step graphs, for fuseLimit. */
  private stepNodes: number[] | null = null;
  private sampler: Sampler | null = null;
  /** Draws of the next block, made while the current one runs. */
  private prefetched: { key: string; start: number; draws: Record<string, Float32Array> } | null = null;

  private constructor(
    readonly opts: RunOptions,
    readonly plan: StepPlan,
    /** The step programs' sessions here, or (data parallel) the shards that run each step instead. */
    private readonly steps: StepRunner,
    /** Present when the programs were compiled here: initial weights and fused programs need the models. */
    readonly compiler: StepCompiler | null,
    /** Parameters, slots and states left on the device by the last runs (runtimes with device memory). */
    private readonly device = new DeviceState(),
  ) {}

  /** Compile the setup's step programs and open sessions on them (or on their shards). */
  static async create(opts: TrainerOptions): Promise<Trainer> {
    const compiler = opts.compiler ?? new StepCompiler(opts.setup);
    const plan = compiler.plan();
    if ((opts.shards ?? 1) === 1) return Trainer.fromPlan(plan, opts, compiler);
    if (plan.lazy) throw new Error(`shards ${opts.shards}: data-parallel shards run the critic's penalty on every step; lazy regularization (--penalty-every) runs in one process`);
    checkDataShape(opts.data, plan.sampleShape, plan.classes);
    const shards = await Shards.open(compiler, { D: plan.critic.signature, G: plan.generator.signature }, opts.shards!, opts.runtime, opts.threads);
    return new Trainer(opts, plan, shards, compiler);
  }

  /** Open sessions on step programs made elsewhere (training artifacts). */
  static async fromPlan(plan: StepPlan, opts: RunOptions, compiler: StepCompiler | null = null): Promise<Trainer> {
    if ((opts.shards ?? 1) !== 1) throw new Error(`shards ${opts.shards}: data parallel compiles its programs from the models; these step programs were loaded from files`);
    checkDataShape(opts.data, plan.sampleShape, plan.classes);
    const open = (p: StepProgram) => opts.runtime.createSession(p.model, { threads: opts.threads, keep: carriedOutputs(p.signature) });
    const programs: Partial<Record<StepKey, StepProgram>> = { D: plan.critic, G: plan.generator, ...(plan.lazy ? { 'D.lazy': plan.lazy.critic } : {}) };
    const keys = Object.keys(programs) as StepKey[];
    const opened = await Promise.all(keys.map((k) => open(programs[k]!)));
    const sessions = Object.fromEntries(keys.map((k, i) => [k, opened[i]])) as Record<StepKey, Session>;
    const device = new DeviceState();
    const local: StepRunner = {
      fusable: true,
      step: (k, state, draws) => device.run(sessions[k], programs[k]!.signature, state, draws),
      release: async () => void (await Promise.all(opened.map((s) => s.release()))),
    };
    return new Trainer(opts, plan, local, compiler, device);
  }

  /** Whether K iterations can run in one fused program (compiled from the models, not loaded; not sharded). */
  get canFuse(): boolean {
    return this.compiler !== null && this.steps.fusable && !this.plan.lazy;
  }

  /**
   * The program of critic update number `u` (counted over the run, as the optimizer counts them): with lazy
   * regularization the one with the penalties every k-th update, the one without between.
   */
  private criticFor(u: number): { key: StepKey; program: StepProgram } {
    const lazy = this.plan.lazy;
    return lazy && u % lazy.every !== 0 ? { key: 'D.lazy', program: lazy.critic } : { key: 'D', program: this.plan.critic };
  }

  /** The largest K a fused run of iterations with nC critic steps may have: any with a Loop, else what fits UNROLLED_NODES. */
  fuseLimit(nC: number): number {
    if (this.opts.runtime.loops) return Infinity;
    this.stepNodes ??= [this.plan.critic, this.plan.generator].map((p) => fromBytes(p.model).graph.nodes.length);
    const [critic, generator] = this.stepNodes;
    return Math.max(1, Math.floor(UNROLLED_NODES / (nC * critic + generator)));
  }

  /** Bring state left on the device back into `state` (before a checkpoint, at the end of a run). */
  pull(state: ProgramState): Promise<void> {
    return this.device.pull(state);
  }

  private need(what: string): StepCompiler {
    if (!this.compiler) throw new Error(`${what} needs the models themselves; this trainer runs step programs loaded from files`);
    return this.compiler;
  }

  initialState(): TrainState {
    const compiler = this.need('an initial state');
    const setup = compiler.setup;
    const rng = Rng.stream(this.opts.seed, 'init');
    const net = (n: Net): NetState => {
      const params = initParams(n === 'G' ? setup.generator : setup.critic, rng);
      return { params, slots: this.plan.nets[n].slots.map(() => new Float32Array(params.length)), step: 0, lr: (n === 'G' ? setup.optG : setup.optD).lr };
    };
    const G = net('G');
    const D = net('D');
    const states: Record<string, Float32Array> = {};
    for (const [name, spec] of compiler.states) states[name] = spec.init(rng, { params: { G: G.params, D: D.params }, states });
    return { iteration: 0, G, D, states };
  }

  /** One generator iteration with its critic steps, one run each. Mutates `state`. */
  async iteration(state: TrainState): Promise<IterationLog> {
    const rng = iterationRng(this.opts.seed, state.iteration);
    const values: Record<string, number> = {};
    let ok = true;
    const nC = this.opts.nCritic(state.iteration);
    // Critic update c of this iteration is update number D.step + c of the run.
    const updates = state.D.step;
    const which = (c: number) => (c < nC ? this.criticFor(updates + c) : { key: 'G' as const, program: this.plan.generator });
    const program = (c: number) => which(c).program.signature;
    const run = (c: number, draws: Record<string, Float32Array>) => this.steps.step(which(c).key, state, draws);
    // Each step's draws are made while the previous step runs (run() is asynchronous): same order, no wait.
    let draws = drawStep(program(0), rng, this.opts.data);
    for (let c = 0; c <= nC; c++) {
      const pending = run(c, draws);
      if (c < nC) draws = drawStep(program(c + 1), rng, this.opts.data);
      const r = await pending;
      Object.assign(values, r.values[0]);
      ok = r.ok[0] && ok;
    }
    state.iteration += 1;
    return { iteration: state.iteration, values, ok };
  }

  /**
   * K iterations in one run of a fused program; the same draws in the same order as K calls of
   * iteration(), so the parameters agree up to float rounding. Needs a constant n_critic over the K.
   */
  async fusedIterations(state: TrainState, k: number): Promise<IterationLog[]> {
    const nC = this.opts.nCritic(state.iteration);
    for (let j = 1; j < k; j++) if (this.opts.nCritic(state.iteration + j) !== nC) throw new Error('fused iterations need a constant n_critic over the block');
    const { program, session } = await this.fusedFor(k, nC);
    const sig = program.signature;
    const start = state.iteration;
    const key = `${k}/${nC}`;
    const hit = this.prefetched;
    const draws = hit && hit.key === key && hit.start === start ? hit.draws : drawBlock(sig, this.opts.seed, start, this.opts.data);
    const pending = this.device.run(session, sig, state, draws);
    // The next block's draws depend only on its iteration numbers: make them while this block runs.
    this.prefetched = { key, start: start + k, draws: drawBlock(sig, this.opts.seed, start + k, this.opts.data) };
    const r = await pending;
    state.iteration += k;
    return r.values.map((values, it) => ({ iteration: start + it + 1, values, ok: r.ok[it] }));
  }

  private async fusedFor(k: number, nC: number) {
    const key = `${k}/${nC}`;
    let hit = this.fused.get(key);
    if (!hit) {
      const program = this.need('fused iterations').fusedProgram(k, nC, { unroll: !this.opts.runtime.loops });
      hit = { program, session: await this.opts.runtime.createSession(program.model, { threads: this.opts.threads, keep: carriedOutputs(program.signature) }) };
      this.fused.set(key, hit);
    }
    return hit;
  }

  /**
   * Generator outputs in inference mode for the given latent vectors ([n, latent] row-major) and, for a
   * class-conditional generator, each one's class; run with the trainer's state where it lies (on a device).
   */
  generate(state: TrainState, z: Float32Array, labels?: ArrayLike<number>): Promise<Float32Array> {
    this.sampler ??= new Sampler(this.plan, this.opts.runtime.createSession(this.plan.sampler.model, { threads: this.opts.threads }), this.device);
    return this.sampler.generate(state, z, labels);
  }

  async release(): Promise<void> {
    // Device tensors first: freeing one after the session that made it is gone crashes onnxruntime-node.
    this.device.release();
    await this.steps.release();
    if (this.sampler) await this.sampler.release();
    for (const f of this.fused.values()) await f.session.release();
  }
}
