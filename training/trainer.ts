// The host loop: draw this iteration's randomness, run the step graphs, keep the returned state.
// Everything random is a pure function of (seed, iteration), so a resumed run repeats an uninterrupted
// one exactly. No Node-only import here: a browser page runs the same trainer.
import type { TensorData } from '../graph/ir.ts';
import { initParams } from '../models/model.ts';
import { Rng } from '../models/random.ts';
import type { Feeds, Runtime, Session } from './runtime.ts';
import { io, StepCompiler, type GanSetup, type Net, type RandomInput, type StepPlan, type StepProgram } from './step.ts';

/** Where real samples come from. */
export interface DataSource {
  readonly name: string;
  /** Per-sample shape, as the critic takes it. */
  readonly shape: number[];
  /** n samples drawn with rng, flattened row-major. */
  sample(rng: Rng, n: number): Float32Array;
}

export interface NetState {
  params: Float32Array;
  slots: Float32Array[];
  /** Updates applied so far. */
  step: number;
  lr: number;
}

export interface TrainState {
  /** Generator iterations completed. */
  iteration: number;
  G: NetState;
  D: NetState;
  /** Carried state that is not trained (a loss's multiplier, spectral norm's vectors), by name. */
  extra: Record<string, Float32Array>;
}

export interface IterationLog {
  iteration: number;
  /** Last value of each logged scalar in this iteration. */
  values: Record<string, number>;
  ok: boolean;
}

/** What a trainer runs against, however its step graphs were made. */
export interface RunOptions {
  runtime: Runtime;
  data: DataSource;
  seed: number;
  /** Critic steps before generator iteration `it` (0-based). */
  nCritic: (it: number) => number;
  threads?: number;
}

export interface TrainerOptions extends RunOptions {
  setup: GanSetup;
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

const f32 = (dims: number[], data: Float32Array): TensorData => ({ dtype: 'float32', dims, data });
const scalarF = (x: number): TensorData => f32([], new Float32Array([x]));

/** A data set the critic cannot take is refused before anything runs, naming both shapes. */
export function checkDataShape(data: DataSource, criticInput: number[]): void {
  if (data.shape.join('x') !== criticInput.join('x')) throw new Error(`data set '${data.name}' has samples of shape [${data.shape}], the critic takes [${criticInput}]`);
}

export class Trainer {
  private fused = new Map<number, { program: StepProgram; session: Session }>();

  private constructor(
    readonly opts: RunOptions,
    readonly plan: StepPlan,
    private readonly criticSession: Session,
    private readonly generatorSession: Session,
    /** Present when the graphs were compiled here: initial weights and fused programs need the models. */
    readonly compiler: StepCompiler | null,
  ) {}

  /** Compile the setup's step graphs and open sessions on them. */
  static async create(opts: TrainerOptions): Promise<Trainer> {
    const compiler = new StepCompiler(opts.setup);
    return Trainer.fromPlan(compiler.plan(), opts, compiler);
  }

  /** Open sessions on step graphs made elsewhere (training artifacts). */
  static async fromPlan(plan: StepPlan, opts: RunOptions, compiler: StepCompiler | null = null): Promise<Trainer> {
    checkDataShape(opts.data, plan.sampleShape);
    const so = { threads: opts.threads };
    const [cs, gs] = await Promise.all([opts.runtime.createSession(plan.critic.model, so), opts.runtime.createSession(plan.generator.model, so)]);
    return new Trainer(opts, plan, cs, gs, compiler);
  }

  get critic(): StepProgram {
    return this.plan.critic;
  }
  get generator(): StepProgram {
    return this.plan.generator;
  }

  private need(what: string): StepCompiler {
    if (!this.compiler) throw new Error(`${what} needs the models themselves; this trainer runs step graphs loaded from files`);
    return this.compiler;
  }

  initialState(): TrainState {
    const compiler = this.need('an initial state');
    const setup = compiler.setup;
    const rng = Rng.stream(this.opts.seed, 'init');
    const net = (n: Net): NetState => {
      const model = n === 'G' ? setup.generator : setup.critic;
      const params = initParams(model, rng);
      return { params, slots: this.plan.nets[n].slots.map(() => new Float32Array(params.length)), step: 0, lr: (n === 'G' ? setup.optG : setup.optD).lr };
    };
    const G = net('G');
    const D = net('D');
    const extra: Record<string, Float32Array> = {};
    for (const [name, spec] of compiler.states) extra[name] = spec.init(rng);
    return { iteration: 0, G, D, extra };
  }

  // ---- randomness ---------------------------------------------------------------------------------

  private draw(rng: Rng, randoms: RandomInput[]) {
    const B = this.plan.batch;
    const real = this.opts.data.sample(rng, B);
    const z = rng.fillNormal(new Float32Array(B * this.plan.latent));
    const extra = randoms.map((r) => {
      const out = new Float32Array(r.shape.reduce((a, b) => a * b, 1));
      return r.dist === 'uniform' ? rng.fillUniform(out) : rng.fillNormal(out);
    });
    return { real, z, extra };
  }

  // ---- one iteration, step by step ----------------------------------------------------------------

  private netFeeds(n: Net, s: NetState, stepForThisUpdate: number): Feeds {
    const size = s.params.length;
    const feeds: Feeds = { [io.params(n)]: f32([size], s.params), [io.step(n)]: scalarF(stepForThisUpdate), [io.lr(n)]: scalarF(s.lr) };
    this.plan.nets[n].slots.forEach((slot, i) => (feeds[io.slot(n, slot)] = f32([size], s.slots[i])));
    return feeds;
  }

  private absorb(n: Net, s: NetState, out: Feeds): void {
    s.params = out[io.updated(io.params(n))].data as Float32Array;
    this.plan.nets[n].slots.forEach((slot, i) => (s.slots[i] = out[io.updated(io.slot(n, slot))].data as Float32Array));
    s.step += 1;
  }

  private stateFeeds(p: StepProgram, state: TrainState): Feeds {
    return this.stateInputs(p.stateIn, state);
  }

  private stateInputs(names: string[], state: TrainState): Feeds {
    const shape = (n: string) => this.plan.states.find((s) => s.name === n)!.shape;
    return Object.fromEntries(names.map((n) => [io.state(n), f32(shape(n), state.extra[n])]));
  }

  private absorbState(p: StepProgram, state: TrainState, out: Feeds): void {
    for (const n of p.stateOut) state.extra[n] = out[io.updated(io.state(n))].data as Float32Array;
  }

  private randomFeeds(randoms: RandomInput[], extra: Float32Array[]): Feeds {
    return Object.fromEntries(randoms.map((r, i) => [r.name, f32(r.shape, extra[i])]));
  }

  private program(n: Net): StepProgram {
    return n === 'D' ? this.critic : this.generator;
  }

  /** Feeds for one update of network n: its state, the other network's parameters, this step's draws. */
  private stepFeeds(n: Net, state: TrainState, r: ReturnType<Trainer['draw']>): Feeds {
    const other: Net = n === 'D' ? 'G' : 'D';
    const p = this.program(n);
    return {
      ...this.netFeeds(n, state[n], state[n].step + 1),
      [io.params(other)]: f32([this.plan.nets[other].size], state[other].params),
      [io.real]: f32([this.plan.batch, ...this.plan.sampleShape], r.real),
      [io.z]: f32([this.plan.batch, this.plan.latent], r.z),
      ...this.randomFeeds(p.randoms, r.extra),
      ...this.stateFeeds(p, state),
    };
  }

  /** Keep what one update of network n returned; its logged scalars go into `values`. Returns the ok flag. */
  private takeStep(n: Net, state: TrainState, out: Feeds, values: Record<string, number>): boolean {
    const p = this.program(n);
    this.absorb(n, state[n], out);
    this.absorbState(p, state, out);
    for (const k of p.logs) values[k] = (out[k].data as Float32Array)[0];
    return (out[io.ok].data as Uint8Array)[0] === 1;
  }

  /** One generator iteration with its critic steps. Mutates `state`; returns the logged scalars. */
  async iteration(state: TrainState): Promise<IterationLog> {
    const rng = Rng.stream(this.opts.seed, 'iteration', state.iteration);
    const values: Record<string, number> = {};
    let ok = true;
    const nC = this.opts.nCritic(state.iteration);
    // Each step's draws are made while the previous step runs (run() is asynchronous): same order, no wait.
    let draws = this.draw(rng, nC > 0 ? this.critic.randoms : this.generator.randoms);
    for (let c = 0; c < nC; c++) {
      const pending = this.criticSession.run(this.stepFeeds('D', state, draws));
      draws = this.draw(rng, c + 1 < nC ? this.critic.randoms : this.generator.randoms);
      ok = this.takeStep('D', state, await pending, values) && ok;
    }
    ok = this.takeStep('G', state, await this.generatorSession.run(this.stepFeeds('G', state, draws)), values) && ok;
    state.iteration += 1;
    return { iteration: state.iteration, values, ok };
  }

  // ---- K iterations in one Loop -------------------------------------------------------------------

  /**
   * K iterations in one session call; the same draws in the same order as K calls of iteration(), so the
   * parameters agree up to float rounding. Needs a constant n_critic over the K iterations.
   */
  async fusedIterations(state: TrainState, k: number): Promise<IterationLog[]> {
    const nC = this.opts.nCritic(state.iteration);
    for (let j = 1; j < k; j++)
      if (this.opts.nCritic(state.iteration + j) !== nC) throw new Error('fused iterations need a constant n_critic over the block');
    const { program, session } = await this.fusedFor(k, nC);
    const start = state.iteration;
    const hit = this.prefetched;
    const draws = hit && hit.start === start && hit.k === k && hit.nC === nC ? hit.feeds : this.fusedDraws(start, k, nC);
    const pending = session.run({ ...this.netFeeds('G', state.G, state.G.step), ...this.netFeeds('D', state.D, state.D.step), ...this.stateFeeds(program, state), ...draws });
    // The next block's draws depend only on its iteration numbers: make them while this block runs.
    this.prefetched = { start: start + k, k, nC, feeds: this.fusedDraws(start + k, k, nC) };
    const out = await pending;
    for (const n of ['G', 'D'] as Net[]) {
      const s = state[n];
      s.params = out[io.updated(io.params(n))].data as Float32Array;
      this.plan.nets[n].slots.forEach((slot, i) => (s.slots[i] = out[io.updated(io.slot(n, slot))].data as Float32Array));
      s.step = (out[io.updated(io.step(n))].data as Float32Array)[0];
    }
    this.absorbState(program, state, out);
    const oks = out[io.ok].data as Uint8Array;
    const logs: IterationLog[] = [];
    for (let it = 0; it < k; it++) {
      const values: Record<string, number> = {};
      for (const name of program.logs) values[name] = (out[name].data as Float32Array)[it];
      logs.push({ iteration: start + it + 1, values, ok: oks[it] === 1 });
    }
    state.iteration += k;
    return logs;
  }

  private prefetched: { start: number; k: number; nC: number; feeds: Feeds } | null = null;

  /** Every draw of iterations [start, start + k), stacked in the order iteration() makes them. */
  private fusedDraws(start: number, k: number, nC: number): Feeds {
    const B = this.plan.batch;
    const sample = this.plan.sampleShape.reduce((a, b) => a * b, 1);
    const L = this.plan.latent;
    const real = new Float32Array(k * (nC + 1) * B * sample);
    const z = new Float32Array(k * (nC + 1) * B * L);
    const cr = this.critic.randoms;
    const gr = this.generator.randoms;
    const size = (r: RandomInput) => r.shape.reduce((a, b) => a * b, 1);
    const critStacks = cr.map((r) => new Float32Array(k * nC * size(r)));
    const genStacks = gr.map((r) => new Float32Array(k * size(r)));
    for (let it = 0; it < k; it++) {
      const rng = Rng.stream(this.opts.seed, 'iteration', start + it);
      for (let c = 0; c <= nC; c++) {
        const d = this.draw(rng, c < nC ? cr : gr);
        const slot = it * (nC + 1) + c;
        real.set(d.real, slot * B * sample);
        z.set(d.z, slot * B * L);
        d.extra.forEach((e, i) => (c < nC ? critStacks[i].set(e, (it * nC + c) * size(cr[i])) : genStacks[i].set(e, it * size(gr[i]))));
      }
    }
    const feeds: Feeds = {
      [io.real]: f32([k, nC + 1, B, ...this.plan.sampleShape], real),
      [io.z]: f32([k, nC + 1, B, L], z),
    };
    cr.forEach((r, i) => (feeds[`D.${r.name}`] = f32([k, nC, ...r.shape], critStacks[i])));
    gr.forEach((r, i) => (feeds[`G.${r.name}`] = f32([k, ...r.shape], genStacks[i])));
    return feeds;
  }

  private async fusedFor(k: number, nC: number) {
    const key = k * 100000 + nC;
    let hit = this.fused.get(key);
    if (!hit) {
      const program = this.need('fused iterations').fusedProgram(k, nC, this.critic.randoms, this.generator.randoms);
      hit = { program, session: await this.opts.runtime.createSession(program.model, { threads: this.opts.threads }) };
      this.fused.set(key, hit);
    }
    return hit;
  }

  // ---- sampling -----------------------------------------------------------------------------------

  private sampler: Session | null = null;

  /** Generator outputs in inference mode for the given latent vectors ([n, latent] row-major). */
  async generate(state: TrainState, z: Float32Array): Promise<Float32Array> {
    if (!this.sampler) this.sampler = await this.opts.runtime.createSession(this.plan.sampler.model, { threads: this.opts.threads });
    const n = z.length / this.plan.latent;
    const out = await this.sampler.run({ [io.params('G')]: f32([state.G.params.length], state.G.params), [io.z]: f32([n, this.plan.latent], z), ...this.stateInputs(this.plan.sampler.stateIn, state) });
    return out.samples.data as Float32Array;
  }

  async release(): Promise<void> {
    await this.criticSession.release();
    await this.generatorSession.release();
    if (this.sampler) await this.sampler.release();
    for (const f of this.fused.values()) await f.session.release();
  }
}
